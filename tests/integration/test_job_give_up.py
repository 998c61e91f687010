"""When RQ gives up on a job, its row says so and the page offers a retry.

A job whose YouTube calls keep failing is retried by RQ; after the last
retry nothing else would touch its row, and a sync would say "Syncing…"
forever (blocking every later sync of the channel), a suggestion would stay
'applying'. jobs/failures.py's failure callbacks act on the last failure.
The retry waits (minutes) are not waited out: the job is marked as being on
its last attempt in RQ's own job record (retries_left = 0), which is what RQ
itself sees after the earlier retries; our code is not patched.
"""

from __future__ import annotations

import psutil
import redis
from rq.job import Job

from jobs.enqueue import enqueue_apply
from tests.fakes.google import fake_google_fixture
from tests.faults.test_apply_killed import _accepted_suggestion, _synced_video
from tests.helpers import POLLING, csrf_from
from tests.integration.optimize_helpers import start_worker, stop_process
from tests.integration.youtube_helpers import channel_pk, page_text, query, run_worker_burst, start_sync

fake_google = fake_google_fixture()


def _last_attempt(config: dict, job_id: str) -> None:
    connection = redis.Redis.from_url(config["REDIS_URL"])
    job = Job.fetch(job_id, connection=connection)
    job.retries_left = 0
    job.save()
    connection.close()


def test_an_apply_that_keeps_failing_ends_failed_with_a_retry_that_works(creator, fake_google, yt_config):
    yt_id, video_pk = _synced_video(creator, fake_google, yt_config)
    suggestion = _accepted_suggestion(video_pk)
    [(channel_id, run_id)] = query(
        yt_config,
        "SELECT v.channel_id, s.run_id FROM suggestions s JOIN videos v ON v.id = s.video_id WHERE s.id = %s",
        (suggestion,),
    )
    run_url = f"/channels/{channel_id}/runs/{run_id}"
    token = csrf_from(creator.get(run_url).get_data(as_text=True))
    assert (
        creator.post(f"/channels/{channel_id}/suggestions/{suggestion}/apply", data={"csrf_token": token}).status_code
        == 303
    )
    _last_attempt(yt_config, f"apply-suggestion-{suggestion}")
    fake_google.faults.inject("backendError", times=50, endpoint="videos.list")

    assert run_worker_burst(yt_config).returncode == 0
    [(status, error)] = query(yt_config, "SELECT status, apply_error FROM suggestions WHERE id = %s", (suggestion,))
    assert status == "failed" and "could not be applied after several attempts (backendError)" in error
    assert fake_google.requests_to("/videos", "PUT") == []
    page = creator.get(f"/channels/{channel_id}/suggestions/{suggestion}").get_data(as_text=True)
    assert "could not be applied after several attempts" in page and "You can try again below." in page
    assert "Apply to YouTube" in page
    assert POLLING not in page  # the page stops polling

    fake_google.faults.clear()
    assert (
        creator.post(f"/channels/{channel_id}/suggestions/{suggestion}/apply", data={"csrf_token": token}).status_code
        == 303
    )
    assert run_worker_burst(yt_config).returncode == 0
    assert query(yt_config, "SELECT status, apply_error FROM suggestions WHERE id = %s", (suggestion,)) == [
        ("applied", None)
    ]
    assert (
        fake_google.world.video(yt_id).title
        == query(yt_config, "SELECT approved_title FROM suggestions WHERE id = %s", (suggestion,))[0][0]
    )


def test_a_sync_that_keeps_failing_ends_failed_and_does_not_block_the_next(creator, fake_google, yt_config):
    _synced_video(creator, fake_google, yt_config)
    [(channel_id,)] = query(yt_config, "SELECT id FROM channels")
    response = start_sync(creator, channel_id)
    assert response.status_code == 302, page_text(response)
    [(sync_id,)] = query(yt_config, "SELECT max(id) FROM sync_runs")
    _last_attempt(yt_config, f"sync-run-{sync_id}")
    fake_google.faults.inject("backendError", times=50, endpoint="playlistItems.list")

    assert run_worker_burst(yt_config).returncode == 0
    [(status, error)] = query(yt_config, "SELECT status, error FROM sync_runs WHERE id = %s", (sync_id,))
    assert status == "failed" and "Press Sync now to try again" in error
    page = creator.get(f"/channels/{channel_id}").get_data(as_text=True)
    assert "The last sync failed" in page and "Syncing:" not in page

    fake_google.faults.clear()
    assert start_sync(creator, channel_id).status_code == 302  # not refused as "a sync is already running"
    assert run_worker_burst(yt_config).returncode == 0
    assert query(yt_config, "SELECT status FROM sync_runs ORDER BY id DESC LIMIT 1") == [("succeeded",)]
    assert channel_pk(yt_config, query(yt_config, "SELECT youtube_channel_id FROM channels")[0][0]) == channel_id


def test_a_work_horse_killed_on_the_last_attempt_leaves_the_suggestion_failed(
    creator, fake_google, yt_config, tmp_path
):
    """RQ runs no failure callback when a work horse dies (killed, out of
    memory); the worker does, so the page does not say "Applying…" forever."""
    _, video_pk = _synced_video(creator, fake_google, yt_config)
    suggestion = _accepted_suggestion(video_pk, "applying")
    connection = redis.Redis.from_url(yt_config["REDIS_URL"])
    enqueue_apply(connection, suggestion)
    connection.close()
    _last_attempt(yt_config, f"apply-suggestion-{suggestion}")
    hang = fake_google.faults.hang("videos.update", timeout_s=60)
    with open(tmp_path / "worker.log", "w") as log:
        worker = start_worker(yt_config, burst=True, log=log)
        try:
            assert hang.wait_reached(60), "the worker never reached videos.update"
            horses = psutil.Process(worker.pid).children()
            assert horses, "no work horse"
            for horse in horses:  # a burst worker runs no scheduler process: its one child is the horse
                horse.kill()
            hang.release()
            assert worker.wait(60) == 0  # the worker itself carries on and finishes its burst
        finally:
            hang.release()
            stop_process(worker)
    [(status, error)] = query(yt_config, "SELECT status, apply_error FROM suggestions WHERE id = %s", (suggestion,))
    assert status == "failed" and "after several attempts (WorkHorseKilled)" in error
