"""A worker and its work horse SIGKILLed mid-apply, after YouTube took the
change and before we recorded it.

The apply job is read-modify-write against YouTube (optimizer.youtube.apply):
if its worker dies while videos.update is on the wire, YouTube already holds
the approved metadata and our database still says 'applying'. RQ's own
recovery retries the job; the retry must see the live snippet equal to what
was approved and record the outcome without a second write, and History must
show the version before and the applied one, nothing missing, nothing twice.

The fake's hang fault (Faults.hang) makes the moment exact: the fake changes
the video, then holds its answer, so the work horse is inside the call, after
YouTube changed, when it is killed. Nothing then calls the recovery code: a
new worker (as the supervisor or the platform starts one) finds the abandoned
job by itself once its heartbeat lapses, and RQ's retry runs it.

Only workers are killed here, never a server, so this case runs on the
suite's shared PostgreSQL and Redis with the integration fixtures.
"""

from __future__ import annotations

import time

import psycopg2.extras
import redis
from rq import Queue
from rq.job import Job

from jobs.enqueue import enqueue_apply
from reliability.db import transaction
from tests.fakes.google import fake_google_fixture
from tests.faults.steps import RECOVERY_S
from tests.integration import conftest as _integration
from tests.integration.optimize_helpers import kill_tree, start_worker, stop_process, wait_for
from tests.integration.youtube_helpers import (
    channel_pk,
    connect_channel,
    page_text,
    query,
    run_worker_burst,
    start_sync,
)

fake_google = fake_google_fixture()
# The integration suite's fixtures: the app and a creator on the shared servers, pointed at fake_google.
yt_config, yt_app, creator = _integration.yt_config, _integration.yt_app, _integration.creator

BEFORE = {
    "tags": ["bread", "baking tips"],
    "category_id": "26",
    "default_language": "de",
    "default_audio_language": "de-AT",
}
APPROVED = {
    "title": "Sourdough at Home: The Three-Day Method",
    "description": "Everything about starter, folds and the bake.",
    "tags": ["bread", "baking tips", "sourdough"],
}


def _work(config: dict) -> None:
    result = run_worker_burst(config)
    assert result.returncode == 0, result.stderr[-2000:]


def _synced_video(creator, fake, config) -> tuple[str, int]:
    """A channel connected through OAuth and synced by a real worker; the
    YouTube id and our id of its one video."""
    channel = fake.world.add_channel("alice", "Alice Bakes", n_videos=1)
    [video] = fake.world.uploads(channel.id)
    fake.world.update_video(video.id, **BEFORE)
    response = connect_channel(creator, fake, "alice")
    assert response.status_code == 302, page_text(response)
    assert start_sync(creator, channel_pk(config, channel.id)).status_code == 302
    _work(config)
    [(video_pk,)] = query(config, "SELECT id FROM videos WHERE youtube_video_id = %s", (video.id,))
    return video.id, video_pk


def _accepted_suggestion(video_pk: int, status: str = "accepted") -> int:
    """A suggestion made from the synced version and accepted by the creator;
    with status 'applying', as the Apply button leaves it when it enqueues the job."""
    with transaction() as cur:
        cur.execute("SELECT id FROM users WHERE email = 'creator@example.com'")
        user = cur.fetchone()["id"]
        cur.execute(
            "SELECT m.id, v.channel_id FROM metadata_versions m JOIN videos v ON v.id = m.video_id WHERE v.id = %s",
            (video_pk,),
        )
        base = cur.fetchone()
        cur.execute(
            """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, video_count)
                       VALUES (%s, %s, 'k-apply-kill', 1) RETURNING id""",
            (base["channel_id"], user),
        )
        run = cur.fetchone()["id"]
        titles = psycopg2.extras.Json([{"title": APPROVED["title"], "rationale": "r"}] * 3)
        cur.execute(
            """INSERT INTO suggestions (run_id, video_id, base_version_id, status, engine, prompt_version, titles,
                                                description, tags, cache_key, approved_title, approved_description,
                                                approved_tags, decided_by, decided_at)
                       VALUES (%s, %s, %s, %s, 'heuristic', 'p', %s, %s, %s, 'c', %s, %s, %s, %s, now())
                       RETURNING id""",
            (
                run,
                video_pk,
                base["id"],
                status,
                titles,
                APPROVED["description"],
                APPROVED["tags"],
                APPROVED["title"],
                APPROVED["description"],
                APPROVED["tags"],
                user,
            ),
        )
        return cur.fetchone()["id"]


