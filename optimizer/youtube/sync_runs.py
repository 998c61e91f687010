"""A sync run's life: its states, their labels, and every move between
them. The one place that writes ``sync_runs``.

    (created) queued            the Sync button or the OAuth callback; one active per channel
    queued | running -> running a worker claims it (again, when RQ retries the job)
    running -> succeeded        a complete pass over the uploads playlist
    running -> failed | quota_exceeded   stopped; the resume token is kept
    queued | running -> failed  RQ gave up on the job

Each move is one UPDATE guarded by the states it may leave, run on the
caller's cursor (the caller's transaction holds the page, the ledger and
the move together); a move from a wrong state changes nothing.
"""

from __future__ import annotations

from typing import Any, cast

import psycopg2.errors

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
QUOTA_EXCEEDED = "quota_exceeded"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, QUOTA_EXCEEDED)  # the table's CHECK says the same
ACTIVE = (QUEUED, RUNNING)  # at most one per channel (a unique index says so)
STOPPED = (FAILED, QUOTA_EXCEEDED)  # ended before a complete pass
LABELS = {
    QUEUED: "Waiting to sync",
    RUNNING: "Syncing",
    SUCCEEDED: "Synced",
    FAILED: "Sync failed",
    QUOTA_EXCEEDED: "Paused until the quota resets",
}
# The note the channel list shows next to a channel; none for a finished sync.
LIST_NOTES = {QUEUED: "syncing", RUNNING: "syncing", QUOTA_EXCEEDED: "paused until quota resets"}


# -- creation ------------------------------------------------------------------------


def create(cur: Any, channel: dict[str, Any], requested_by: int | None) -> dict[str, Any]:
    """A new queued run, resuming where a quota-stopped run left off; if a
    run is already active, that one (one sync per channel at a time)."""
    cur.execute("SELECT * FROM sync_runs WHERE channel_id = %s ORDER BY id DESC LIMIT 1", (channel["id"],))
    previous = cur.fetchone()
    if previous and previous["status"] in ACTIVE:
        return cast("dict[str, Any]", previous)
    resume = previous if previous and previous["status"] == QUOTA_EXCEEDED and previous["resume_page_token"] else None
    kind = "full" if channel["last_synced_at"] is None else "incremental"
    cur.execute("SAVEPOINT new_run")
    try:
        cur.execute(
            """INSERT INTO sync_runs (channel_id, requested_by, kind, status, resume_page_token, pass_started_at)
               VALUES (%s, %s, %s, %s, %s, %s) RETURNING *""",
            (
                channel["id"],
                requested_by,
                kind,
                QUEUED,
                resume and resume["resume_page_token"],
                resume and resume["pass_started_at"],
            ),
        )
    except psycopg2.errors.UniqueViolation:  # another click won the race
        cur.execute("ROLLBACK TO SAVEPOINT new_run")
        cur.execute("SELECT * FROM sync_runs WHERE channel_id = %s AND status IN %s", (channel["id"], ACTIVE))
    return cast("dict[str, Any]", cur.fetchone())


def channel_of(cur: Any, run_id: int) -> int | None:
    cur.execute("SELECT channel_id FROM sync_runs WHERE id = %s", (run_id,))
    row = cur.fetchone()
    return None if row is None else int(row["channel_id"])


# -- the job's moves -----------------------------------------------------------------


def claim(cur: Any, run_id: int) -> dict[str, Any] | None:
    """queued|running -> running; a pass starts now unless one is being resumed.
    None: the run is finished (a stale job)."""
    cur.execute(
        """UPDATE sync_runs SET status = %s, started_at = coalesce(started_at, now()),
                  pass_started_at = coalesce(pass_started_at, now())
           WHERE id = %s AND status IN %s RETURNING *""",
        (RUNNING, run_id, ACTIVE),
    )
    return cast("dict[str, Any] | None", cur.fetchone())


def record_page(cur: Any, run_id: int, *, next_token: str | None, seen: int, total: int | None, units: int) -> None:
    """One page stored: where the next attempt resumes, and the progress shown."""
    cur.execute(
        """UPDATE sync_runs SET resume_page_token = %s, pages_done = pages_done + 1,
                  videos_seen = videos_seen + %s, videos_total = coalesce(%s, videos_total),
                  units_used = units_used + %s
           WHERE id = %s""",
        (next_token, seen, total, units, run_id),
    )


def succeed(cur: Any, run_id: int, units: int) -> bool:
    """running -> succeeded: the pass is complete, nothing left to resume."""
    cur.execute(
        """UPDATE sync_runs SET status = %s, finished_at = now(), resume_page_token = NULL,
                  units_used = units_used + %s, error = NULL WHERE id = %s AND status = %s""",
        (SUCCEEDED, units, run_id, RUNNING),
    )
    return cur.rowcount > 0


def stop(cur: Any, run_id: int, status: str, message: str, units: int) -> bool:
    """running -> failed | quota_exceeded, with the reason the creator reads;
    the pages stored and the resume token stay."""
    if status not in STOPPED:
        raise ValueError(f"a sync stops as one of {STOPPED}, not {status!r}")
    cur.execute(
        """UPDATE sync_runs SET status = %s, error = %s, finished_at = now(), units_used = units_used + %s
           WHERE id = %s AND status = %s""",
        (status, message, units, run_id, RUNNING),
    )
    return cur.rowcount > 0


def give_up(cur: Any, run_id: int, message: str) -> bool:
    """queued|running -> failed when RQ gave up on the job."""
    cur.execute(
        "UPDATE sync_runs SET status = %s, finished_at = now(), error = %s WHERE id = %s AND status IN %s",
        (FAILED, message, run_id, ACTIVE),
    )
    return cur.rowcount > 0
