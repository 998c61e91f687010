"""Claude, through the anthropic SDK, with forced tool output, validation,
one repair attempt, and the model fallback chain.

Retry ownership: the SDK is built with ``max_retries=0``; the fallback chain
is the only retry layer here (the next model answers when one fails), and
the caller falls back to the heuristic engine when every model failed. So a
call counted by the circuit breaker is exactly one HTTP request, and a
half-open probe is one request at the API.

Every request, good or bad, is in the usage ledger: ``on_send(model)``
records it just before it is sent (so a worker killed while waiting for
the answer leaves a line saying it was sent), and ``on_call`` settles that
line with the outcome and token usage once the answer (or error) is in. A
breaker refusal is sent nowhere and recorded nowhere. A line that cannot
be settled (the database went away meanwhile) travels with the answer
(``ClaudeAnswer.unsettled``) so the caller settles it later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import anthropic
from anthropic.types import MessageParam, TextBlockParam, ToolUseBlock

from optimizer import limits
from optimizer.pricing import Usage, cost_usd
from optimizer.prompts import TOOL_NAME, Prompt, repair_message, tool_schema
from reliability import metrics
from reliability.breaker import CircuitBreaker, CircuitOpen, Permit
from reliability.semaphore import RedisSemaphore

log = logging.getLogger(__name__)

MAX_OUTPUT_TOKENS = 2500
# A checked answer and the notes on what was mended in it.
Checked = tuple[dict[str, Any], list[str]]


@dataclass
class ClaudeCall:
    model: str
    # ok, invalid, rate_limited, overloaded, server_error, timeout, connection_error, client_error, breaker_open
    outcome: str
    usage: Usage = field(default_factory=Usage)
    ticket: Any = None  # what on_send returned for this request (its ledger line)


@dataclass
class ClaudeAnswer:
    answer: dict[str, Any]
    model: str
    usage: Usage
    calls: int
    mended: list[str] = field(default_factory=list)  # what was fixed locally, for the review
    unsettled: list[ClaudeCall] = field(default_factory=list)  # on_call failed for these: settle them later


class AllModelsFailed(Exception):
    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class InvalidAnswer(Exception):
    def __init__(self, problems: list[str], tool_use_id: str | None, answer: Any):
        super().__init__("; ".join(problems))
        self.problems = problems
        self.tool_use_id = tool_use_id
        self.answer = answer


def counts_as_failure(exc: BaseException) -> bool:
    """Only what says the service is unwell: 429, 5xx, 529, timeouts and
    connection errors. A 4xx is our request's fault."""
    if isinstance(exc, anthropic.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, anthropic.APIConnectionError)


def outcome_of(exc: BaseException) -> str:
    if isinstance(exc, anthropic.APITimeoutError):
        return "timeout"
    if isinstance(exc, anthropic.APIConnectionError):
        return "connection_error"
    if isinstance(exc, anthropic.APIStatusError):
        if exc.status_code == 429:
            return "rate_limited"
        if exc.status_code == 529:
            return "overloaded"
        return "server_error" if exc.status_code >= 500 else "client_error"
    return "error"


