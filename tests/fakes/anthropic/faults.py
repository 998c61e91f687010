"""Injected faults for the fake Anthropic API.

Why a queue and not a flag: a test of the app's fallback chain needs "the
primary model is overloaded twice, then answers", or "only claude-haiku fails";
`inject("overloaded", times=2, model="claude-sonnet-4-6")` says exactly that and
empties itself, so the next test starts clean.

Kinds, and what the client sees:

    rate_limit      429 rate_limit_error, `retry-after` header (retry_after=1 s)
    overloaded      529 overloaded_error
    api_error       500 api_error
    timeout         the answer comes after `seconds` (default 5 s): a client
                    timeout shorter than that fires (SDK: APITimeoutError)
    malformed_json  200, but a forced tool's input breaks its schema (a required
                    field missing, an array given as a string); without a tool,
                    text that is not JSON
    refusal         200, stop_reason "refusal", no content
    max_tokens      200, stop_reason "max_tokens", output cut short (a tool's
                    input comes back as {})

A `Fault` can also be an item of `FakeAnthropic.script(...)`, consumed in order
with the answers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from . import errors

ERROR_KINDS = {"rate_limit", "overloaded", "api_error"}
ANSWER_KINDS = {"timeout", "malformed_json", "refusal", "max_tokens"}
KINDS = ERROR_KINDS | ANSWER_KINDS


@dataclass(frozen=True)
class Fault:
    kind: str
    seconds: float = 5.0  # timeout: how long the answer is held back
    retry_after: float = 1.0  # rate_limit: the retry-after header, in seconds

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; expected one of {sorted(KINDS)}")

    def error(self) -> errors.ApiError | None:
        """The HTTP error this fault answers with, or None when it shapes a 200."""
        if self.kind == "rate_limit":
            return errors.rate_limited(self.retry_after)
        if self.kind == "overloaded":
            return errors.overloaded()
        if self.kind == "api_error":
            return errors.internal_error()
        return None


@dataclass
class _Queued:
    fault: Fault
    remaining: int
    model: str | None


class Faults:
    """Queued faults; `take(model)` pops the first one aimed at that model (or at any)."""

    def __init__(self) -> None:
        self._queue: list[_Queued] = []
        self._lock = threading.Lock()

    def inject(self, kind: str, times: int = 1, model: str | None = None, **options: float) -> None:
        fault = Fault(kind, **options)
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queue.append(_Queued(fault, times, model))

    def take(self, model: str) -> Fault | None:
        with self._lock:
            for queued in self._queue:
                if queued.model in (None, model):
                    queued.remaining -= 1
                    if queued.remaining <= 0:
                        self._queue.remove(queued)
                    return queued.fault
        return None

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(q.remaining for q in self._queue)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
