"""A counting semaphore shared by every worker through Redis.

Caps concurrent calls to an outside service across all processes (for
Claude: LLM_MAX_CONCURRENCY). Each holder has a lease with a TTL, so a
killed worker's place comes back by itself. One Lua script per acquire,
time from Redis.

When Redis cannot be reached it agrees with the circuit breaker
(reliability/breaker.py), which fails open: a blip shorter than
``outage_grace_s`` only delays the caller (it keeps asking, with backoff);
a longer outage lets the call through without a place, logged, rather than
failing the video. Each job still caps its own calls (its thread pool is
LLM_MAX_CONCURRENCY wide), so the cap is per job until Redis is back.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from reliability.errors import ServiceUnavailable

log = logging.getLogger(__name__)

_ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
"""


class SemaphoreTimeout(ServiceUnavailable):
    code = "busy"
    message = "Too many requests are in progress; this one waited too long."


class RedisSemaphore:
    def __init__(
        self,
        client: redis.Redis,
        name: str,
        limit: int,
        *,
        lease_ttl_s: float = 180,
        poll_s: float = 0.02,
        outage_grace_s: float = 10,
    ):
        self._redis = client
        self._key = f"yco:semaphore:{name}"
        self.limit = limit
        self._lease_ms = int(lease_ttl_s * 1000)
        self._poll_s = poll_s
        self._outage_grace_s = outage_grace_s
        self._acquire = client.register_script(_ACQUIRE)

    @contextmanager
    def hold(self, timeout_s: float = 600) -> Iterator[None]:
        lease = uuid.uuid4().hex
        held = self._wait_for_place(lease, time.monotonic() + timeout_s)
        try:
            yield
        finally:
            if held:
                try:
                    self._redis.zrem(self._key, lease)
                except redis.RedisError:
                    pass  # the lease expires by itself

    def _wait_for_place(self, lease: str, deadline: float) -> bool:
        """True once a place is held; False when Redis stayed unreachable for
        ``outage_grace_s`` (the call goes ahead, as the breaker lets it)."""
        unreachable_since, backoff = None, 0.1
        while True:
            try:
                if self._acquire(keys=[self._key], args=[self.limit, self._lease_ms, lease]):
                    return True
                unreachable_since, delay = None, self._poll_s
            except redis.RedisError as exc:
                now = time.monotonic()
                unreachable_since = unreachable_since or now
                if now - unreachable_since >= self._outage_grace_s:
                    log.warning(
                        "semaphore storage unreachable, going ahead without a place",
                        extra={"semaphore": self._key, "error": type(exc).__name__},
                    )
                    return False
                delay, backoff = backoff, min(backoff * 2, 2.0)
            if time.monotonic() > deadline:
                raise SemaphoreTimeout()
            time.sleep(delay)

    def in_use(self) -> int:
        return int(self._redis.zcard(self._key))