class ClaudeEngine:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        models: list[str],
        timeout_s: float,
        breaker: CircuitBreaker,
        on_call: Callable[[ClaudeCall], None],
        slots: RedisSemaphore | None = None,
        on_send: Callable[[str], Any] | None = None,
    ):
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)
        self.models = models
        self._breaker = breaker
        self._on_call = on_call
        self._on_send = on_send
        # Held per HTTP request, not per video: a killed worker's slot then
        # comes back after one request's timeout, not a whole fallback chain's.
        self._slots = slots

    def suggest(self, prompt: Prompt, on_model: Callable[[str, int], None] | None = None) -> ClaudeAnswer:
        """An answer that passes YouTube's limits, or AllModelsFailed (each
        reason "model: outcome"). ``on_model(model, attempt)`` hears which
        model is asked next (attempt 1 is the primary), for the run page."""
        reasons, calls = [], 0
        unsettled: list[ClaudeCall] = []  # per call of suggest: the engine is shared by a run's threads
        for attempt, model in enumerate(self.models, 1):
            if on_model is not None:
                on_model(model, attempt)
            try:
                (answer, mended), usage, used_calls = self._ask_with_repair(model, prompt, unsettled)
                return ClaudeAnswer(
                    answer=answer,
                    model=model,
                    usage=usage,
                    calls=calls + used_calls,
                    mended=mended,
                    unsettled=unsettled,
                )
            except CircuitOpen as exc:
                # Refused here, never sent: not a call, so nothing for on_call (the usage ledger).
                log.warning("claude not asked: breaker open", extra={"model": model, "reason": exc.message})
                metrics.external_call("anthropic", "breaker_open", None)
                raise AllModelsFailed([f"{model}: breaker_open"]) from None
            except (anthropic.APIError, InvalidAnswer) as exc:
                calls += 2 if isinstance(exc, InvalidAnswer) else 1
                reasons.append(
                    f"{model}: {outcome_of(exc) if isinstance(exc, anthropic.APIError) else 'invalid answer'}"
                )
                log.warning("claude model failed", extra={"model": model, "reason": reasons[-1]})
        raise AllModelsFailed(reasons)

    def _ask_with_repair(self, model: str, prompt: Prompt, unsettled: list[ClaudeCall]) -> tuple[Checked, Usage, int]:
        messages: list[MessageParam] = list(prompt.messages)
        try:
            answer, usage = self._ask(model, prompt.system, messages, unsettled)
            return answer, usage, 1
        except InvalidAnswer as first:
            messages += [
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": first.tool_use_id or "toolu_invalid",
                            "name": TOOL_NAME,
                            "input": first.answer if isinstance(first.answer, dict) else {},
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": first.tool_use_id or "toolu_invalid",
                            "is_error": True,
                            "content": repair_message(first.problems),
                        }
                    ],
                },
            ]
            answer, usage = self._ask(model, prompt.system, messages, unsettled)
            return answer, usage, 2

    def _ask(
        self, model: str, system: list[TextBlockParam], messages: list[MessageParam], unsettled: list[ClaudeCall]
    ) -> tuple[Checked, Usage]:
        with self._breaker.guard() as permit, self._slots.hold() if self._slots else nullcontext():
            ticket = self._sending(permit, model)
            started = time.perf_counter()
            try:
                response = self._client.messages.create(
                    model=model,
                    max_tokens=MAX_OUTPUT_TOKENS,
                    system=system,
                    messages=messages,
                    tools=[tool_schema()],
                    tool_choice={"type": "tool", "name": TOOL_NAME},
                )
            except anthropic.APIError as exc:
                metrics.external_call("anthropic", outcome_of(exc), time.perf_counter() - started)
                self._settle(ClaudeCall(model, outcome_of(exc), ticket=ticket), unsettled)
                raise
        usage = _usage(response.usage)
        # Counted here, once per answer: the ledger line may be settled again later.
        metrics.external_call("anthropic", "ok", time.perf_counter() - started)
        metrics.claude_usage(model, usage, cost_usd(model, usage))
        try:
            answer = check_answer(response)
        except InvalidAnswer:
            self._settle(ClaudeCall(model, "invalid", usage, ticket), unsettled)
            raise
        self._settle(ClaudeCall(model, "ok", usage, ticket), unsettled)
        return answer, usage

    def _sending(self, permit: Permit, model: str) -> Any:
        """The ledger line of a request about to be sent. If it cannot be
        written, nothing is sent (no call the ledger does not know of), and
        the breaker hears nothing of it: Claude was not asked."""
        if self._on_send is None:
            return None
        try:
            return self._on_send(model)
        except BaseException:
            permit.cancel()
            raise

    def settle(self, call: ClaudeCall) -> None:
        """Settle a call's ledger line (raises if it cannot be written)."""
        self._on_call(call)

    def _settle(self, call: ClaudeCall, unsettled: list[ClaudeCall]) -> None:
        """The answer was paid for whatever happens to its ledger line: a
        failure here must not lose the answer, so the call waits with it."""
        try:
            self._on_call(call)
        except Exception:
            log.warning(
                "claude call not settled in the ledger yet",
                extra={"model": call.model, "outcome": call.outcome},
                exc_info=True,
            )
            unsettled.append(call)


