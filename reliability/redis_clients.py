"""Every Redis client the app builds, one constructor per need, so the
timeouts that suit each use are chosen here and nowhere else."""

from __future__ import annotations

import logging
import time

import redis

log = logging.getLogger(__name__)

# What a lost or restarting Redis raises; the long-running processes ride these out.
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
REDIS_WAIT_MAX_S = 10.0


def web_client(url: str) -> redis.Redis:
    """For requests: short timeouts, so a Redis outage degrades a page
    (rate limits, breakers) instead of hanging it."""
    return redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0, health_check_interval=30)


def job_client(url: str) -> redis.Redis:
    """For the caches and breakers a job uses while it runs: a little more
    patience than a request, still bounded."""
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def rq_client(url: str) -> redis.Redis:
    """For RQ itself (worker, scheduler, enqueueing from jobs): RQ blocks on
    Redis for minutes at a time, so no socket read timeout."""
    return redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)


def wait_for_redis(connection: redis.Redis) -> None:
    """Block until Redis answers, trying after 1, 2, 4 ... 10 s."""
    delay = 1.0
    while True:
        try:
            connection.ping()
            return
        except REDIS_DOWN as exc:
            log.warning("waiting for Redis: %s; next try in %.0f s", exc, delay)
        time.sleep(delay)
        delay = min(delay * 2, REDIS_WAIT_MAX_S)
