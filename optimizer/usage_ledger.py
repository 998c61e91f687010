"""The ``usage_ledger`` table's writes: one line per paid call (Claude,
SerpAPI), so what a run, a video or a month cost is a sum of lines.

A Claude line is written before the request is sent (outcome 'sent') and
settled when its answer comes: a worker killed mid-call still leaves the
line. The pages read the sums through webapp/optimize/store.py and
webapp/channels/dashboard_store.py. Every function runs on the caller's
cursor and never opens or commits a transaction (reliability/db.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from optimizer.pricing import Usage
from reliability.db import Cursor


@dataclass(frozen=True)
class LedgerOwner:
    """Whom a line is charged to: the run's requester, channel, run and video."""

    user_id: int | None
    channel_id: int
    run_id: int
    video_id: int | None


def open_claude_line(cur: Cursor, model: str, owner: LedgerOwner) -> int:
    """The line of a Claude request about to be sent; returns its id (the call's ticket)."""
    cur.execute(
        """INSERT INTO usage_ledger (service, model, outcome, user_id, channel_id, run_id, video_id)
           VALUES ('anthropic', %s, 'sent', %s, %s, %s, %s) RETURNING id""",
        (model, owner.user_id, owner.channel_id, owner.run_id, owner.video_id),
    )
    return cast(int, cur.fetchone()["id"])


def settle_claude_line(cur: Cursor, ticket: int, *, outcome: str, usage: Usage, cost_usd: Decimal) -> None:
    """The answer's outcome, tokens and cost on the line written before the
    request; idempotent (a kept answer's calls are settled again when it is used)."""
    cur.execute(
        """UPDATE usage_ledger SET outcome = %s, input_tokens = %s, output_tokens = %s, cache_read_tokens = %s,
                                   cache_write_tokens = %s, cost_usd = %s
           WHERE id = %s AND service = 'anthropic'""",
        (
            outcome,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            cost_usd,
            ticket,
        ),
    )


def record_search(cur: Cursor, engine: str, outcome: str, cost_usd: Decimal, owner: LedgerOwner) -> None:
    """One SerpAPI search."""
    cur.execute(
        """INSERT INTO usage_ledger (service, model, outcome, cost_usd, user_id, channel_id, run_id, video_id)
           VALUES ('serpapi', %s, %s, %s, %s, %s, %s, %s)""",
        (engine, outcome, cost_usd, owner.user_id, owner.channel_id, owner.run_id, owner.video_id),
    )
