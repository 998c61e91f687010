"""Housekeeping jobs run by cron."""

from __future__ import annotations

import logging

from reliability.db import retry_on_db_error, transaction

log = logging.getLogger(__name__)

AUDIT_RETENTION_DAYS = 400  # a year and a bit, for yearly reviews


@retry_on_db_error()
def prune_audit_log(retention_days: int = AUDIT_RETENTION_DAYS, batch_size: int = 5000) -> int:
    """Delete audit rows older than the retention period, in small batches
    so that no long lock is held. Safe to run twice."""
    deleted = 0
    while True:
        with transaction() as cur:
            cur.execute(
                """DELETE FROM audit_log WHERE id IN (
                       SELECT id FROM audit_log
                       WHERE occurred_at < now() - make_interval(days => %s)
                       ORDER BY id LIMIT %s)""",
                (retention_days, batch_size),
            )
            deleted += cur.rowcount
            if cur.rowcount < batch_size:
                break
    log.info("pruned audit log", extra={"deleted": deleted})
    return deleted


STRANDED_AFTER_MINUTES = 120  # far beyond an apply's retries (10 s to 30 min) plus its 5-minute timeout


def fail_stranded_applies(older_than_minutes: int = STRANDED_AFTER_MINUTES) -> int:
    """Suggestions still 'applying' long after their job is gone (Redis lost
    its data, a job deleted from the dashboard): mark them failed so the page
    stops saying "Applying…" and offers a retry. A suggestion whose job is
    still queued, scheduled or running is left alone."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from jobs.runtime import current_settings, rq_connection

    connection = rq_connection(current_settings()["REDIS_URL"])
    with transaction() as cur:
        cur.execute("""SELECT id FROM suggestions WHERE status = 'applying'
                       AND updated_at < now() - make_interval(mins => %s)""", (older_than_minutes,))
        candidates = [row["id"] for row in cur.fetchall()]
    stranded = []
    for suggestion_id in candidates:
        try:
            status = Job.fetch(f"apply-suggestion-{suggestion_id}", connection=connection).get_status(refresh=False)
        except NoSuchJobError:
            status = None
        if status not in ("queued", "started", "scheduled", "deferred"):
            stranded.append(suggestion_id)
    with transaction() as cur:
        cur.execute(
            """UPDATE suggestions SET status = 'failed', updated_at = now(),
                      apply_error = 'The apply job was lost (the job queue was reset?). Nothing is lost: try again; '
                                    || 'a change that did reach YouTube is recognised, not written twice.'
               WHERE id = ANY(%s) AND status = 'applying'""",
            (stranded,),
        )
    log.info("failed stranded applies", extra={"suggestions": stranded})
    return len(stranded)


def requeue_lost_work() -> dict[str, list[int]]:
    """Every minute: queue the runs and syncs whose job is gone or was never
    queued (Redis was down when the button was pressed): jobs/queueing.py."""
    from jobs.queueing import requeue_lost
    from jobs.runtime import current_settings, rq_connection

    return requeue_lost(rq_connection(current_settings()["REDIS_URL"]))
