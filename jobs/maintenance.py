"""Housekeeping jobs run by cron."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from optimizer import retention, suggestion_store, suggestions
from reliability import audit
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
            batch = audit.purge_older_than(cur, retention_days, batch_size)
        deleted += batch
        if batch < batch_size:
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

    from jobs.runtime import current_settings
    from reliability.redis_clients import rq_client

    connection = rq_client(current_settings()["REDIS_URL"])
    with transaction() as cur:
        candidates = suggestion_store.applying_since(cur, older_than_minutes)
    stranded = []
    for suggestion_id in candidates:
        try:
            status = Job.fetch(f"apply-suggestion-{suggestion_id}", connection=connection).get_status(refresh=False)
        except NoSuchJobError:
            status = None
        if status not in ("queued", "started", "scheduled", "deferred"):
            stranded.append(suggestion_id)
    with transaction() as cur:
        suggestions.mark_failed(cur, stranded, suggestions.STRANDED_ERROR)
    log.info("failed stranded applies", extra={"suggestions": stranded})
    return len(stranded)


def requeue_lost_work() -> dict[str, list[int]]:
    """Every minute: queue the runs and syncs whose job is gone or was never
    queued (Redis was down when the button was pressed): jobs/queueing.py."""
    from jobs.queueing import requeue_lost
    from jobs.runtime import current_settings
    from reliability.redis_clients import rq_client

    return requeue_lost(rq_client(current_settings()["REDIS_URL"]))


def _now(now: str | None) -> datetime:
    """The job's clock: the real one, or an ISO time a test or a catch-up passes."""
    return datetime.fromisoformat(now) if now else datetime.now(tz=UTC)


def enforce_data_retention(now: str | None = None) -> dict[str, int]:
    """Daily: delete (or blank) the YouTube data not refreshed within
    DATA_RETENTION_DAYS (optimizer/retention.py; the table is docs/data.md)."""
    from jobs.runtime import current_settings

    return retention.enforce(_now(now), current_settings()["DATA_RETENTION_DAYS"])


def sync_due_channels(now: str | None = None) -> list[int]:
    """Daily: queue a sync of every connected channel half-way through the
    retention limit since its last one, so what is kept stays fresh even
    when nobody presses Sync. A sync the queue refuses is queued by
    ``requeue_lost_work`` once Redis is back (its row is kept)."""
    from jobs.queueing import QueueUnavailable, queue_sync
    from jobs.runtime import current_settings
    from reliability.redis_clients import rq_client

    settings = current_settings()
    run_ids = retention.create_refresh_syncs(
        _now(now), settings["DATA_RETENTION_DAYS"], settings["YOUTUBE_DAILY_QUOTA"]
    )
    connection = rq_client(settings["REDIS_URL"])
    for run_id in run_ids:
        try:
            queue_sync(connection, run_id)
        except QueueUnavailable:
            break  # marked: the every-minute sweep queues it and the rest
    log.info("refresh syncs queued", extra={"sync_runs": run_ids})
    return run_ids