def _usage(raw: object) -> Usage:
    return Usage(
        input_tokens=getattr(raw, "input_tokens", 0) or 0,
        output_tokens=getattr(raw, "output_tokens", 0) or 0,
        cache_read_tokens=getattr(raw, "cache_read_input_tokens", 0) or 0,
        cache_write_tokens=getattr(raw, "cache_creation_input_tokens", 0) or 0,
    )


def check_answer(response: anthropic.types.Message) -> Checked:
    """The tool input, mended where a rule can fix it (see ``mend``), if it
    has the right shape and then fits YouTube's limits; and what was mended.
    What needs judgement (a title over 100 characters) raises InvalidAnswer,
    so Claude is asked again."""
    block = next((b for b in response.content if isinstance(b, ToolUseBlock)), None)
    if block is None:
        raise InvalidAnswer(["no submit_optimization call"], None, None)
    answer: dict[str, Any] = block.input if isinstance(block.input, dict) else {}
    problems = shape_problems(answer)
    mended: list[str] = []
    if not problems:
        answer, mended = mend(answer)
        problems = shape_problems(answer)  # nothing may be left empty by mending
    if not problems:
        title = answer["titles"][0]["title"]
        problems = [p.message for p in limits.validate(title, answer["description"], answer["tags"])]
        problems += [
            f"title option {i + 1}: {p.message}"
            for i, t in enumerate(answer["titles"][1:], 1)
            for p in limits.validate(t["title"], "", [])
        ]
    if problems:
        raise InvalidAnswer(problems, block.id, answer)
    return answer, mended


def mend(answer: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Fix locally what a rule can fix, instead of paying for a repair call:
    whitespace, angle brackets and control characters go; repeated tags
    (case-insensitively), empty and over-long tags go; the lowest-ranked
    tags past YouTube's budget go; a description past 5,000 bytes is cut at
    a paragraph. A title's length is left alone: shortening it well needs
    judgement, so an over-long title still goes back to Claude."""
    titles = [{**option, "title": limits.clean_line(option["title"])} for option in answer["titles"]]
    description = limits.fit_description(answer["description"])
    tags = limits.fit_tags([tag.strip() for tag in answer["tags"]])
    mended = []
    if [t["title"] for t in titles] != [t["title"] for t in answer["titles"]]:
        mended.append("Removed characters YouTube refuses from the titles.")
    # Trimmed spaces are no mend; but Python's strip() also takes some control
    # characters YouTube refuses (U+001C to U+001F, U+0085): their removal is one.
    if description != answer["description"].strip() or limits.description_problems(answer["description"]):
        mended.append("Removed characters YouTube refuses from the description, or cut it to 5,000 bytes.")
    if tags != answer["tags"]:
        dropped = len(answer["tags"]) - len(tags)
        mended.append(
            f"Tidied the tags: {dropped} repeated, empty or surplus tag{'s' if dropped != 1 else ''} "
            "removed to fit YouTube's rules."
            if dropped
            else "Tidied the tags to fit YouTube's rules."
        )
    keyword = limits.clean_line(answer["primary_keyword"])
    return {**answer, "titles": titles, "description": description, "tags": tags, "primary_keyword": keyword}, mended


def shape_problems(answer: dict[str, Any]) -> list[str]:
    problems = []
    titles = answer.get("titles")
    if (
        not isinstance(titles, list)
        or len(titles) != 3
        or not all(isinstance(t, dict) and isinstance(t.get("title"), str) and t["title"].strip() for t in titles)
    ):
        problems.append("titles must be three objects with a non-empty title")
    if not isinstance(answer.get("description"), str) or not answer.get("description", "").strip():
        problems.append("description must be non-empty text")
    if not isinstance(answer.get("tags"), list) or not all(isinstance(t, str) for t in answer.get("tags", [])):
        problems.append("tags must be a list of text")
    if not isinstance(answer.get("primary_keyword"), str):
        problems.append("primary_keyword must be text")
    return problems
