"""A counting semaphore shared by every worker through Redis.

Caps concurrent calls to an outside service across all processes (for
Claude: LLM_MAX_CONCURRENCY). Each holder has a lease with a TTL, so a
killed worker's place comes back by itself. One Lua script per acquire,
time from Redis.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from reliability.errors import ServiceUnavailable

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
    def __init__(self, client: redis.Redis, name: str, limit: int, *, lease_ttl_s: float = 180, poll_s: float = 0.02):
        self._redis = client
        self._key = f"yco:semaphore:{name}"
        self.limit = limit
        self._lease_ms = int(lease_ttl_s * 1000)
        self._poll_s = poll_s
        self._acquire = client.register_script(_ACQUIRE)

    @contextmanager
    def hold(self, timeout_s: float = 600) -> Iterator[None]:
        lease = uuid.uuid4().hex
        deadline = time.monotonic() + timeout_s
        while not self._acquire(keys=[self._key], args=[self.limit, self._lease_ms, lease]):
            if time.monotonic() > deadline:
                raise SemaphoreTimeout()
            time.sleep(self._poll_s)
        try:
            yield
        finally:
            try:
                self._redis.zrem(self._key, lease)
            except redis.RedisError:
                pass  # the lease expires by itself

    def in_use(self) -> int:
        return int(self._redis.zcard(self._key))
