"""The ``not_queued_since`` mark that optimization runs and sync runs share:
set when their job could not be queued (Redis down), taken off when it is.
jobs/queueing.py decides when; the queries live here, one copy for both
tables. Functions run on the caller's cursor and never open or commit a
transaction (reliability/db.py).
"""

from __future__ import annotations

from typing import Any, cast

from reliability.db import Cursor

# The tables with the mark; a name reaches the SQL text only from this set.
TABLES = frozenset({"optimization_runs", "sync_runs"})


def _checked(table: str) -> str:
    if table not in TABLES:
        raise ValueError(f"no not_queued_since mark on {table!r}")
    return table


def mark(cur: Cursor, table: str, row_id: int) -> None:
    """Not queued (the first time is kept)."""
    cur.execute(
        f"UPDATE {_checked(table)} SET not_queued_since = coalesce(not_queued_since, now()) WHERE id = %s",  # noqa: S608
        (row_id,),
    )


def take(cur: Cursor, table: str, row_id: int, active: tuple[str, ...]) -> bool:
    """Take the mark off a row still in an ``active`` state; True for the one caller that did."""
    cur.execute(
        f"""UPDATE {_checked(table)} SET not_queued_since = NULL
                    WHERE id = %s AND not_queued_since IS NOT NULL AND status IN %s
                    RETURNING id""",  # noqa: S608
        (row_id, active),
    )
    return cur.fetchone() is not None


def clear(cur: Cursor, table: str, row_id: int) -> None:
    cur.execute(
        f"UPDATE {_checked(table)} SET not_queued_since = NULL WHERE id = %s AND not_queued_since IS NOT NULL",  # noqa: S608
        (row_id,),
    )


def lost(cur: Cursor, table: str, active: tuple[str, ...], grace_s: int) -> list[dict[str, Any]]:
    """Rows in an ``active`` state that are marked, or older than ``grace_s``
    (their job may be gone): id and ``marked`` each, oldest first."""
    cur.execute(
        f"""SELECT id, not_queued_since IS NOT NULL AS marked FROM {_checked(table)}
                    WHERE status IN %s
                      AND (not_queued_since IS NOT NULL OR created_at < now() - make_interval(secs => %s))
                    ORDER BY id""",  # noqa: S608
        (active, grace_s),
    )
    return cast("list[dict[str, Any]]", cur.fetchall())
