"""YouTube quota: the cost table (in one place: costs have changed before),
the per-Pacific-day ledger, and the daily budget check.

The quota resets at midnight Pacific time, so "today" is the Pacific date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from reliability.errors import AppError

PACIFIC = ZoneInfo("America/Los_Angeles")

# Units per call, from the YouTube Data API's quota table.
COSTS: dict[str, int] = {
    "channels.list": 1,
    "playlistItems.list": 1,
    "videos.list": 1,
    "videos.update": 50,
    "captions.list": 50,
    "captions.download": 200,
    "search.list": 100,
}


# What actions spend, derived from the table above (never written out).
TRANSCRIPT_UNITS = COSTS["captions.list"] + COSTS["captions.download"]  # per video, fetched once
APPLY_UNITS = COSTS["videos.list"] + COSTS["videos.update"]  # read the live snippet, then write it
# Longer than any job's retries (an optimization: 30 min a try, 4 tries and the
# waits between them): a reservation outlives its job only if the job vanished.
RESERVATION_TTL = timedelta(hours=3)
# One lock for the whole project's quota: check and reserve are one step.
_RESERVE_LOCK = 0x59_51_55_4F  # "YQUO"


class QuotaBudgetExceeded(AppError):
    code = "youtube_quota_budget"
    status = 429
    message = "Today's YouTube quota budget would be exceeded."


def pacific_today(now: datetime | None = None) -> date:
    return (now or datetime.now(tz=PACIFIC)).astimezone(PACIFIC).date()


def record(cur, method: str, *, channel_id=None, user_id=None, sync_run_id=None, units: int | None = None,
           reservation_id: int | None = None) -> int:
    """Write one call's cost into the ledger (in the caller's transaction)."""
    cost = COSTS[method] if units is None else units
    cur.execute(
        """INSERT INTO quota_ledger (pacific_day, api, method, units, channel_id, user_id, sync_run_id, reservation_id)
           VALUES (%s, 'youtube', %s, %s, %s, %s, %s, %s)""",
        (pacific_today(), method, cost, channel_id, user_id, sync_run_id, reservation_id),
    )
    return cost


def units_used_today(cur) -> int:
    cur.execute(
        "SELECT coalesce(sum(units), 0) AS used FROM quota_ledger WHERE api = 'youtube' AND pacific_day = %s",
        (pacific_today(),),
    )
    row = cur.fetchone()
    return int(row["used"] if isinstance(row, dict) else row[0])


def units_held(cur) -> int:
    """Units reserved by accepted work and not yet spent by it."""
    cur.execute(
        """SELECT coalesce(sum(greatest(r.units - coalesce(spent.units, 0), 0)), 0) AS held
           FROM quota_reservations r
           LEFT JOIN LATERAL (SELECT sum(l.units) AS units FROM quota_ledger l WHERE l.reservation_id = r.id) spent ON true
           WHERE r.released_at IS NULL AND r.expires_at > now()"""
    )
    return int(cur.fetchone()["held"])


def units_left_today(cur, daily_budget: int) -> int:
    return max(0, daily_budget - units_used_today(cur) - units_held(cur))


def check_budget(cur, units_needed: int, daily_budget: int) -> None:
    """Refuse, with the numbers, a job that would pass today's budget
    (counting what accepted work still holds)."""
    used, held = units_used_today(cur), units_held(cur)
    if used + held + units_needed > daily_budget:
        holding = f" and {held:,} are held for work already accepted" if held else ""
        raise QuotaBudgetExceeded(
            f"This needs about {units_needed:,} YouTube quota units, but {used:,} of today's "
            f"{daily_budget:,} are used{holding}. The quota resets at midnight Pacific time."
        )


def reserve(cur, units: list[int], daily_budget: int, *, purpose: str, channel_id: int, user_id: int | None,
            run_id: int | None = None, suggestion_ids: list[int] | None = None) -> list[int]:
    """Check today's budget and hold ``units`` (one reservation each: one per
    suggestion, or one for a run) as one step across every process: the
    transaction-scoped lock is held until the caller commits, so the next
    check sees these rows. Refuses with the numbers (429)."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_RESERVE_LOCK,))
    check_budget(cur, sum(units), daily_budget)
    ids = []
    for i, amount in enumerate(units):
        cur.execute(
            """INSERT INTO quota_reservations (expires_at, units, purpose, channel_id, user_id, run_id, suggestion_id)
               VALUES (now() + %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (RESERVATION_TTL, amount, purpose, channel_id, user_id, run_id,
             suggestion_ids[i] if suggestion_ids else None),
        )
        ids.append(cur.fetchone()["id"])
    return ids


def open_reservation(cur, *, run_id: int | None = None, suggestion_id: int | None = None) -> int | None:
    """The reservation a job's calls are spent against, if it still holds."""
    cur.execute(
        """SELECT id FROM quota_reservations WHERE released_at IS NULL AND expires_at > now()
             AND (run_id = %s OR suggestion_id = %s) ORDER BY id DESC LIMIT 1""",
        (run_id, suggestion_id),
    )
    row = cur.fetchone()
    return row["id"] if row else None


def release(cur, *, run_id: int | None = None, suggestion_ids: list[int] | None = None) -> None:
    """The work ended (or was never queued): what it did not spend is free again."""
    cur.execute(
        """UPDATE quota_reservations SET released_at = now()
           WHERE released_at IS NULL AND (run_id = %s OR suggestion_id = ANY(%s))""",
        (run_id, suggestion_ids or []),
    )


def full_sync_minimum(video_count: int) -> int:
    """1 channels.list + per page of 50: one playlistItems.list and one videos.list."""
    pages = max(1, -(-video_count // 50))
    return 1 + 2 * pages
