"""Quota accounting and injected faults for the fake YouTube API.

Why the fake keeps a ledger: the app records the units it spends (DESIGN:
"a line in the usage ledger") and plans syncs around 10,000 units a day; tests
compare the app's ledger with what the fake charged, and drive the app into
quotaExceeded without making 10,000 calls (set `daily_limit`).

Charging rule (documented choice): every call that passes authentication is
charged its method's cost, whatever the outcome, including 400s (FACTS: an
invalid request still costs); calls refused for quota, 401s and injected
faults cost nothing. A call is refused when used + cost would pass the limit.
The day is the calendar day in Pacific time, when Google resets quota.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from tests.fakes.clock import Clock

from . import errors

# One table, because costs have changed before (FACTS.md).
COSTS = {
    "channels.list": 1,
    "playlistItems.list": 1,
    "videos.list": 1,
    "videos.update": 50,
    "captions.list": 50,
    "captions.download": 200,
}
# The Analytics and Reporting APIs have a quota of their own, counted in
# queries: the fake keeps it apart (FakeGoogle.analytics_quota).
ANALYTICS_COSTS = {
    "reports.query": 1,
    "reportTypes.list": 1,
    "jobs.list": 1,
    "jobs.create": 1,
    "jobs.reports.list": 1,
    "media.download": 1,
}
ALL_ENDPOINTS = {**COSTS, **ANALYTICS_COSTS}
DEFAULT_DAILY_LIMIT = 10_000
PACIFIC = ZoneInfo("America/Los_Angeles")


class Quota:
    def __init__(self, clock: Clock, daily_limit: int = DEFAULT_DAILY_LIMIT, costs: dict[str, int] = COSTS) -> None:
        self.clock = clock
        self.costs = costs
        self.daily_limit = daily_limit
        self._used: Counter[tuple[date, str]] = Counter()
        self._lock = threading.Lock()

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock.now(), PACIFIC).date()

    def charge(self, endpoint: str) -> int:
        """Charge `endpoint`'s cost, or raise quotaExceeded without charging."""
        cost = self.costs[endpoint]
        with self._lock:
            day = self.today()
            if self._total(day) + cost > self.daily_limit:
                raise errors.quota_exceeded()
            self._used[(day, endpoint)] += cost
        return cost

    def used(self, day: date | None = None) -> int:
        """Units charged on `day` (default: today in Pacific time)."""
        with self._lock:
            return self._total(day or self.today())

    def used_by_endpoint(self, day: date | None = None) -> dict[str, int]:
        day = day or self.today()
        with self._lock:
            return {endpoint: units for (d, endpoint), units in self._used.items() if d == day}

    def remaining(self) -> int:
        return max(self.daily_limit - self.used(), 0)

    def exhaust(self) -> None:
        """Spend the rest of today's quota, as if other work had used it."""
        with self._lock:
            day = self.today()
            self._used[(day, "other")] += max(self.daily_limit - self._total(day), 0)

    def reset(self) -> None:
        with self._lock:
            self._used.clear()

    def _total(self, day: date) -> int:
        return sum(units for (d, _), units in self._used.items() if d == day)


FAULTS = {
    "backendError": errors.backend_error,
    "serviceUnavailable": errors.service_unavailable,
    "rateLimitExceeded": errors.rate_limit_exceeded,
    "quotaExceeded": errors.quota_exceeded,
    "authError": errors.auth_error,
}
# The OAuth endpoints answer in OAuth's own shape: (status, error code).
OAUTH_FAULTS = {"backendError": (500, "internal_failure"), "serviceUnavailable": (503, "temporarily_unavailable")}
OAUTH_ENDPOINTS = {"oauth.token", "oauth.revoke"}


@dataclass
class _Fault:
    kind: str
    remaining: int
    endpoint: str | None


@dataclass(eq=False)
class Hang:
    """Calls that the fake carries out and then holds before answering, as if
    the answer were lost on its way back: for videos.update, YouTube has
    changed the video while the caller still waits (or is killed meanwhile).

    `reached` is set once a call is being held; `release()` lets every held
    call answer (a held call also answers by itself after `timeout_s`)."""

    endpoint: str
    remaining: int
    timeout_s: float
    held: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    _released: threading.Event = field(default_factory=threading.Event)

    def wait_reached(self, timeout: float) -> bool:
        """True once a call is held (its work done), False after `timeout` s."""
        return self.reached.wait(timeout)

    def release(self) -> None:
        self._released.set()


class Faults:
    """Queued failures: `inject("backendError", times=2, endpoint="videos.list")`
    makes the next two videos.list calls answer 500. Without `endpoint` a fault
    hits the next YouTube API calls of any kind (never the OAuth endpoints,
    which must be named: "oauth.token", "oauth.revoke").

    `hang("videos.update")` makes the next successful videos.update change the
    world and then hold its answer until the returned `Hang` is released: a
    worker killed while it waits has written to YouTube without knowing it."""

    def __init__(self) -> None:
        self._queue: deque[_Fault] = deque()
        self._hangs: list[Hang] = []
        self._lock = threading.Lock()

    def inject(self, kind: str, times: int = 1, endpoint: str | None = None) -> None:
        if endpoint in OAUTH_ENDPOINTS:
            if kind not in OAUTH_FAULTS:
                raise ValueError(f"OAuth endpoints support {sorted(OAUTH_FAULTS)}, not {kind!r}")
        elif kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULTS)}")
        elif endpoint is not None and endpoint not in ALL_ENDPOINTS:
            known = sorted(ALL_ENDPOINTS | dict.fromkeys(OAUTH_ENDPOINTS))
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {known}")
        with self._lock:
            self._queue.append(_Fault(kind, times, endpoint))

    def take(self, endpoint: str) -> str | None:
        """The fault kind to answer this call with, if one is queued for it."""
        with self._lock:
            for fault in self._queue:
                if fault.endpoint == endpoint or (fault.endpoint is None and endpoint not in OAUTH_ENDPOINTS):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._queue.remove(fault)
                    return fault.kind
        return None

    def hang(self, endpoint: str, times: int = 1, timeout_s: float = 30.0) -> Hang:
        """Hold the answers of the next `times` successful calls to `endpoint`
        (a YouTube endpoint, named) after the fake has done their work."""
        if endpoint not in COSTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {sorted(COSTS)}")
        hang = Hang(endpoint, times, timeout_s)
        with self._lock:
            self._hangs.append(hang)
        return hang

    def hold(self, endpoint: str) -> None:
        """Called by the fake once a call to `endpoint` has succeeded, before it
        answers: blocks while a queued hang holds that call."""
        with self._lock:
            hang = next((h for h in self._hangs if h.endpoint == endpoint and h.remaining > 0), None)
            if hang is None:
                return
            hang.remaining -= 1
            hang.held += 1
        hang.reached.set()
        hang._released.wait(hang.timeout_s)

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._queue) + sum(h.remaining for h in self._hangs)

    def clear(self) -> None:
        """Forget queued faults and let every held call answer."""
        with self._lock:
            self._queue.clear()
            hangs, self._hangs = self._hangs, []
        for hang in hangs:
            hang.release()
