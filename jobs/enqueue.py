"""Putting jobs on queues. Jobs get ids, never objects; a job id derived from
the work's own id makes enqueuing the same work twice harmless."""

from __future__ import annotations

from redis import Redis
from rq import Callback, Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

SYNC_TIMEOUT_S = 60 * 60  # a 20,000-video channel at 20 ms a call takes minutes, not an hour
SYNC_RETRY = Retry(max=3, interval=[15, 60, 300])


def _waiting_or_running(connection: Redis, job_id: str) -> Job | None:
    """The job if it is already waiting or running: queued again, it would
    run twice (RQ pushes the same id onto the queue a second time)."""
    try:
        existing = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None
    return existing if existing.get_status(refresh=True) in ("queued", "started", "scheduled", "deferred") else None


def enqueue_sync(connection: Redis, run_id: int) -> Job:
    job_id = f"sync-run-{run_id}"
    if existing := _waiting_or_running(connection, job_id):
        return existing
    return Queue("default", connection=connection).enqueue(
        "jobs.sync.sync_channel",
        run_id,
        job_id=job_id,
        job_timeout=SYNC_TIMEOUT_S,
        retry=SYNC_RETRY,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        on_failure=Callback("jobs.failures.sync_gave_up"),
    )


OPTIMIZE_TIMEOUT_S = 30 * 60
OPTIMIZE_RETRY = Retry(max=3, interval=[10, 60, 300])


def enqueue_optimization(connection: Redis, run_id: int) -> Job:
    job_id = f"optimize-run-{run_id}"
    if existing := _waiting_or_running(connection, job_id):
        return existing
    return Queue("default", connection=connection).enqueue(
        "jobs.optimize.run",
        run_id,
        job_id=job_id,
        job_timeout=OPTIMIZE_TIMEOUT_S,
        retry=OPTIMIZE_RETRY,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        on_failure=Callback("jobs.failures.optimize_gave_up"),
    )


APPLY_RETRY = Retry(max=5, interval=[10, 30, 120, 600, 1800])


def enqueue_apply(connection: Redis, suggestion_id: int) -> Job:
    """High priority: a creator is waiting for the change to show."""
    return Queue("high", connection=connection).enqueue(
        "jobs.apply.apply",
        suggestion_id,
        job_id=f"apply-suggestion-{suggestion_id}",
        job_timeout=300,
        retry=APPLY_RETRY,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        on_failure=Callback("jobs.failures.apply_gave_up"),
    )


ANALYTICS_TIMEOUT_S = 30 * 60
# A job only fails when the breaker is open (YouTube unwell everywhere): try again later in the day.
ANALYTICS_RETRY = Retry(max=2, interval=[600, 3600])


def enqueue_analytics(connection: Redis, channel_id: int, today: str | None = None) -> Job:
    """Low priority: nobody waits for it. One per channel at a time."""
    job_id = f"analytics-channel-{channel_id}"
    if existing := _waiting_or_running(connection, job_id):
        return existing
    return Queue("low", connection=connection).enqueue(
        "jobs.analytics.ingest_channel",
        channel_id,
        today,
        job_id=job_id,
        job_timeout=ANALYTICS_TIMEOUT_S,
        retry=ANALYTICS_RETRY,
        result_ttl=24 * 3600,
        failure_ttl=7 * 24 * 3600,
    )
