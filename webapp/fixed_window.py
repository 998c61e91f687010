"""Fixed-window rate-limit counts, one Redis call a limit.

The `limits` library (under Flask-Limiter) counts here directly, in fixed
windows that start on the clock (a per-minute limit's window is a calendar
minute). One call, limits' own INCR-and-EXPIRE script, returns the count,
so what remains (limit - count) and when the window resets (its end) are
known without asking again; Flask-Limiter's moving window answers only yes
or no, and its machinery costs about 0.3 ms of Python a request. The price
of a fixed window: a client may spend up to twice its limit across a
window's edge (the last seconds of one minute and the first of the next).
So the limits that guard passwords stay with Flask-Limiter; these pace
scripts (webapp/api/limits.py) and busy pages (webapp/default_limit.py).

While Redis is down, each process counts in its own memory, as
Flask-Limiter does, and tries Redis again after REDIS_RETRY_S.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import Flask, Response
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage

log = logging.getLogger(__name__)

# How long a process counts in memory after Redis failed, before trying it again.
REDIS_RETRY_S = 5.0
REFUSAL_MESSAGE = "Too many attempts. Please wait a little and try again."


@dataclass(frozen=True)
class Window:
    """One limit's fixed window after this request was counted in it."""

    item: RateLimitItem
    count: int
    reset_at: int  # epoch seconds: the window's end

    @property
    def remaining(self) -> int:
        return max(self.item.amount - self.count, 0)

    @property
    def breached(self) -> bool:
        return self.count > self.item.amount


@lru_cache(maxsize=32)
def limit_items(text: str) -> tuple[RateLimitItem, ...]:
    """ "5 per minute; 50 per day": each of its limits."""
    return tuple(parse_many(text))


class Counter:
    """Fixed-window counts in Redis, or in this process's memory for
    REDIS_RETRY_S after Redis failed."""

    def __init__(self, storage_uri: str, options: dict[str, Any]):
        self._redis = RedisStorage(storage_uri, wrap_exceptions=True, **options)
        self._memory: Storage | None = None  # made on first need: it runs a timer thread
        self._redis_down_until = 0.0

    def hit(self, item: RateLimitItem, *scope: str) -> Window:
        now = time.time()
        expiry = item.get_expiry()
        start = int(now // expiry) * expiry
        key = item.key_for(*scope, str(start))
        return Window(item, self._incr(key, expiry, now), start + expiry)

    def _incr(self, key: str, expiry: int, now: float) -> int:
        if now >= self._redis_down_until:
            try:
                return self._redis.incr(key, expiry)
            except StorageError:
                log.warning("rate limit storage unreachable: counting in memory for %.0f s", REDIS_RETRY_S)
                self._redis_down_until = now + REDIS_RETRY_S
        if self._memory is None:
            self._memory = MemoryStorage()
        return self._memory.incr(key, expiry)


def counter(app: Flask) -> Counter:
    """The app's one counter, made on its first request: the limiter's
    storage settings are set late in create_app, and nothing connects
    before gunicorn forks."""
    found = app.extensions.get("fixed_window_counter")
    if found is None:
        made = Counter(app.config["RATELIMIT_STORAGE_URI"], app.config["RATELIMIT_STORAGE_OPTIONS"])
        found = app.extensions.setdefault("fixed_window_counter", made)
    return found


def write_headers(response: Response, limit: int, remaining: int, reset_at: int) -> None:
    """X-RateLimit-*, and Retry-After on a 429 that did not set its own."""
    response.headers["X-RateLimit-Limit"] = str(limit)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Reset"] = str(reset_at)
    if response.status_code == 429 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
