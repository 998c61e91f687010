"""What each video of an optimization run is doing, what it paid, and why
it got the engine it got, in words a creator reads on the run page.

One place for these labels: the pipeline writes a stage as it moves
(``set_stage``, in its own short transaction; the UPDATE is runs.py's,
which owns every run-video row), the run page reads it back through ``stage_label``; the
cost and fallback wording is here too so the page and the stored notes
never disagree with each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from optimizer import runs
from reliability.db import transaction

# stage -> label; "{model}" is filled in. NULL in the table: waiting its turn.
STAGES = {
    "transcript": "Fetching the transcript…",
    "research": "Researching keywords…",
    "claude": "Asking Claude ({model})…",
    "next_model": "Trying the next model ({model})…",
    "heuristic": "Writing the rule-based suggestion…",
}
WAITING = "Waiting its turn…"
# A stage held this long is worth saying how long ("for 40 s"): Claude is slow.
SLOW_STAGE_S = 5


def set_stage(run_id: int, video_id: int, stage: str, model: str | None = None) -> None:
    """Only a video still pending moves: a finished one keeps its result."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    with transaction() as cur:
        runs.set_video_stage(cur, run_id, video_id, stage, model)


def stage_label(stage: str | None, model: str | None = None, seconds: float | None = None) -> str:
    if stage not in STAGES:
        return WAITING
    label = STAGES[stage].format(model=model or "Claude")
    if seconds is not None and seconds >= SLOW_STAGE_S:
        label += f" ({int(seconds)} s so far)"
    return label


# -- why the rule-based engine answered ------------------------------------------

# ClaudeCall outcomes (and "invalid answer") -> what Claude did, for a sentence "Claude ...".
_FAILED = {
    "overloaded": "was busy (overloaded)",
    "rate_limited": "had too many requests to answer (rate limit)",
    "timeout": "took too long to answer",
    "server_error": "had a server error",
    "connection_error": "could not be reached",
    "client_error": "refused the request",
    "invalid answer": "gave answers that broke YouTube's limits",
    "error": "failed",
}
NO_KEY_NOTE = "Claude is not set up on this server (no ANTHROPIC_API_KEY), so this is the rule-based suggestion."
BREAKER_NOTE = (
    "Claude has been failing for the last minute, so it was not asked; this is the rule-based suggestion. "
    "Optimize this video again in a minute or two for Claude's version."
)


def fallback_note(reasons: list[str]) -> str:
    """``reasons`` as AllModelsFailed gives them ("model: outcome")."""
    outcomes = [reason.rsplit(": ", 1)[-1] for reason in reasons]
    if "breaker_open" in outcomes:
        return BREAKER_NOTE
    said = list(dict.fromkeys(_FAILED.get(o, _FAILED["error"]) for o in outcomes)) or [_FAILED["error"]]
    return f"Claude {', then '.join(said)}, so this is the rule-based suggestion."


# -- what a video cost -------------------------------------------------------------


def _money(amount: Decimal) -> str:
    return f"${amount:.4f}"


def _calls(n: int) -> str:
    return f"{n} Claude call{'' if n == 1 else 's'}"


def paid_words(row: Mapping[str, Any]) -> str:
    """One line: what was paid for this video and why. ``row`` holds the
    engine and the ledger sums (failed_calls, failed_cost, claude_calls,
    claude_cost, research_calls, research_cost)."""
    parts = []
    if row["failed_calls"]:
        parts.append(f"{_calls(row['failed_calls'])} failed ({_money(row['failed_cost'])})")
    if row["engine"] == "claude" and row["claude_calls"]:
        parts.append(f"Claude answered ({_money(row['claude_cost'])})")
    elif row["engine"] == "claude":
        parts.append("an earlier answer reused (nothing paid)")
    elif row["engine"] == "heuristic":
        parts.append("rule-based (free)" if not row["failed_calls"] else "rule-based")
    text = ", then ".join(parts)
    if row["research_calls"]:
        text += f"; keyword research {_money(row['research_cost'])}"
    return text[:1].upper() + text[1:]
