"""Every optimization-run and sync-run transition is guarded by the states it
may leave: run on a row in any other state it changes nothing (a stale job,
a late failure callback or a second click cannot move a run twice). And the
states the code knows are the ones the schema allows."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from optimizer import runs
from optimizer.youtube import sync_runs
from reliability.db import transaction


@pytest.fixture
def world(app: Any) -> dict[str, Any]:
    """A channel with one video, an optimization run of it and a sync run."""
    with transaction() as cur:
        cur.execute("INSERT INTO users (email, password_hash) VALUES ('r@example.com', 'x') RETURNING id, email")
        user = cur.fetchone()
        cur.execute(
            "INSERT INTO channels (youtube_channel_id, title, created_by) VALUES ('UCr', 'R', %s) RETURNING *",
            (user["id"],),
        )
        channel = cur.fetchone()
        cur.execute(
            "INSERT INTO videos (channel_id, youtube_video_id, title, description, tags) "
            "VALUES (%s, 'v1', 'Old', 'd', '{}') RETURNING id",
            (channel["id"],),
        )
        video_id = cur.fetchone()["id"]
        run = runs.create(
            cur,
            channel_id=channel["id"],
            requested_by=user["id"],
            idempotency_key="k-run-transitions",
            video_count=1,
            without_transcripts=False,
        )
        assert run is not None and run["status"] == runs.QUEUED
        cur.execute(
            "INSERT INTO optimization_run_videos (run_id, video_id, position) VALUES (%s, %s, 0)", (run["id"], video_id)
        )
        sync = sync_runs.create(cur, channel, user["id"])
        assert sync["status"] == sync_runs.QUEUED
    return {"user": user, "channel": channel, "run_id": run["id"], "sync_id": sync["id"]}


def _set(table: str, row_id: int, status: str) -> None:
    with transaction() as cur:  # the test's own arrangement, not a transition
        cur.execute(f"UPDATE {table} SET status = %s WHERE id = %s", (status, row_id))  # noqa: S608


def _status(table: str, row_id: int) -> str:
    with transaction() as cur:
        cur.execute(f"SELECT status FROM {table} WHERE id = %s", (row_id,))  # noqa: S608
        return cur.fetchone()["status"]


Move = Callable[[Any, dict[str, Any]], Any]

# transition name -> (the states it may leave, what it does on the cursor; truthy when it moved)
RUN_TRANSITIONS: dict[str, tuple[tuple[str, ...], Move]] = {
    "claim": (runs.ACTIVE, lambda cur, w: runs.claim(cur, w["run_id"])),
    "finish": ((runs.RUNNING,), lambda cur, w: runs.finish(cur, w["run_id"])),
    "give_up": (runs.ACTIVE, lambda cur, w: runs.give_up(cur, w["run_id"], "Stopped.")),
    "requeue_failed": (
        runs.RETRYABLE,
        lambda cur, w: runs.requeue_failed(
            cur, w["run_id"], channel_id=w["channel"]["id"], actor_id=w["user"]["id"], actor_email=w["user"]["email"]
        ),
    ),
    "undo_requeue": ((runs.QUEUED,), lambda cur, w: runs.undo_requeue(cur, w["run_id"], runs.FAILED)),
}

SYNC_TRANSITIONS: dict[str, tuple[tuple[str, ...], Move]] = {
    "claim": (sync_runs.ACTIVE, lambda cur, w: sync_runs.claim(cur, w["sync_id"])),
    "succeed": ((sync_runs.RUNNING,), lambda cur, w: sync_runs.succeed(cur, w["sync_id"], 3)),
    "stop": (
        (sync_runs.RUNNING,),
        lambda cur, w: sync_runs.stop(cur, w["sync_id"], sync_runs.QUOTA_EXCEEDED, "Quota.", 3),
    ),
    "give_up": (sync_runs.ACTIVE, lambda cur, w: sync_runs.give_up(cur, w["sync_id"], "Stopped.")),
}


@pytest.mark.parametrize("name", sorted(RUN_TRANSITIONS))
def test_a_run_transition_from_a_state_it_may_not_leave_changes_nothing(world: dict[str, Any], name: str) -> None:
    allowed, move = RUN_TRANSITIONS[name]
    for status in runs.STATES:
        _set("optimization_runs", world["run_id"], status)
        with transaction() as cur:
            moved = move(cur, world)
        if status in allowed:
            assert moved, f"{name} should move a run out of {status!r}"
        else:
            assert not moved, f"{name} said it moved a run out of {status!r}"
            assert _status("optimization_runs", world["run_id"]) == status, f"{name} moved a run out of {status!r}"


@pytest.mark.parametrize("name", sorted(SYNC_TRANSITIONS))
def test_a_sync_transition_from_a_state_it_may_not_leave_changes_nothing(world: dict[str, Any], name: str) -> None:
    allowed, move = SYNC_TRANSITIONS[name]
    for status in sync_runs.STATES:
        _set("sync_runs", world["sync_id"], status)
        with transaction() as cur:
            moved = move(cur, world)
        if status in allowed:
            assert moved, f"{name} should move a sync out of {status!r}"
        else:
            assert not moved, f"{name} said it moved a sync out of {status!r}"
            assert _status("sync_runs", world["sync_id"]) == status, f"{name} moved a sync out of {status!r}"


def test_a_run_finishes_by_what_its_videos_came_to(world: dict[str, Any]) -> None:
    _set("optimization_runs", world["run_id"], runs.RUNNING)
    with transaction() as cur:
        runs.fail_video(cur, world["run_id"], _video_of(cur, world["run_id"]), "It broke.")
        assert runs.finish(cur, world["run_id"]) == runs.FAILED
    assert runs.outcome(done=1, failed=0, total=1) == runs.SUCCEEDED
    assert runs.outcome(done=1, failed=1, total=2) == runs.PARTIAL


def _video_of(cur: Any, run_id: int) -> int:
    cur.execute("SELECT video_id FROM optimization_run_videos WHERE run_id = %s", (run_id,))
    return int(cur.fetchone()["video_id"])


def test_a_second_sync_of_a_channel_is_the_active_one(world: dict[str, Any]) -> None:
    with transaction() as cur:
        again = sync_runs.create(cur, world["channel"], world["user"]["id"])
    assert again["id"] == world["sync_id"]


def _allowed_by_schema(table: str) -> set[str]:
    with transaction() as cur:
        cur.execute(
            """SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint
               WHERE conrelid = %s::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%%status%%'""",
            (table,),
        )
        return set(re.findall(r"'([a-z_]+)'::text", cur.fetchone()["definition"]))


def test_the_run_states_are_the_ones_the_schema_allows(app: Any) -> None:
    assert _allowed_by_schema("optimization_runs") == set(runs.STATES) == set(runs.LABELS)
    assert _allowed_by_schema("sync_runs") == set(sync_runs.STATES) == set(sync_runs.LABELS)
