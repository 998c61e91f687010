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
