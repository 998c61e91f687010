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

from optimizer.youtube import quota
from reliability.db import transaction

log = logging.getLogger(__name__)


def _gave_up(job) -> bool:
    return not job.retries_left


def _reason(exc_type, exc_value) -> str:
    """Short and safe to show: the YouTube reason code or the error's kind,
    never the message (it may quote a URL or a token)."""
    reason = getattr(exc_value, "reason", None)
    return reason if isinstance(reason, str) and reason.isidentifier() else getattr(exc_type, "__name__", "error")


def sync_gave_up(job, connection, exc_type, exc_value, traceback) -> None:
    if not _gave_up(job):
        return
    with transaction() as cur:
        cur.execute(
            """UPDATE sync_runs SET status = 'failed', finished_at = now(),
                      error = %s WHERE id = %s AND status IN ('queued', 'running')""",
            (f"The sync stopped after several attempts ({_reason(exc_type, exc_value)}). "
             "Press Sync now to try again; it resumes where it stopped.", job.args[0]),
        )


def apply_gave_up(job, connection, exc_type, exc_value, traceback) -> None:
    if not _gave_up(job):
        return
    with transaction() as cur:
        cur.execute(
            """UPDATE suggestions SET status = 'failed', updated_at = now(),
                      apply_error = %s WHERE id = %s AND status = 'applying'""",
            (f"The change could not be applied after several attempts ({_reason(exc_type, exc_value)}). "
             "Nothing is lost: try again later; a change that did reach YouTube is recognised, not written twice.",
             job.args[0]),
        )
        quota.release(cur, suggestion_ids=[job.args[0]])


def optimize_gave_up(job, connection, exc_type, exc_value, traceback) -> None:
    if not _gave_up(job):
        return
    run_id = job.args[0]
    with transaction() as cur:
        cur.execute(
            """UPDATE optimization_run_videos rv SET status = 'failed', error = %s
               WHERE rv.run_id = %s AND rv.status = 'pending'
                 AND NOT EXISTS (SELECT 1 FROM suggestions s WHERE s.run_id = rv.run_id AND s.video_id = rv.video_id)""",
            (f"Stopped after several attempts ({_reason(exc_type, exc_value)}); try it again.", run_id),
        )
        cur.execute(
            """UPDATE optimization_runs r SET finished_at = now(),
                      status = CASE WHEN EXISTS (SELECT 1 FROM optimization_run_videos rv
                                                 WHERE rv.run_id = r.id AND rv.status = 'done') THEN 'partial' ELSE 'failed' END
               WHERE r.id = %s AND r.status IN ('queued', 'running')""",
            (run_id,),
        )
        quota.release(cur, run_id=run_id)
