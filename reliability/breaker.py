"""A circuit breaker shared by every process through Redis.

Why our own: pybreaker's Redis storage reads and writes state in separate
round trips, so under concurrency it loses counts, and in half-open it lets
every worker through at once. Here each transition is one Lua script, run
atomically by Redis, with time taken from Redis (``TIME``) so that clocks of
different machines never disagree.

States:
- closed: calls pass; outcomes go into a sliding window. When the window
  holds at least ``min_calls`` calls and the failure rate (or the slow-call
  rate) reaches its threshold, the breaker opens.
- open: calls are refused (CircuitOpen) for ``reset_timeout_s``.
- half-open: exactly ``half_open_permits`` probes are admitted, each holding
  a lease with a TTL, so a probe whose worker was killed frees its place when
  the lease expires. A failed probe opens the breaker again; once
  ``half_open_permits`` probes have succeeded it closes.

Only failures that say the service is unwell count: 429, 5xx, 529,
timeouts, connection errors. A client error (400, 401, 404, …) is our
request's fault and never opens the breaker: ``counts_as_failure`` decides.

If Redis itself is unreachable the breaker fails open: calls go through,
a warning is logged, and nothing is counted. Reason: the breaker protects
the outside service and our job time; refusing every call because our own
Redis blinked would turn a Redis hiccup into a full outage of optimization,
while the calls themselves keep their own timeouts and bounded retries.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import redis

from reliability.errors import ServiceUnavailable

_P = ParamSpec("_P")
_R = TypeVar("_R")

log = logging.getLogger(__name__)

_ACQUIRE = """
local state_key, probes_key = KEYS[1], KEYS[2]
local reset_ms, permits, lease_ms, lease_id = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local state = redis.call('HGET', state_key, 'state') or 'closed'
if state == 'closed' then return {'closed', ''} end
if state == 'open' then
  local opened = tonumber(redis.call('HGET', state_key, 'opened_at') or '0')
  if now < opened + reset_ms then return {'open', tostring(opened + reset_ms - now)} end
  redis.call('HSET', state_key, 'state', 'half_open', 'successes', 0)
  redis.call('DEL', probes_key)
end
redis.call('ZREMRANGEBYSCORE', probes_key, '-inf', now)
local admitted = redis.call('ZCARD', probes_key) + tonumber(redis.call('HGET', state_key, 'successes') or '0')
if admitted >= permits then
  local first = redis.call('ZRANGE', probes_key, 0, 0, 'WITHSCORES')
  local left = first[2] and (tonumber(first[2]) - now) or lease_ms
  return {'half_open', tostring(left)}
end
redis.call('ZADD', probes_key, now + lease_ms, lease_id)
redis.call('PEXPIRE', probes_key, lease_ms * 2)
return {'probe', lease_id}
"""

_RECORD = """
local state_key, probes_key, calls_key = KEYS[1], KEYS[2], KEYS[3]
local lease_id, outcome = ARGV[1], ARGV[2]
local window_ms, min_calls = tonumber(ARGV[3]), tonumber(ARGV[4])
local failure_rate, slow_rate, permits = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local reset_ms = ARGV[9]
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local state = redis.call('HGET', state_key, 'state') or 'closed'
if lease_id ~= '' then
  if state ~= 'half_open' or redis.call('ZREM', probes_key, lease_id) == 0 then return state end
  if outcome == 'failure' then
    redis.call('HSET', state_key, 'state', 'open', 'opened_at', now, 'reset_ms', reset_ms, 'successes', 0)
    redis.call('DEL', probes_key)
    return 'open'
  end
  local successes = redis.call('HINCRBY', state_key, 'successes', 1)
  if successes >= permits then
    redis.call('HSET', state_key, 'state', 'closed', 'successes', 0)
    redis.call('DEL', probes_key, calls_key)
    return 'closed'
  end
  return 'half_open'
