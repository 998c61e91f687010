"""Sync runs against the fake YouTube API, each run by a real RQ worker in its
own process: quota cost, incremental changes and removals, quotaExceeded and
resuming, retries, one sync at a time, the daily budget, a killed worker."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from tests.fakes.google import fake_google_fixture
from tests.helpers import register
from tests.integration.youtube_helpers import (
    ROOT,
    channel_pk,
    connect_channel,
    page_text,
    query,
    run_worker_burst,
    start_sync,
    worker_env,
    youtube_app_config,
)

fake_google = fake_google_fixture()


def _connect(creator, fake, config, n_videos: int, title: str = "Alice Bakes"):
    channel = fake.world.add_channel("alice", title, n_videos=n_videos)
    response = connect_channel(creator, fake, "alice")
    assert response.status_code == 302, page_text(response)
    return channel_pk(config, channel.id), channel


def _work(config: dict) -> None:
    result = run_worker_burst(config)
    assert result.returncode == 0, result.stderr[-2000:]


def _runs(config: dict, channel_id: int) -> list[tuple]:
    return query(
        config,
        "SELECT id, status, kind, error, units_used FROM sync_runs WHERE channel_id = %s ORDER BY id",
        (channel_id,),
    )


def _stored(config: dict, channel_id: int, *, removed: bool = False) -> set[str]:
    rows = query(
        config,
        f"""SELECT youtube_video_id FROM videos
                             WHERE channel_id = %s AND removed_at IS {"NOT " if removed else ""}NULL""",
        (channel_id,),
    )
    return {video_id for (video_id,) in rows}


def _ledger_units(config: dict, run_id: int | None = None) -> int:
    # The Data API's units only: the Analytics API a finished sync queues has a quota of its own.
    where, params = ("AND sync_run_id = %s", (run_id,)) if run_id else ("", ())
    sql = f"SELECT coalesce(sum(units), 0) FROM quota_ledger WHERE api = 'youtube' {where}"
    [(units,)] = query(config, sql, params)
    return units


def _page_tokens(fake) -> list[str | None]:
    return [r.args.get("pageToken") for r in fake.requests_to("/playlistItems")]


def test_a_5000_video_channel_is_stored_whole_at_the_minimum_quota_cost(creator, fake_google, yt_config):
    channel_id, channel = _connect(creator, fake_google, yt_config, 5000)
    connect_units = fake_google.quota.used()

    assert start_sync(creator, channel_id).status_code == 302
    _work(yt_config)

    assert _stored(yt_config, channel_id) == set(channel.video_ids)
    [(run_id, status, kind, error, units)] = _runs(yt_config, channel_id)
    assert (status, kind, error) == ("succeeded", "full", None)
    assert units == 1 + 2 * math.ceil(5000 / 50) == 201
    assert _ledger_units(yt_config, run_id) == units
    assert fake_google.quota.used() - connect_units == units
    assert _ledger_units(yt_config) == fake_google.quota.used()  # the connect's channels.list is in our ledger too
    assert query(yt_config, "SELECT count(*) FROM metadata_versions") == [(5000,)]
    page = page_text(creator.get(f"/channels/{channel_id}"))
    assert "5,000 videos" in page
    assert "201 quota units" in page


def test_a_second_sync_updates_changes_and_marks_removed_videos(creator, fake_google, yt_config):
    channel_id, channel = _connect(creator, fake_google, yt_config, 120)
    start_sync(creator, channel_id)
    _work(yt_config)
    retitled, recounted, gone_1, gone_2 = (
        channel.video_ids[5],
        channel.video_ids[6],
        channel.video_ids[7],
        channel.video_ids[8],
    )
    gone_titles = {fake_google.world.video(gone_1).title, fake_google.world.video(gone_2).title}
    fake_google.world.update_video(retitled, title="Sourdough in 24 hours, step by step")
    fake_google.world.set_statistics(recounted, views=987_654, likes=4_321, comments=99)
    fake_google.world.delete_video(gone_1)
    fake_google.world.delete_video(gone_2)

    start_sync(creator, channel_id)
    _work(yt_config)

    [first, second] = _runs(yt_config, channel_id)
    assert first[1:3] == ("succeeded", "full")
    assert second[1:3] == ("succeeded", "incremental")
    assert _stored(yt_config, channel_id, removed=True) == {gone_1, gone_2}
    assert len(_stored(yt_config, channel_id)) == 118
    assert query(yt_config, "SELECT count(*) FROM videos WHERE channel_id = %s", (channel_id,)) == [(120,)]  # kept
    assert query(
        yt_config, "SELECT view_count, like_count, comment_count FROM videos WHERE youtube_video_id = %s", (recounted,)
    ) == [(987_654, 4_321, 99)]
    versions = query(
        yt_config,
        """SELECT v.youtube_video_id, count(*), (array_agg(m.title ORDER BY m.id DESC))[1]
                                   FROM metadata_versions m JOIN videos v ON v.id = m.video_id
                                   GROUP BY v.youtube_video_id HAVING count(*) > 1""",
    )
    assert versions == [(retitled, 2, "Sourdough in 24 hours, step by step")]  # only the changed title
    assert query(yt_config, "SELECT count(*) FROM metadata_versions") == [(121,)]
    assert query(yt_config, "SELECT video_count FROM channels WHERE id = %s", (channel_id,)) == [(118,)]
    removed_page = page_text(creator.get(f"/channels/{channel_id}?filter=removed"))
    assert "2 videos" in removed_page
    assert all(title in removed_page for title in gone_titles)
    assert "removed</span>" in removed_page


def test_quota_exceeded_mid_sync_stops_cleanly_and_the_next_sync_resumes(creator, fake_google, yt_config):
    channel_id, channel = _connect(creator, fake_google, yt_config, 500)
    # Enough for the connect, channels.list and three pages of (playlistItems + videos).
    fake_google.quota.daily_limit = fake_google.quota.used() + 1 + 2 * 3

    start_sync(creator, channel_id)
    _work(yt_config)

    [(first_run, status, _, error, _)] = _runs(yt_config, channel_id)
    assert status == "quota_exceeded"
    assert "quota is used up" in error
    newest_first = [v.id for v in fake_google.world.uploads(channel.id)]
    assert _stored(yt_config, channel_id) == set(newest_first[:150])  # every video of the three completed pages
    assert _stored(yt_config, channel_id, removed=True) == set()
    page = page_text(creator.get(f"/channels/{channel_id}"))
    assert "YouTube's daily quota is used up. The next sync resumes where this one stopped." in page
    assert "150 videos stored so far" in page
    assert "paused until quota resets" in page_text(creator.get("/channels"))
    first_tokens = _page_tokens(fake_google)
    assert len(first_tokens) == 4 and first_tokens[0] is None  # the fourth page was refused

    fake_google.quota.daily_limit = 10_000  # a new day's quota
    start_sync(creator, channel_id)
    _work(yt_config)

    [_, (second_run, status, _, error, _)] = _runs(yt_config, channel_id)
    assert (status, error) == ("succeeded", None)
    resumed_tokens = _page_tokens(fake_google)[len(first_tokens) :]
    assert resumed_tokens[0] == first_tokens[-1]  # straight to the page that was refused
    assert not set(first_tokens[:-1]) & set(resumed_tokens)  # completed pages are not fetched again
    assert len(resumed_tokens) == 10 - 3
    assert _stored(yt_config, channel_id) == set(channel.video_ids)
    assert _stored(yt_config, channel_id, removed=True) == set()
    assert _ledger_units(yt_config) == fake_google.quota.used()
    assert "Last sync finished" in page_text(creator.get(f"/channels/{channel_id}"))


def test_server_errors_and_rate_limits_are_retried_with_backoff(creator, fake_google, yt_config):
    channel_id, channel = _connect(creator, fake_google, yt_config, 120)
    fake_google.faults.inject("backendError", times=2, endpoint="videos.list")
    fake_google.faults.inject("rateLimitExceeded", times=1, endpoint="playlistItems.list")

    start_sync(creator, channel_id)
    _work(yt_config)

    assert [run[1] for run in _runs(yt_config, channel_id)] == ["succeeded"]
    assert _stored(yt_config, channel_id) == set(channel.video_ids)
    assert fake_google.faults.pending == 0
    videos_calls = fake_google.requests_to("/videos")
    assert len(videos_calls) == 3 + 2  # three pages, the first one tried three times
    first_page = [r.at for r in videos_calls if r.args["id"] == videos_calls[0].args["id"]]
    assert len(first_page) == 3
    gaps = [later - earlier for earlier, later in zip(first_page, first_page[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.45  # waits that grow (0.5 s base, doubling, with jitter)
    assert len(fake_google.requests_to("/playlistItems")) == 3 + 1


def test_one_sync_per_channel_at_a_time(creator, fake_google, yt_config):
    channel_id, _ = _connect(creator, fake_google, yt_config, 60)

    first = start_sync(creator, channel_id, htmx=True)
    second = start_sync(creator, channel_id, htmx=True)

    assert first.status_code == second.status_code == 200
    [(run_id, status, _, _, _)] = _runs(yt_config, channel_id)
    assert status == "queued"
    poll_url = f"/channels/{channel_id}/syncs/{run_id}"
    assert poll_url in first.get_data(as_text=True)
    assert poll_url in second.get_data(as_text=True)  # the second click shows the same run
    connection = redis.Redis.from_url(yt_config["REDIS_URL"])
    assert Queue("default", connection=connection).count == 1
    _work(yt_config)
    assert [run[1] for run in _runs(yt_config, channel_id)] == ["succeeded"]
    assert len(fake_google.requests_to("/channels")) == 1 + 1  # the connect, then one sync


def test_the_daily_budget_refuses_a_sync_it_cannot_cover(fake_google, app_config):
    from webapp import create_app

    config = {**youtube_app_config(app_config, fake_google), "YOUTUBE_DAILY_QUOTA": 15}
    client = create_app(config).test_client()
    register(client, "creator@example.com")
    channel = fake_google.world.add_channel("alice", "Alice Bakes", n_videos=500)
    # Before its first sync all we know is YouTube's count of public videos.
    public = len(fake_google.world.uploads(channel.id, include_non_public=False))
    needed = 1 + 2 * math.ceil(public / 50)
    assert needed > 15
    expected = f"This needs about {needed} YouTube quota units, but 1 of today's 15 are used."

    connected = connect_channel(client, fake_google, "alice")  # which would start the first sync
    assert f"Connected Alice Bakes. {expected}" in page_text(client.get(connected.headers["Location"]))
    channel_id = channel_pk(config, channel.id)
    response = start_sync(client, channel_id)

    assert expected in page_text(client.get(response.headers["Location"]))
    fragment = start_sync(client, channel_id, htmx=True)
    assert fragment.status_code == 429
    # htmx swaps no error response: the reason comes as the shared JSON error, which the page shows.
    assert fragment.mimetype == "application/json" and expected in fragment.get_json()["error"]["message"]
    assert _runs(config, channel_id) == []
    assert Queue("default", connection=redis.Redis.from_url(config["REDIS_URL"])).count == 0
    assert "YouTube quota today: 1 of 15 units" in " ".join(
        page_text(client.get("/channels")).replace("<strong>", "").replace("</strong>", "").split()
    )


def _children(pid: int) -> list[int]:
    """The ids of a process's child processes (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_worker_killed_mid_sync_leaves_progress_that_the_retry_completes(creator, fake_google, yt_config):
    """A worker SIGKILLed mid-sync; RQ's abandoned-job cleanup re-queues the
    job (its Retry policy) and a fresh worker resumes from the stored page."""
    channel_id, channel = _connect(creator, fake_google, yt_config, 1000)
    start_sync(creator, channel_id)
    fake_google.latency_s = 0.1  # a slow YouTube, so the sync is caught mid-way
    with tempfile.TemporaryFile() as log:
        # --burst so that this worker holds no scheduler lock while it works
        # (a killed scheduler's lock would hold up the retry for 61 s more).
        worker = subprocess.Popen(
            [sys.executable, "-m", "jobs.worker", "--burst"],
            cwd=ROOT,
            env=worker_env(yt_config),
            stdout=log,
            stderr=log,
        )
        try:
            _wait_for(lambda: query(yt_config, "SELECT pages_done FROM sync_runs")[0][0] >= 3, 60, "three pages")
            horses = _children(worker.pid)  # RQ's work horse runs the job, in a process group of its own
        finally:
            worker.kill()
            worker.wait(10)
        assert horses, "no work horse found"
        for pid in horses:  # as a crash of the machine would, the horse dies with its worker
            os.kill(pid, signal.SIGKILL)
    [(pages_at_kill,)] = query(yt_config, "SELECT pages_done FROM sync_runs")
    time.sleep(1.0)
    fake_google.latency_s = 0.0
    [(run_id, pages_after, seen_at_kill, status)] = query(
        yt_config, "SELECT id, pages_done, videos_seen, status FROM sync_runs"
    )
    assert pages_after == pages_at_kill, "the sync went on after the kill"
    assert status == "running" and 3 <= pages_at_kill < 20
    assert len(_stored(yt_config, channel_id)) == seen_at_kill == 50 * pages_at_kill
    tokens_at_kill = _page_tokens(fake_google)

    # What the next worker's maintenance does once the dead worker's heartbeat
    # (job monitoring interval 30 s + 60 s) has lapsed: the abandoned job goes
    # through its Retry policy, which schedules it 15 s later.
    connection = redis.Redis.from_url(yt_config["REDIS_URL"])
    StartedJobRegistry("default", connection=connection).cleanup(timestamp=time.time() + 91)
    job = Job.fetch(f"sync-run-{run_id}", connection=connection)
    assert job.get_status() == "scheduled"
    scheduled = ScheduledJobRegistry("default", connection=connection)
    time.sleep(max(0.0, scheduled.get_scheduled_time(job).timestamp() - time.time()) + 0.5)
    _work(yt_config)

    [(same_run, status, _, error, _)] = _runs(yt_config, channel_id)
    assert (same_run, status, error) == (run_id, "succeeded", None)
    assert _stored(yt_config, channel_id) == set(channel.video_ids)
    assert query(yt_config, "SELECT count(*), count(DISTINCT youtube_video_id) FROM videos") == [(1000, 1000)]
    assert query(yt_config, "SELECT count(*), count(DISTINCT video_id) FROM metadata_versions") == [(1000, 1000)]
    assert query(yt_config, "SELECT videos_seen, pages_done FROM sync_runs") == [(1000, 20)]
    resumed = _page_tokens(fake_google)[len(tokens_at_kill) :]
    committed = set(tokens_at_kill[:pages_at_kill])
    assert resumed and not committed & set(resumed)  # committed pages were not fetched again


def test_a_video_edited_on_youtube_ends_the_measurement_of_its_earlier_change(creator, fake_google, yt_config):
    """An edit made in Studio while one of our changes is being measured is a
    second change: the sync that finds it ends that experiment as interrupted."""
    channel_id, channel = _connect(creator, fake_google, yt_config, 3)
    start_sync(creator, channel_id)
    _work(yt_config)
    edited, untouched = channel.video_ids[0], channel.video_ids[1]
    for youtube_id in (edited, untouched):
        query(
            yt_config,
            """INSERT INTO experiments (video_id, applied_at, cooling_until, status)
               SELECT id, now(), current_date + 7, 'cooling' FROM videos WHERE youtube_video_id = %s RETURNING id""",
            (youtube_id,),
        )
    fake_google.world.update_video(edited, title="Retitled in Studio")
    start_sync(creator, channel_id)
    _work(yt_config)
    states = query(
        yt_config, "SELECT v.youtube_video_id, e.status FROM experiments e JOIN videos v ON v.id = e.video_id"
    )
    assert dict(states) == {edited: "interrupted", untouched: "cooling"}
