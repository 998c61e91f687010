"""`FakeSerpApi`: SerpApi's search endpoint on a local server, for tests and benchmarks.

Why: keyword research must be testable (what the app asked, how often, and
what it does with errors, empty results and an exhausted plan) without a paid
key or the network. The app reaches it through SERPAPI_BASE_URL; with the
google-search-results client that means setting `BACKEND` (a class attribute of
`serpapi.SerpApiClient`, read as `self.BACKEND` in `construct_url`, so an
instance attribute on one search object works too and touches no other thread):

    with FakeSerpApi() as serp:
        search = YoutubeSearch({"search_query": "sourdough", "api_key": "test"})
        search.BACKEND = serp.url          # or SerpApiClient.BACKEND = serp.url
        search.timeout = 5                  # seconds; the subclasses' __init__ take no timeout
        results = search.get_dict()

Steering: `set_videos(query, [...])`, `set_suggestions(query, [...])`,
`answer_any_query(suggestions=[...], video_titles=[...])` (every query without
its own), `with_html_autocomplete(query=None)` (the hostile case),
`set_response(engine, query, body, status=200)`, `inject(kind, times, engine)`
(kinds in app.py: server_error 500, search_error 503, rate_limit 429,
out_of_searches 429, invalid_key 401, html_error 502 with an HTML body,
timeout), `latency_s`, `searches_per_month`. Assertions: `calls` (per engine),
`queries` / `queries_for(engine)`, `requests`, `searches_used`, `cache_hits`,
`max_in_flight`, `all_request_text()`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.clock import Clock
from tests.fakes.server import FakeServer

from . import results
from .app import ANSWER_FAULTS, ENGINES, FAULT_BODIES, create_app

DEFAULT_API_KEY = "test"
CACHE_SECONDS = 3600.0  # SerpApi serves an identical search from its cache for an hour
UNCACHED_PARAMS = {"api_key", "no_cache", "output", "source", "async"}


@dataclass
class RecordedRequest:
    path: str
    args: dict[str, str]
    headers: dict[str, str]
    engine: str
    query: str | None
    at: float
    status: int | None = None


@dataclass(frozen=True)
class SerpFault:
    kind: str
    seconds: float = 5.0  # timeout: how long the answer is held back

    def __post_init__(self) -> None:
        kinds = set(FAULT_BODIES) | ANSWER_FAULTS
        if self.kind not in kinds:
            raise ValueError(f"unknown fault {self.kind!r}; expected one of {sorted(kinds)}")


class _Faults:
    def __init__(self) -> None:
        self._queue: list[list[Any]] = []  # [fault, remaining, engine]
        self._lock = threading.Lock()

    def inject(self, fault: SerpFault, times: int, engine: str | None) -> None:
        with self._lock:
            self._queue.append([fault, times, engine])

    def take(self, engine: str) -> SerpFault | None:
        with self._lock:
            for entry in self._queue:
                if entry[2] in (None, engine):
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._queue.remove(entry)
                    return entry[0]
        return None

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(entry[1] for entry in self._queue)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()


class FakeSerpApi:
    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        api_keys: Iterable[str] | None = (DEFAULT_API_KEY,),
        searches_per_month: int | None = None,
    ) -> None:
        """`api_keys=None` accepts any non-empty key; `searches_per_month=None` is unlimited."""
        self.clock = Clock()
        self.latency_s = latency_s
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self.searches_per_month = searches_per_month
        self.faults = _Faults()
        self.calls: Counter[str] = Counter()
        self.queries: list[tuple[str, str | None]] = []
        self.requests: list[RecordedRequest] = []
        self.searches_used = 0
        self.cache_hits = 0
        self.in_flight_now = 0
        self.max_in_flight = 0
        self._overrides: dict[tuple[str, str], tuple[int, dict]] = {}
        self._videos: dict[str, list[dict]] = {}
        self._suggestions: dict[str, list[str]] = {}
        self._any_suggestions: list[str] | None = None  # for a query with nothing set of its own
        self._any_videos: list[dict] | None = None
        self._cache: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.server = FakeServer(create_app(self))

    # --- lifecycle ----------------------------------------------------------

    def start(self) -> FakeSerpApi:
        self._stopping.clear()
        self.server.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.server.stop()

    def __enter__(self) -> FakeSerpApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """What BACKEND / SERPAPI_BASE_URL should be (no trailing slash; the client appends /search)."""
        return self.server.url

    def settings(self) -> dict[str, str]:
        key = min(self.api_keys) if self.api_keys else DEFAULT_API_KEY
        return {"SERPAPI_BASE_URL": self.url, "SERPAPI_API_KEY": key}

    # --- steering -----------------------------------------------------------

    def set_videos(self, query: str, videos: list[dict[str, Any]]) -> None:
        """engine=youtube for `query` returns these (partial dicts, filled with generated
        fields); an empty list is SerpApi's "no results" answer."""
        self._videos[query] = list(videos)

    def set_suggestions(self, query: str, values: list[str]) -> None:
        self._suggestions[query] = list(values)

    def answer_any_query(self, *, suggestions: list[str] | None = None, video_titles: list[str] | None = None) -> None:
        """Every query without values of its own gets these autocomplete values
        and top-result titles (None: generated ones). For tests that cannot
        know the seed phrase the app will ask about (hostile titles, say)."""
        self._any_suggestions = list(suggestions) if suggestions is not None else None
        self._any_videos = [{"title": t} for t in video_titles] if video_titles is not None else None

    def with_html_autocomplete(self, query: str | None = None) -> list[str]:
        """The hostile case "HTML in autocomplete": suggestions holding tags,
        an event handler without brackets, a link and an email, for `query`
        (None: any query). Returns the values set."""
        seed = query or "sourdough bread"
        values = [
            f"<b>{seed}</b> recipe",
            f"{seed} <script>alert(1)</script>",
            f"{seed} img src=x onerror=alert(1)",
            f"{seed} bit.ly/free-{seed.split()[0]}",
            f"{seed} jane.doe@gmail.com",
            f"{seed.upper()} RECIPE",
            f"{seed} recipe",
        ]
        if query is None:
            self.answer_any_query(suggestions=values)
        else:
            self.set_suggestions(query, values)
        return values

    def set_response(self, engine: str, query: str, body: dict[str, Any], status: int = 200) -> None:
        """Answer this engine and query with exactly `body` and `status`."""
        self._overrides[(engine, query)] = (status, body)

    def inject(self, kind: str, times: int = 1, engine: str | None = None, *, seconds: float = 5.0) -> None:
        self.faults.inject(SerpFault(kind, seconds), times, engine)

    # --- used by the app ----------------------------------------------------

    def record(
        self, path: str, args: dict[str, str], headers: dict[str, str], engine: str, query: str | None
    ) -> RecordedRequest:
        entry = RecordedRequest(path, args, headers, engine, query, self.clock.now())
        with self._lock:
            self.requests.append(entry)
            self.calls[engine] += 1
            if engine != "account":
                self.queries.append((engine, query))
        return entry

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._lock:
            self.in_flight_now += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight_now)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight_now -= 1

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def key_ok(self, key: str | None) -> bool:
        return bool(key) and (self.api_keys is None or key in self.api_keys)

    def charge(self, params: dict[str, str]) -> bool:
        """Count a search against the plan unless SerpApi's cache serves it; False when out of searches."""
        key = results.search_id({k: v for k, v in params.items() if k not in UNCACHED_PARAMS})
        now = self.clock.now()
        with self._lock:
            if params.get("no_cache") != "true" and self._cache.get(key, 0) > now:
                self.cache_hits += 1
                return True
            if self.searches_per_month is not None and self.searches_used >= self.searches_per_month:
                return False
            self.searches_used += 1
            self._cache[key] = now + CACHE_SECONDS
            return True

    def body_for(self, engine: str, params: dict[str, str]) -> tuple[int, dict]:
        query = params[ENGINES[engine]]
        if (engine, query) in self._overrides:
            return self._overrides[(engine, query)]
        if engine == "youtube":
            return 200, results.youtube_search(params, self.clock.now(), self._videos.get(query, self._any_videos))
        return 200, results.autocomplete(params, self.clock.now(), self._suggestions.get(query, self._any_suggestions))

    def account_info(self, api_key: str) -> dict[str, Any]:
        left = None if self.searches_per_month is None else max(self.searches_per_month - self.searches_used, 0)
        return {
            "account_id": "fake-account",
            "api_key": api_key,
            "plan_id": "fake",
            "plan_name": "Fake plan",
            "searches_per_month": self.searches_per_month,
            "plan_searches_left": left,
            "extra_credits": 0,
            "total_searches_left": left,
            "this_month_usage": self.searches_used,
        }

    # --- assertions ---------------------------------------------------------

    def queries_for(self, engine: str) -> list[str | None]:
        with self._lock:
            return [q for e, q in self.queries if e == engine]

    def all_request_text(self) -> str:
        """Every parameter value the fake received (assert no email or secret went out)."""
        with self._lock:
            return "\n".join(f"{k}={v}" for r in self.requests for k, v in r.args.items())

    def reset_counters(self) -> None:
        """Forget calls, queries, requests, usage, the cache and pending faults."""
        with self._lock:
            self.calls.clear()
            self.queries.clear()
            self.requests.clear()
            self.searches_used = self.cache_hits = 0
            self.max_in_flight = self.in_flight_now
            self._cache.clear()
        self.faults.clear()


def fake_serpapi_fixture(*, scope: str = "function", name: str = "fake_serpapi", **options: Any):
    """A pytest fixture yielding a started FakeSerpApi; options go to the constructor.

    fake_serpapi = fake_serpapi_fixture()
    """

    @pytest.fixture(scope=scope, name=name)
    def _fixture() -> Iterator[FakeSerpApi]:
        with FakeSerpApi(**options) as fake:
            yield fake

    return _fixture