end
if state ~= 'closed' then return state end
local member = now .. ':' .. ARGV[8] .. ':' .. outcome
redis.call('ZADD', calls_key, now, member)
redis.call('ZREMRANGEBYSCORE', calls_key, '-inf', now - window_ms)
redis.call('PEXPIRE', calls_key, window_ms * 2)
local calls = redis.call('ZRANGEBYSCORE', calls_key, now - window_ms, '+inf')
local total, failures, slow = #calls, 0, 0
if total < min_calls then return 'closed' end
for _, m in ipairs(calls) do
  local kind = string.match(m, ':(%a+)$')
  if kind == 'failure' then failures = failures + 1 elseif kind == 'slow' then slow = slow + 1 end
end
if failures / total >= failure_rate or (slow_rate <= 1 and slow / total >= slow_rate) then
  redis.call('HSET', state_key, 'state', 'open', 'opened_at', now, 'reset_ms', reset_ms, 'successes', 0)
  redis.call('DEL', calls_key)
  return 'open'
end
return 'closed'
"""


# In half-open the breaker closes as soon as its trial calls succeed (about
# one call's time), not when a probe's lease would expire (a killed probe's
# place only): a refusal then says to look again shortly.
HALF_OPEN_RECHECK_S = 5.0


class CircuitOpen(ServiceUnavailable):
    code = "circuit_open"

    def __init__(self, name: str, retry_after_s: float, *, half_open: bool = False):
        if half_open:
            retry_after_s = min(retry_after_s, HALF_OPEN_RECHECK_S)
            message = (
                f"{name} is recovering: trial calls are being made, and calls resume as soon as they succeed; "
                f"try again in about {max(1, round(retry_after_s))} s."
            )
        else:
            message = f"{name} is failing right now; calls are paused for about {max(1, round(retry_after_s))} s."
        super().__init__(message)
        self.name = name
        self.retry_after_s = retry_after_s
        self.half_open = half_open


@dataclass
class Permit:
    breaker: CircuitBreaker
    lease_id: str  # '' outside half-open
    started: float
    cancelled: bool = False

    def cancel(self) -> None:
        """The call was never made: no outcome to count, and a half-open
        probe's place is given back at once (not when its lease expires)."""
        self.cancelled = True
        if self.lease_id:
            try:
                self.breaker.redis.zrem(self.breaker._keys[1], self.lease_id)
            except redis.RedisError:
                pass  # the lease expires by itself

    def success(self) -> None:
        if self.cancelled:
            return
        elapsed = time.monotonic() - self.started
        slow = self.breaker.slow_call_s is not None and elapsed >= self.breaker.slow_call_s
        self.breaker._record(self.lease_id, "slow" if slow else "success")

    def failure(self, exc: BaseException | None = None) -> None:
        if self.cancelled:
            return
        if exc is not None and not self.breaker.counts_as_failure(exc):
            self.success()  # the service answered; our request was at fault
            return
        self.breaker._record(self.lease_id, "failure")


def _always(_exc: BaseException) -> bool:
    return True


