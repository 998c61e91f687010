"""`FakeAnthropic`: the Anthropic Messages API on a local server, for tests and benchmarks.

Why a fake over real HTTP: the app's Claude client (anthropic SDK, base URL from
ANTHROPIC_BASE_URL) must run unchanged, with its own timeouts, retries, error
classes and usage accounting, against something that answers like the API:

    with FakeAnthropic() as claude:
        client = anthropic.Anthropic(api_key="test", base_url=claude.url, max_retries=0)
        app = create_app({**config, **claude.settings()})

With no set-up every call gets a valid optimization answer derived from the
request (see answers.py for its shape). Tests steer it with:

    claude.respond_with(lambda body: {...})       # every call; return None for the default
    claude.respond_with(hostile_answer)           # the hostile case (answers.hostile_answer)
    claude.script("claude-sonnet-4-6", [answer, Fault("overloaded"), "text"])  # in order, per model
    claude.inject("overloaded", times=2, model="claude-sonnet-4-6")          # see faults.py
    claude.latency_s = 0.05                                                  # per call

and assert with `calls`, `total_calls`, `max_in_flight`, `requests`,
`all_request_text()`, `usage` / `usage_by_model`, `cache.live_entries()`.
`clock.advance(301)` expires 5-minute cache entries without sleeping.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.clock import Clock
from tests.fakes.server import FakeServer

from .answers import Reply, default_answer
from .app import create_app
from .caching import PromptCache
from .faults import Fault, Faults

# The model ids of SDK 2.10.0 (anthropic/types/model.py), less those whose
# end-of-life date in the SDK's DEPRECATED_MODELS has passed. Tests retire a
# model with `fake.models.discard(id)` (the API then answers 404 not_found_error).
KNOWN_MODELS = frozenset(
    {
        "claude-opus-5-5",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
        "claude-opus-5",
        "claude-sonnet-5",
        "claude-fable-5-2",
        "claude-fable-5-1",
        "claude-fable-5",
        "claude-mythos-5-2",
        "claude-mythos-5-1",
        "claude-mythos-5",
        "claude-opus-4-8",
        "claude-opus-4-7",
        "claude-opus-4-6",
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
        "claude-haiku-4-5-20251001",
        "claude-opus-4-5",
        "claude-opus-4-5-20251101",
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
    }
)
DEFAULT_API_KEY = "test"

Answer = dict | str | Reply | Fault
Responder = Callable[[dict], Answer | None]


@dataclass
class RecordedRequest:
    """One request as the fake received it; `status` is filled in when answered."""

    path: str
    headers: dict[str, str]
    body: str
    json: Any
    at: float
    status: int | None = None

    @property
    def model(self) -> str | None:
        return self.json.get("model") if isinstance(self.json, dict) else None


@dataclass
class UsageTotals:
    """Sums of the `usage` blocks the fake returned (successful calls only)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    responses: int = 0

    def add(self, usage: dict[str, Any]) -> None:
        self.input_tokens += usage["input_tokens"]
        self.output_tokens += usage["output_tokens"]
        self.cache_creation_input_tokens += usage["cache_creation_input_tokens"]
        self.cache_read_input_tokens += usage["cache_read_input_tokens"]
        self.responses += 1