def test_a_worker_killed_after_the_youtube_write_leaves_one_write_and_whole_history(
    creator, fake_google, yt_config, tmp_path
):
    yt_id, video_pk = _synced_video(creator, fake_google, yt_config)
    live_before = fake_google.world.video(yt_id)
    before = (live_before.title, live_before.description, list(live_before.tags))
    suggestion = _accepted_suggestion(video_pk, "applying")
    connection = redis.Redis.from_url(yt_config["REDIS_URL"])
    job = enqueue_apply(connection, suggestion)
    hang = fake_google.faults.hang("videos.update", timeout_s=60)
    # Short heartbeats: the dead worker's job is found in seconds (40 + 30 s with the defaults).
    fast = {**yt_config, "WORKER_HEARTBEAT_S": 2}

    with open(tmp_path / "killed-worker.log", "w") as log:
        # --burst: this worker holds no scheduler lock that would outlive it.
        worker = start_worker(fast, burst=True, log=log)
        try:
            assert hang.wait_reached(60), "the worker never reached videos.update"
            # YouTube has the change; its answer is held; now the machine dies.
            killed = kill_tree(worker)  # the work horse is in a process group of its own
        finally:
            stop_process(worker)
            hang.release()
    assert len(killed) >= 2, "no work horse was killed"  # the worker and its work horse
    assert fake_google.world.video(yt_id).title == APPROVED["title"]
    assert query(yt_config, "SELECT status FROM suggestions WHERE id = %s", (suggestion,)) == [("applying",)]

    # A new worker, as the supervisor starts one.
    killed_at = time.monotonic()
    with open(tmp_path / "next-worker.log", "w") as log:
        next_worker = start_worker(fast, log=log)
        try:
            wait_for(
                lambda: (
                    query(yt_config, "SELECT status FROM suggestions WHERE id = %s", (suggestion,)) == [("applied",)]
                ),
                RECOVERY_S,
                "the abandoned apply to be found and finished by the next worker",
                0.5,
            )
        finally:
            stop_process(next_worker)
    assert time.monotonic() - killed_at < RECOVERY_S
    assert Job.fetch(job.id, connection=connection).get_status() == "finished"
    assert Queue("high", connection=connection).count == 0
    connection.close()

    # One write reached YouTube; the video holds what was approved and every other field as it was.
    updates = [r for r in fake_google.requests_to("/videos", "PUT") if (r.json or {}).get("id") == yt_id]
    assert len(updates) == 1 and fake_google.calls["videos.update"] == 1
    live = fake_google.world.video(yt_id)
    assert (live.title, live.description, live.tags) == (APPROVED["title"], APPROVED["description"], APPROVED["tags"])
    assert (live.category_id, live.default_language, live.default_audio_language) == ("26", "de", "de-AT")

    # Our side: applied, History whole (the version before, then the applied one), one experiment, audited.
    [(status, prior_id, applied_id, error)] = query(
        yt_config,
        "SELECT status, prior_version_id, applied_version_id, apply_error FROM suggestions WHERE id = %s",
        (suggestion,),
    )
    assert (status, error) == ("applied", None)
    versions = query(
        yt_config,
        """SELECT id, source, title, description, tags, category_id, default_language,
                                          default_audio_language, suggestion_id
                                   FROM metadata_versions WHERE video_id = %s ORDER BY id""",
        (video_pk,),
    )
    assert [v[0] for v in versions] == [prior_id, applied_id]
    assert versions[0][1:] == ("sync", *before, "26", "de", "de-AT", None)
    assert versions[1][1:] == (
        "apply",
        APPROVED["title"],
        APPROVED["description"],
        APPROVED["tags"],
        "26",
        "de",
        "de-AT",
        suggestion,
    )
    assert query(yt_config, "SELECT title, description, tags FROM videos WHERE id = %s", (video_pk,)) == [
        (APPROVED["title"], APPROVED["description"], APPROVED["tags"])
    ]
    assert query(yt_config, "SELECT count(*), min(status) FROM experiments WHERE video_id = %s", (video_pk,)) == [
        (1, "cooling")
    ]
    audited = query(yt_config, "SELECT details FROM audit_log WHERE action = 'suggestion.applied'")
    # reconciled: the retry found YouTube already holding the approved version and did not write.
    assert [(d["suggestion_id"], d["version_id"], d["reconciled"]) for (d,) in audited] == [
        (suggestion, applied_id, True)
    ]
