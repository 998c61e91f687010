"""Token counting and prompt caching, as the fake Anthropic API bills them.

Why the fake models caching at all: the app's cost ledger and its batch design
(channel context first, marked with cache_control, then one video per call)
are only testable if `usage` tells a cache write from a cache read the way the
API does. The rules implemented here:

Tokens: ceil(len(text) / 4) per block, where a text block counts its `text`,
a tool definition and any other block count their JSON (sorted keys, without
`cache_control`). Deterministic, so tests can compute expected numbers with
`count_tokens(...)`. Output tokens use the same rule (at least 1).

Prefix order is the API's: tools, then system blocks, then message content
blocks in order. A breakpoint is a block carrying `cache_control`
({"type": "ephemeral", "ttl": "5m" | "1h"}, 5m by default); a top-level
`cache_control` marks the last block. A breakpoint whose prefix has fewer than
the model's minimum tokens (1,024 unless configured) is silently not cached,
as the API does.

For each request, per model: the hit is the longest prefix, at or up to 20
blocks before a breakpoint, that an earlier request wrote and that has not
expired; its tokens are `cache_read_input_tokens`. The last eligible
breakpoint beyond the hit is written: `cache_creation_input_tokens` = its
prefix minus the hit. Everything after that is `input_tokens`; so
input + creation + read = all tokens. A hit refreshes the entry's TTL.

Concurrency, as in the real API: an entry becomes readable only when the
response that wrote it is sent (after the fake's latency), so requests sent
together all write, and a batch should warm the cache with one call first.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
LOOKBACK_BLOCKS = 20


def count_tokens(text: str) -> int:
    """The fake's tokenizer: one token per four characters, rounded up."""
    return math.ceil(len(text) / 4)


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
        return block["text"]
    plain = {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block
    return json.dumps(plain, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Segment:
    """One block of the prompt, in cache-prefix order."""

    identity: str  # what makes two prefixes equal: the role/position tag and the block
    tokens: int
    ttl: str | None  # "5m" / "1h" when the block is a breakpoint


def segments(body: dict) -> list[Segment]:
    """The request's blocks in prefix order: tools, system, messages."""
    out: list[Segment] = []

    def add(tag: str, block: Any) -> None:
        control = block.get("cache_control") if isinstance(block, dict) else None
        ttl = (control.get("ttl") or "5m") if isinstance(control, dict) else None
        text = _block_text(block)
        out.append(Segment(f"{tag}\x00{text}", count_tokens(text), ttl))

    for tool in body.get("tools") or []:
        add("tool", tool)
    system = body.get("system")
    for block in [system] if isinstance(system, str) else system or []:
        add("system", block)
    for index, message in enumerate(body.get("messages") or []):
        content = message.get("content")
        for block in [content] if isinstance(content, str) else content or []:
            add(f"{index}:{message.get('role')}", block)
    top = body.get("cache_control")
    if isinstance(top, dict) and out:
        last = out[-1]
        out[-1] = Segment(last.identity, last.tokens, top.get("ttl") or "5m")
    return out


def total_tokens(segs: list[Segment]) -> int:
    return sum(s.tokens for s in segs)


@dataclass
class CachePlan:
    """What one request reads and writes; `usage()` is its share of the usage block."""

    total: int
    read_tokens: int = 0
    write_tokens: int = 0
    write_ttl: str = "5m"
    hit: str | None = None
    writes: list[tuple[str, str]] = field(default_factory=list)  # (prefix key, ttl)

    def usage(self, output_tokens: int) -> dict[str, Any]:
        ephemeral = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
        ephemeral[f"ephemeral_{self.write_ttl}_input_tokens"] = self.write_tokens
        return {
            "input_tokens": self.total - self.read_tokens - self.write_tokens,
            "cache_creation_input_tokens": self.write_tokens,
            "cache_read_input_tokens": self.read_tokens,
            "cache_creation": ephemeral,
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }


class PromptCache:
    """Prefix keys per model, each with an expiry time read from `now()`."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._expires: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def plan(self, model: str, segs: list[Segment], min_tokens: int) -> CachePlan:
        keys, prefix_tokens = _prefix_keys(segs)
        plan = CachePlan(total=total_tokens(segs))
        breakpoints = [i for i, s in enumerate(segs) if s.ttl and prefix_tokens[i] >= min_tokens]
        if not breakpoints:
            return plan
        hit_index = self._longest_hit(model, keys, breakpoints)
        if hit_index is not None:
            plan.hit, plan.read_tokens = keys[hit_index], prefix_tokens[hit_index]
        later = [i for i in breakpoints if hit_index is None or i > hit_index]
        if later:
            plan.write_tokens = prefix_tokens[later[-1]] - plan.read_tokens
            plan.write_ttl = segs[later[-1]].ttl or "5m"
            plan.writes = [(keys[i], segs[i].ttl or "5m") for i in later]
        return plan

    def commit(self, model: str, plan: CachePlan) -> None:
        """Make the plan's writes readable and refresh its hit (when the response is sent)."""
        now = self._now()
        with self._lock:
            if plan.hit is not None and (model, plan.hit) in self._expires:
                ttl = self._expires[(model, plan.hit)][1]
                self._expires[(model, plan.hit)] = (now + TTL_SECONDS[ttl], ttl)
            for key, ttl in plan.writes:
                self._expires[(model, key)] = (now + TTL_SECONDS[ttl], ttl)

    def live_entries(self, model: str | None = None) -> int:
        now = self._now()
        with self._lock:
            return sum(1 for (m, _), (at, _) in self._expires.items() if at > now and model in (None, m))

    def clear(self) -> None:
        with self._lock:
            self._expires.clear()

    def _longest_hit(self, model: str, keys: list[str], breakpoints: list[int]) -> int | None:
        now = self._now()
        candidates = sorted({i for b in breakpoints for i in range(max(0, b - LOOKBACK_BLOCKS), b + 1)}, reverse=True)
        with self._lock:
            for index in candidates:
                entry = self._expires.get((model, keys[index]))
                if entry and entry[0] > now:
                    return index
        return None


def _prefix_keys(segs: list[Segment]) -> tuple[list[str], list[int]]:
    """Running hash of the prefix up to and including each block, and its tokens."""
    digest = hashlib.sha256()
    keys, tokens, running = [], [], 0
    for seg in segs:
        digest.update(seg.identity.encode("utf-8") + b"\x01")
        keys.append(digest.copy().hexdigest())
        running += seg.tokens
        tokens.append(running)
    return keys, tokens