class CircuitBreaker:
    def __init__(
        self,
        client: redis.Redis,
        name: str,
        *,
        window_s: float = 60,
        min_calls: int = 10,
        failure_rate: float = 0.5,
        slow_call_s: float | None = None,
        slow_rate: float = 1.01,
        reset_timeout_s: float = 30,
        half_open_permits: int = 2,
        lease_ttl_s: float = 60,
        counts_as_failure: Callable[[BaseException], bool] = _always,
    ):
        self.redis = client
        self.name = name
        self.window_ms = int(window_s * 1000)
        self.min_calls = min_calls
        self.failure_rate = failure_rate
        self.slow_call_s = slow_call_s
        self.slow_rate = slow_rate
        self.reset_ms = int(reset_timeout_s * 1000)
        self.half_open_permits = half_open_permits
        self.lease_ms = int(lease_ttl_s * 1000)
        self.counts_as_failure = counts_as_failure
        prefix = f"yco:breaker:{name}"
        self._keys = (f"{prefix}:state", f"{prefix}:probes", f"{prefix}:calls")
        self._acquire = client.register_script(_ACQUIRE)
        self._record_script = client.register_script(_RECORD)

    def allow(self) -> Permit:
        """A permit to call, or CircuitOpen."""
        lease = uuid.uuid4().hex
        try:
            verdict, detail = self._acquire(
                keys=self._keys[:2], args=[self.reset_ms, self.half_open_permits, self.lease_ms, lease]
            )
        except redis.RedisError as exc:
            log.warning(
                "breaker storage unreachable, failing open", extra={"breaker": self.name, "error": type(exc).__name__}
            )
            return Permit(self, "", time.monotonic())
        verdict = _text(verdict)
        if verdict in ("open", "half_open"):
            raise CircuitOpen(self.name, int(float(_text(detail) or 0)) / 1000, half_open=verdict == "half_open")
        return Permit(self, lease if verdict == "probe" else "", time.monotonic())

    def _record(self, lease_id: str, outcome: str) -> None:
        args: list[str | int | float] = [
            lease_id,
            outcome,
            self.window_ms,
            self.min_calls,
            self.failure_rate,
            self.slow_rate,
            self.half_open_permits,
            uuid.uuid4().hex[:8],
            self.reset_ms,  # kept with the opening, so a reader knows when the pause ends
        ]
        try:
            self._record_script(keys=list(self._keys), args=args)
        except redis.RedisError as exc:
            log.warning(
                "breaker storage unreachable, outcome not counted",
                extra={"breaker": self.name, "error": type(exc).__name__},
            )

    @contextmanager
    def guard(self) -> Iterator[Permit]:
        """``with breaker.guard(): call()`` — outcome recorded from the block."""
        permit = self.allow()
        try:
            yield permit
        except BaseException as exc:
            permit.failure(exc)
            raise
        permit.success()

    def __call__(self, func: Callable[_P, _R]) -> Callable[_P, _R]:
        """Decorator form."""

        @wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with self.guard():
                return func(*args, **kwargs)

        return wrapper

    def state(self) -> dict[str, Any]:
        """For health pages: the state as the next call would find it (see
        ``_as_next_call_finds``)."""
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.time()
            pipe.hmget(self._keys[0], _STATE_FIELDS)
            pipe.zcard(self._keys[1])
            pipe.zcard(self._keys[2])
            now, stored, probes, calls = pipe.execute()
        except redis.RedisError:
            return {"name": self.name, "state": "unknown"}
        return {
            "name": self.name,
            "state": _as_next_call_finds(stored, _millis(now)),
            "probes_in_flight": probes,
            "calls_in_window": calls,
        }

    def reset(self) -> None:
        self.redis.delete(*self._keys)


# The outside services behind a shared breaker (the names their breakers are made with).
SERVICES = ("anthropic", "serpapi", "youtube")


def stored_states(client: redis.Redis, names: tuple[str, ...] = SERVICES) -> dict[str, str]:
    """Each breaker's state as the next call would find it, in one round
    trip, for metrics. Raises redis.RedisError when Redis does not answer."""
    pipe = client.pipeline(transaction=False)
    pipe.time()
    for name in names:
        pipe.hmget(f"yco:breaker:{name}:state", _STATE_FIELDS)
    now, *stored = pipe.execute()
    return {name: _as_next_call_finds(fields, _millis(now)) for name, fields in zip(names, stored, strict=True)}


_STATE_FIELDS = ("state", "opened_at", "reset_ms")


def _as_next_call_finds(fields: list[Any], now_ms: int) -> str:
    """The stored state, except that an open breaker whose pause is over is
    half-open: the next call is a probe (``_ACQUIRE`` stores that change only
    then). Without it a breaker that opened once would read open, and its
    alert keep firing, until some call came, with no traffic maybe hours
    later. The clock is Redis's, as in the scripts. A breaker opened before
    ``reset_ms`` was kept reads as stored."""
    state, opened_at, reset_ms = (_text(value) if value is not None else None for value in fields)
    if state == "open" and opened_at and reset_ms and now_ms >= int(opened_at) + int(reset_ms):
        return "half_open"
    return state or "closed"


def _millis(redis_time: tuple[int, int]) -> int:
    seconds, micros = redis_time
    return int(seconds) * 1000 + int(micros) // 1000


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
