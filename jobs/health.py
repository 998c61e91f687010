"""What /health and /health/ready say about the job system: how many
workers are alive and how long the oldest queued job has waited.

A worker counts as alive while its heartbeat is fresh, not while its key
exists: RQ keeps an idle worker's key for 8 minutes, so a SIGKILLed worker
would look alive that long. Our worker (jobs/worker.py) beats at least
every ``CLEANUP_EVERY_HEARTBEATS`` x ``WORKER_HEARTBEAT_S`` (30 s).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue, Worker
from rq.job import Job

from jobs.runtime import QUEUES
from jobs.worker import CLEANUP_EVERY_HEARTBEATS

MISSED_BEATS_BEFORE_DEAD = 2


def alive_after_s(heartbeat_s: int) -> int:
    """A worker whose last heartbeat is older than this is taken for dead."""
    return MISSED_BEATS_BEFORE_DEAD * CLEANUP_EVERY_HEARTBEATS * heartbeat_s


def job_system_health(connection: Redis, heartbeat_s: int) -> dict[str, Any]:
    """{"workers": live workers, "queued": jobs waiting, "oldest_queued_s": seconds or None}."""
    now = datetime.now(UTC)
    limit = alive_after_s(heartbeat_s)
    workers = [
        w
        for w in Worker.all(connection=connection)
        if w.last_heartbeat and (now - _aware(w.last_heartbeat)).total_seconds() <= limit
    ]
    queued, oldest = 0, None
    for name in QUEUES:
        queue = Queue(name, connection=connection)
        queued += queue.count
        enqueued_at = _first_enqueued_at(queue)
        if enqueued_at is not None:
            age = max(0.0, (now - enqueued_at).total_seconds())
            oldest = age if oldest is None else max(oldest, age)
    return {"workers": len(workers), "queued": queued, "oldest_queued_s": None if oldest is None else round(oldest, 1)}


def _first_enqueued_at(queue: Queue) -> datetime | None:
    """The queue's head is its oldest job (RQ pushes at the tail); a job
    deleted under it has no date and is skipped."""
    for job_id in queue.get_job_ids(offset=0, length=5):
        job = Job.fetch_many([job_id], connection=queue.connection)[0]
        if job is not None and job.enqueued_at is not None:
            return _aware(job.enqueued_at)
    return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
