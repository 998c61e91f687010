"""The cron process rides out a Redis outage instead of exiting: a tick
that cannot reach Redis is skipped, and the job that was due then is
enqueued on the next tick that reaches Redis (RQ's own scheduler raised and
ended the process, and the supervisor's restarts failed too while Redis
was gone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from rq import Queue

from jobs.cron import build_scheduler
from reliability.redis_clients import rq_client

UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


def _due_now(cron) -> None:
    """Make the every-minute job due, as if its minute had come."""
    job = next(j for j in cron.get_jobs() if j.func_name == "jobs.maintenance.requeue_lost_work")
    job.next_enqueue_time = datetime.now(UTC) - timedelta(seconds=1)


def test_a_tick_without_redis_is_skipped_not_fatal() -> None:
    cron = build_scheduler(rq_client(UNREACHABLE))
    _due_now(cron)
    assert cron.enqueue_jobs() == []  # nothing could be enqueued, and nothing raised
    cron.heartbeat()
    cron.save()
    cron.register_death()


def test_the_job_due_during_the_outage_is_enqueued_once_redis_answers(service_urls) -> None:
    _, redis_url = service_urls
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    cron = build_scheduler(rq_client(UNREACHABLE))
    _due_now(cron)
    assert cron.enqueue_jobs() == []
    cron.connection = rq_client(redis_url)  # Redis is back (the same client reconnects in production)
    enqueued = cron.enqueue_jobs()
    assert [job.func_name for job in enqueued] == ["jobs.maintenance.requeue_lost_work"]
    assert Queue("high", connection=client).count == 1
    client.flushdb()
    client.close()