class FakeAnthropic:
    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        api_keys: Iterable[str] | None = (DEFAULT_API_KEY,),
        models: Iterable[str] = KNOWN_MODELS,
        min_cacheable_tokens: int = 1024,
        max_output_tokens: int = 64_000,
        strict_roles: bool = False,
    ) -> None:
        """`api_keys=None` accepts any non-empty key; `min_cacheable_tokens_by_model`
        (a dict attribute) overrides the minimum per model (the API's is 1,024 to
        4,096 depending on the model)."""
        self.clock = Clock()
        self.latency_s = latency_s
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self.models = set(models)
        self.min_cacheable_tokens = min_cacheable_tokens
        self.min_cacheable_tokens_by_model: dict[str, int] = {}
        self.max_output_tokens = max_output_tokens
        self.strict_roles = strict_roles
        self.faults = Faults()
        self.cache = PromptCache(self.clock.now)
        self.calls: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        self.usage = UsageTotals()
        self.usage_by_model: dict[str, UsageTotals] = {}
        self.in_flight_now = 0
        self.max_in_flight = 0
        self._responder: Responder | None = None
        self._scripts: dict[str | None, deque[Answer]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.app = create_app(self)
        self.server = FakeServer(self.app)

    # --- lifecycle ----------------------------------------------------------

    def start(self) -> FakeAnthropic:
        self._stopping.clear()
        self.server.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on latency or a timeout fault
        self.server.stop()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The SDK's base_url (it appends /v1/messages itself)."""
        return self.server.url

    def settings(self) -> dict[str, str]:
        """The app's configuration names pointing at this fake (DESIGN.md)."""
        key = min(self.api_keys) if self.api_keys else DEFAULT_API_KEY
        return {"ANTHROPIC_BASE_URL": self.url, "ANTHROPIC_API_KEY": key}

    # --- steering -----------------------------------------------------------

    def respond_with(self, responder: Responder | None) -> None:
        """Answer every call with `responder(request_json)`: a dict (a tool's input,
        or JSON text when no tool is offered), a str (text), a Reply, a Fault, or
        None for the default answer. `respond_with(None)` restores the default."""
        self._responder = responder

    def script(self, model: str | None, answers: Iterable[Answer]) -> None:
        """Queue answers (or Faults) for `model` (None: any model), used before the responder."""
        with self._lock:
            self._scripts.setdefault(model, deque()).extend(answers)

    def inject(self, kind: str, times: int = 1, model: str | None = None, **options: float) -> None:
        """Queue a fault (faults.py): rate_limit, overloaded, api_error, timeout,
        malformed_json, refusal, max_tokens; options `seconds`, `retry_after`."""
        self.faults.inject(kind, times=times, model=model, **options)

    def min_tokens_for(self, model: str) -> int:
        return self.min_cacheable_tokens_by_model.get(model, self.min_cacheable_tokens)

    # --- used by the app ----------------------------------------------------

    def next_answer(self, model: str, body: dict) -> Answer:
        with self._lock:
            for key in (model, None):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
        return self.responder_answer(body)

    def responder_answer(self, body: dict) -> Answer:
        answer = self._responder(body) if self._responder is not None else None
        return default_answer(body) if answer is None else answer

    def record(self, path: str, headers: dict[str, str], raw: str, body: Any) -> RecordedRequest:
        entry = RecordedRequest(path, headers, raw, body, self.clock.now())
        with self._lock:
            self.requests.append(entry)
            if path == "/v1/messages" and entry.model:
                self.calls[entry.model] += 1
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

    def add_usage(self, model: str, usage: dict[str, Any]) -> None:
        with self._lock:
            self.usage.add(usage)
            self.usage_by_model.setdefault(model, UsageTotals()).add(usage)

    # --- assertions ---------------------------------------------------------

    @property
    def total_calls(self) -> int:
        """POST /v1/messages received, valid or not (count_tokens excluded)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == "/v1/messages")

    @property
    def pending_scripted(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._scripts.values())

    def requests_for(self, model: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.model == model]

    def all_request_text(self) -> str:
        """Every request body as sent, then every string inside it decoded (so
        "\\u00e9"-escaped or nested text is searchable too): assert that an email
        or a token never reached the API with `needle not in fake.all_request_text()`."""
        with self._lock:
            recorded = list(self.requests)
        parts = [r.body for r in recorded]
        for r in recorded:
            parts.extend(_strings(r.json))
        return "\n".join(parts)

    def reset_counters(self) -> None:
        """Forget calls, requests, usage, the in-flight maximum, scripts, faults and the cache."""
        with self._lock:
            self.calls.clear()
            self.requests.clear()
            self.usage = UsageTotals()
            self.usage_by_model.clear()
            self.max_in_flight = self.in_flight_now
            self._scripts.clear()
        self.faults.clear()
        self.cache.clear()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def fake_anthropic_fixture(*, scope: str = "function", name: str = "fake_anthropic", **options: Any):
    """A pytest fixture yielding a started FakeAnthropic; options go to the constructor.

    fake_anthropic = fake_anthropic_fixture()                     # in a test module
    claude_slow = fake_anthropic_fixture(name="claude_slow", latency_s=0.05)
    """

    @pytest.fixture(scope=scope, name=name)
    def _fixture() -> Iterator[FakeAnthropic]:
        with FakeAnthropic(**options) as fake:
            yield fake

    return _fixture
