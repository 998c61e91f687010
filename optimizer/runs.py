"""An optimization run's life: its states, their labels, and every move
between them. The one place that writes ``optimization_runs.status``.

    queued -> running            a worker claims it (again, when RQ retries the job)
    running -> succeeded | partial | failed          the job finished its videos
    queued | running -> partial | failed             RQ gave up on the job
    partial | failed -> queued   Try again (the failed videos go back to pending)
    queued -> partial | failed   that retry could not be queued (Redis down)

A restore is created already succeeded (it has no videos to optimize).
Each move is one UPDATE guarded by the states it may leave, run on the
caller's cursor: the caller's transaction holds the move, its side effects
and its audit line together, and a move from a wrong state changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict, cast

from reliability import audit

log = logging.getLogger(__name__)

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
PARTIAL = "partial"
FAILED = "failed"
STATES = (QUEUED, RUNNING, SUCCEEDED, PARTIAL, FAILED)  # the table's CHECK says the same
ACTIVE = (QUEUED, RUNNING)  # a job is (or should be) working on it
RETRYABLE = (PARTIAL, FAILED)  # finished with failed videos: Try again is offered
LABELS = {
    QUEUED: "Waiting for a worker",
    RUNNING: "Working",
    SUCCEEDED: "Done",
    PARTIAL: "Done with problems",
    FAILED: "Failed",
}

# The states of one video within a run (optimization_run_videos.status).
VIDEO_PENDING = "pending"
VIDEO_DONE = "done"
VIDEO_FAILED = "failed"

NOT_QUEUED_ERROR = "Not queued: the job queue was unreachable."


class ClaimedRun(TypedDict):
    channel_id: int
    requested_by: int | None
    without_transcripts: bool


# -- creation ------------------------------------------------------------------------


def create(
    cur: Any,
    *,
    channel_id: int,
    requested_by: int,
    idempotency_key: str,
    video_count: int,
    without_transcripts: bool,
) -> dict[str, Any] | None:
    """A queued run; None when a run with this key already exists (a parallel click)."""
    cur.execute(
        """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, status, video_count,
                                          without_transcripts)
           VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING RETURNING *""",
        (channel_id, requested_by, idempotency_key, QUEUED, video_count, without_transcripts),
    )
    return cast("dict[str, Any] | None", cur.fetchone())


def create_finished(cur: Any, *, channel_id: int, requested_by: int | None, idempotency_key: str) -> int:
    """A run that is done as it is made (a restore: one video, nothing to
    optimize; requested by nobody when automatic); returns its id."""
    cur.execute(
        """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, status, video_count,
                                          started_at, finished_at)
           VALUES (%s, %s, %s, %s, 1, now(), now()) RETURNING id""",
        (channel_id, requested_by, idempotency_key, SUCCEEDED),
    )
    return int(cur.fetchone()["id"])


# -- the job's moves -----------------------------------------------------------------


def claim(cur: Any, run_id: int) -> ClaimedRun | None:
    """queued|running -> running. None: the run is finished (a stale job)."""
    cur.execute(
        """UPDATE optimization_runs SET status = %s, started_at = coalesce(started_at, now())
           WHERE id = %s AND status IN %s RETURNING channel_id, requested_by, without_transcripts""",
        (RUNNING, run_id, ACTIVE),
    )
    return cast("ClaimedRun | None", cur.fetchone())


def outcome(done: int, failed: int, total: int) -> str:
    """What a run whose videos ended so comes to."""
    if done == total:
        return SUCCEEDED
    return FAILED if done == 0 else PARTIAL


def finish(cur: Any, run_id: int) -> str | None:
    """running -> succeeded | partial | failed, by its videos; returns that
    status, or None when the run was not running (nothing changed)."""
    cur.execute(
        """SELECT count(*) FILTER (WHERE status = %s) AS done, count(*) FILTER (WHERE status = %s) AS failed,
                  count(*) AS total FROM optimization_run_videos WHERE run_id = %s""",
        (VIDEO_DONE, VIDEO_FAILED, run_id),
    )
    counts = cur.fetchone()
    status = outcome(counts["done"], counts["failed"], counts["total"])
    cur.execute(
        "UPDATE optimization_runs SET status = %s, finished_at = now() WHERE id = %s AND status = %s",
        (status, run_id, RUNNING),
    )
    if cur.rowcount == 0:
        log.warning("run not finished: it was not running", extra={"run_id": run_id, "status": status})
        return None
    return status


def pending_videos(cur: Any, run_id: int) -> list[int]:
    """The run's videos with no suggestion yet, in the run's order: what a
    (retried) job still has to do."""
    cur.execute(
        """SELECT rv.video_id FROM optimization_run_videos rv
           WHERE rv.run_id = %s
             AND NOT EXISTS (SELECT 1 FROM suggestions s WHERE s.run_id = rv.run_id AND s.video_id = rv.video_id)
           ORDER BY rv.position""",
        (run_id,),
    )
    return [r["video_id"] for r in cur.fetchall()]


def set_video_stage(cur: Any, run_id: int, video_id: int, stage: str, model: str | None) -> None:
    """The step a pending video is at (optimizer/run_progress.py names the
    steps); a finished video keeps its result."""
    cur.execute(
        """UPDATE optimization_run_videos SET stage = %s, stage_model = %s, stage_changed_at = now()
           WHERE run_id = %s AND video_id = %s AND status = %s""",
        (stage, model, run_id, video_id, VIDEO_PENDING),
    )


def video_done(cur: Any, run_id: int, video_id: int) -> None:
    """The video's suggestion is stored (in the caller's transaction)."""
    cur.execute(
        "UPDATE optimization_run_videos SET status = %s, error = NULL WHERE run_id = %s AND video_id = %s",
        (VIDEO_DONE, run_id, video_id),
    )


def fail_video(cur: Any, run_id: int, video_id: int, error: str) -> None:
    """One video of the run could not be optimized (the rest go on)."""
    cur.execute(
        "UPDATE optimization_run_videos SET status = %s, error = %s WHERE run_id = %s AND video_id = %s",
        (VIDEO_FAILED, error, run_id, video_id),
    )


def give_up(cur: Any, run_id: int, error: str) -> bool:
    """queued|running -> partial | failed when RQ gave up on the job: the
    videos still pending (with no suggestion) fail with ``error``."""
    cur.execute(
        """UPDATE optimization_run_videos rv SET status = %s, error = %s
           WHERE rv.run_id = %s AND rv.status = %s
             AND NOT EXISTS (SELECT 1 FROM suggestions s WHERE s.run_id = rv.run_id AND s.video_id = rv.video_id)""",
        (VIDEO_FAILED, error, run_id, VIDEO_PENDING),
    )
    cur.execute(
        """UPDATE optimization_runs r SET finished_at = now(),
                  status = CASE WHEN EXISTS (SELECT 1 FROM optimization_run_videos rv
                                             WHERE rv.run_id = r.id AND rv.status = %s) THEN %s ELSE %s END
           WHERE r.id = %s AND r.status IN %s""",
        (VIDEO_DONE, PARTIAL, FAILED, run_id, ACTIVE),
    )
    return cur.rowcount > 0


# -- the creator's moves -------------------------------------------------------------


def requeue_failed(cur: Any, run_id: int, *, channel_id: int, actor_id: int, actor_email: str) -> bool:
    """partial|failed -> queued: its failed videos go back to pending (the
    finished ones are kept). False when the run has nothing to retry."""
    cur.execute(
        "UPDATE optimization_runs SET status = %s, finished_at = NULL WHERE id = %s AND status IN %s RETURNING id",
        (QUEUED, run_id, RETRYABLE),
    )
    if cur.fetchone() is None:
        return False
    cur.execute(
        "UPDATE optimization_run_videos SET status = %s, error = NULL WHERE run_id = %s AND status = %s",
        (VIDEO_PENDING, run_id, VIDEO_FAILED),
    )
    audit.record(
        cur,
        "optimization.retried",
        actor_id=actor_id,
        actor_email=actor_email,
        target_type="channel",
        target_id=channel_id,
        details={"run_id": run_id, "videos": cur.rowcount},
    )
    return True


def undo_requeue(cur: Any, run_id: int, status: str) -> bool:
    """queued -> ``status`` (the one it had): the retry's job could not be
    queued, so the run must not wait for it; its pending videos fail."""
    if status not in RETRYABLE:
        raise ValueError(f"a retried run goes back to {RETRYABLE}, not {status!r}")
    cur.execute(
        "UPDATE optimization_runs SET status = %s, finished_at = now() WHERE id = %s AND status = %s",
        (status, run_id, QUEUED),
    )
    moved = cur.rowcount > 0
    cur.execute(
        "UPDATE optimization_run_videos SET status = %s, error = %s WHERE run_id = %s AND status = %s",
        (VIDEO_FAILED, NOT_QUEUED_ERROR, run_id, VIDEO_PENDING),
    )
    return moved
