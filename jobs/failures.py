"""What a job's row says when RQ gives up on the job.

A job that raises is retried by RQ (see jobs/enqueue.py); when the last
retry fails too, nothing else would ever touch its row: a sync would show
"Syncing…" forever (and, being the channel's one active sync, block every
later one), a suggestion would stay 'applying', a run 'running'. These
failure callbacks run in the worker on every failure and act only on the
last one, leaving a reason the page shows next to its retry button.
Callbacks get RQ's (job, connection, type, value, traceback). RQ skips
them when a work horse is killed; jobs/worker.py calls them then.
"""

from __future__ import annotations

import logging
from types import TracebackType

import redis
from rq.job import Job

from optimizer import runs, suggestions
from optimizer.youtube import quota, sync_runs
from reliability import metrics
from reliability.db import transaction

log = logging.getLogger(__name__)


def _gave_up(job: Job) -> bool:
    return not job.retries_left


def _reason(exc_type: type[BaseException], exc_value: BaseException) -> str:
    """Short and safe to show: the YouTube reason code or the error's kind,
    never the message (it may quote a URL or a token)."""
    reason = getattr(exc_value, "reason", None)
    return reason if isinstance(reason, str) and reason.isidentifier() else getattr(exc_type, "__name__", "error")


def sync_gave_up(
    job: Job,
    connection: redis.Redis,
    exc_type: type[BaseException],
    exc_value: BaseException,
    traceback: TracebackType | None,
) -> None:
    if not _gave_up(job):
        return
    reason = _reason(exc_type, exc_value)
    with transaction() as cur:
        sync_runs.give_up(
            cur,
            job.args[0],
            f"The sync stopped after several attempts ({reason}). "
            "Press Sync now to try again; it resumes where it stopped.",
        )


def apply_gave_up(
    job: Job,
    connection: redis.Redis,
    exc_type: type[BaseException],
    exc_value: BaseException,
    traceback: TracebackType | None,
) -> None:
    if not _gave_up(job):
        return
    with transaction() as cur:
        suggestions.mark_failed(
            cur,
            [job.args[0]],
            f"The change could not be applied after several attempts ({_reason(exc_type, exc_value)}). "
            "Nothing is lost: try again later; a change that did reach YouTube is recognised, not written twice.",
        )
        quota.release(cur, suggestion_ids=[job.args[0]])


def optimize_gave_up(
    job: Job,
    connection: redis.Redis,
    exc_type: type[BaseException],
    exc_value: BaseException,
    traceback: TracebackType | None,
) -> None:
    if not _gave_up(job):
        return
    run_id = job.args[0]
    with transaction() as cur:
        runs.give_up(cur, run_id, f"Stopped after several attempts ({_reason(exc_type, exc_value)}); try it again.")
        quota.release(cur, run_id=run_id)
    metrics.optimization_event("given_up")
