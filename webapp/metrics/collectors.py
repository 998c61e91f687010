"""Figures read when ``/metrics`` is scraped, not counted by the processes:
the circuit breakers' state and RQ's queues (from Redis), and today's
YouTube quota (one sum over today's ledger rows in PostgreSQL). Read at
scrape, each is true for the whole deployment whichever web process
answers the scrape (a gauge written by each process would need every one of them to see it
change). Each is one round trip (Redis pipelined, with the web's short
timeouts; the quota under a 2 s statement timeout); when its store does not
answer, its samples are left out (an alert on an open breaker must not fire
because Redis blinked) and ``metrics_collector_up{collector}`` says 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg2
import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from rq import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.worker import Worker

from jobs.runtime import QUEUES
from optimizer.youtube import quota
from reliability import breaker
from reliability.db import transaction
from reliability.errors import DatabaseError

# The value of circuit_breaker_state for each stored state.
BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class ScrapeFigures(Collector):
    """circuit_breaker_state, rq_queue_jobs, rq_started_jobs, rq_failed_jobs,
    rq_workers, youtube_quota_units_used and _limit, and
    metrics_collector_up{collector} for each of breakers, queues and quota."""

    def __init__(self, client: Callable[[], redis.Redis], daily_limit: Callable[[], int]):
        self._client = client
        self._daily_limit = daily_limit

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("metrics_collector_up", "1 when a scrape-time reading succeeded.", labels=["collector"])
        client = self._client()  # made lazily: no connection until a command
        yield from _breakers(client, up)
        yield from _queues(client, up)
        yield from _quota(self._daily_limit(), up)
        yield up


def _breakers(client: redis.Redis, up: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily(
        "circuit_breaker_state",
        "State of the shared circuit breaker: 0 closed, 1 half-open, 2 open.",
        labels=["service"],
    )
    try:
        states = breaker.stored_states(client)
    except redis.RedisError:
        up.add_metric(["breakers"], 0)
    else:
        up.add_metric(["breakers"], 1)
        for service, state in states.items():
            family.add_metric([service], BREAKER_STATE_VALUES.get(state, 0))
    yield family


def _queues(client: redis.Redis, up: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
    queued = GaugeMetricFamily("rq_queue_jobs", "Jobs waiting in each RQ queue.", labels=["queue"])
    started = GaugeMetricFamily("rq_started_jobs", "Jobs running now, by queue.", labels=["queue"])
    failed = GaugeMetricFamily(
        "rq_failed_jobs", "Jobs in each queue's failed registry (kept a year by RQ).", labels=["queue"]
    )
    workers = GaugeMetricFamily("rq_workers", "RQ workers registered.")
    try:
        counts, registered = _queue_counts(client)
    except redis.RedisError:
        up.add_metric(["queues"], 0)
    else:
        up.add_metric(["queues"], 1)
        for name, (waiting, running, broken) in counts.items():
            queued.add_metric([name], waiting)
            started.add_metric([name], running)
            failed.add_metric([name], broken)
        workers.add_metric([], registered)
    yield from (queued, started, failed, workers)


def _quota(daily_limit: int, up: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
    """Today's (Pacific) Data API units, as the budget checks count them."""
    used = GaugeMetricFamily("youtube_quota_units_used", "YouTube Data API units used today (Pacific day).")
    limit = GaugeMetricFamily("youtube_quota_units_limit", "YouTube Data API units a day (YOUTUBE_DAILY_QUOTA).")
    limit.add_metric([], daily_limit)
    try:
        with transaction(statement_timeout_ms=2000) as cur:
            used.add_metric([], quota.units_used_today(cur))
    except (DatabaseError, psycopg2.Error):
        up.add_metric(["quota"], 0)
    else:
        up.add_metric(["quota"], 1)
    yield from (used, limit)


def _queue_counts(client: redis.Redis) -> tuple[dict[str, tuple[int, int, int]], int]:
    """LLEN and ZCARD of RQ's own keys in one pipeline (RQ's count properties
    would clean registries and cost a round trip each): per queue (waiting,
    running, failed), and the workers registered."""
    pipe = client.pipeline(transaction=False)
    for name in QUEUES:
        queue = Queue(name, connection=client)
        pipe.llen(queue.key)
        pipe.zcard(StartedJobRegistry(queue=queue).key)
        pipe.zcard(FailedJobRegistry(queue=queue).key)
    pipe.scard(Worker.redis_workers_keys)
    answers = pipe.execute()
    counts = {
        name: (int(answers[i * 3]), int(answers[i * 3 + 1]), int(answers[i * 3 + 2])) for i, name in enumerate(QUEUES)
    }
    return counts, int(answers[-1])
