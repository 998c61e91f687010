"""Queueing a run or a sync when Redis may be down, and finding the ones
whose job is gone.

Pressing Optimize or Sync with Redis unreachable used to answer 500 and
leave the run 'queued' for ever. Here the row is kept (the creator's
request is not lost), marked ``not_queued_since``, and the press answers
503 with a message saying so. Pressing again queues a marked run; so does
the cron sweep (``requeue_lost``, every minute), which also queues any
active run or sync whose job vanished (Redis lost its data, a job deleted
from the dashboard). Job ids come from the row's id and enqueueing
skips a job already waiting or running, so nothing runs twice at once.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job

from jobs.enqueue import enqueue_optimization, enqueue_sync
from optimizer import queue_marks_store, runs
from optimizer.youtube import sync_runs
from reliability.db import transaction
from reliability.errors import ServiceUnavailable

log = logging.getLogger(__name__)

ACTIVE_JOB = ("queued", "started", "scheduled", "deferred")
# A row younger than this may be between its commit and its enqueue: the sweep leaves it alone.
SWEEP_GRACE_S = 60

_KINDS = {
    # table -> (job id prefix, enqueue, what the creator asked for)
    "optimization_runs": ("optimize-run-", enqueue_optimization, "optimization"),
    "sync_runs": ("sync-run-", enqueue_sync, "sync"),
}
# table -> its active states (a job should be working on the row), from the module owning them
_ACTIVE = {"optimization_runs": runs.ACTIVE, "sync_runs": sync_runs.ACTIVE}


class QueueUnavailable(ServiceUnavailable):
    code = "queue_unavailable"


def queue_run(connection: redis.Redis, run_id: int, *, created: bool = True) -> None:
    """Queue an optimization run. A run found again by its one-time key
    (``created`` False) is queued only if an earlier press could not queue it."""
    if created or _claim("optimization_runs", run_id):
        _queue("optimization_runs", connection, run_id)


def queue_sync(connection: redis.Redis, run_id: int) -> None:
    """Queue a sync run (one already waiting or running is left alone)."""
    _queue("sync_runs", connection, run_id)
    _clear("sync_runs", run_id)


def _queue(table: str, connection: redis.Redis, row_id: int) -> None:
    _, enqueue, what = _KINDS[table]
    try:
        enqueue(connection, row_id)
    except redis.RedisError as exc:
        _mark(table, row_id)
        log.warning(
            "job not queued: Redis unreachable", extra={"table": table, "id": row_id, "error": type(exc).__name__}
        )
        raise QueueUnavailable(
            f"The job queue is unavailable right now. Your {what} is saved and starts by itself within a few minutes "
            "of the queue coming back; there is no need to press the button again."
        ) from exc


def _mark(table: str, row_id: int) -> None:
    with transaction() as cur:
        queue_marks_store.mark(cur, table, row_id)


def _claim(table: str, row_id: int) -> bool:
    """Take the mark off an active row (one caller wins)."""
    with transaction() as cur:
        return queue_marks_store.take(cur, table, row_id, _ACTIVE[table])


def _clear(table: str, row_id: int) -> None:
    with transaction() as cur:
        queue_marks_store.clear(cur, table, row_id)


def requeue_lost(connection: redis.Redis) -> dict[str, list[int]]:
    """Queue every active run and sync that is marked, or whose job is gone
    (older than SWEEP_GRACE_S). Returns what was queued, per table."""
    queued: dict[str, list[int]] = {}
    for table, (prefix, _, _) in _KINDS.items():
        with transaction() as cur:
            rows = queue_marks_store.lost(cur, table, _ACTIVE[table], SWEEP_GRACE_S)
        queued[table] = [row["id"] for row in rows if _requeue(table, connection, row, prefix)]
    if any(queued.values()):
        log.warning("queued runs whose job was lost", extra=queued)
    return queued


def _requeue(table: str, connection: redis.Redis, row: dict[str, Any], prefix: str) -> bool:
    if _job_status(connection, prefix + str(row["id"])) in ACTIVE_JOB:
        if row["marked"]:
            _clear(table, row["id"])
        return False
    _queue(table, connection, row["id"])
    _clear(table, row["id"])
    return True


def _job_status(connection: redis.Redis, job_id: str) -> str | None:
    try:
        return Job.fetch(job_id, connection=connection).get_status(refresh=False)
    except NoSuchJobError:
        return None
