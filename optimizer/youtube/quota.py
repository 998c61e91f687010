"""YouTube quota: the cost table (in one place: costs have changed before),
the per-Pacific-day ledger, and the daily budget check.

The quota resets at midnight Pacific time, so "today" is the Pacific date.
"""

from __future__ import annotations

from datetime import date, datetime
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


class QuotaBudgetExceeded(AppError):
    code = "youtube_quota_budget"
    status = 429
    message = "Today's YouTube quota budget would be exceeded."


def pacific_today(now: datetime | None = None) -> date:
    return (now or datetime.now(tz=PACIFIC)).astimezone(PACIFIC).date()


def record(cur, method: str, *, channel_id=None, user_id=None, sync_run_id=None, units: int | None = None) -> int:
    """Write one call's cost into the ledger (in the caller's transaction)."""
    cost = COSTS[method] if units is None else units
    cur.execute(
        """INSERT INTO quota_ledger (pacific_day, api, method, units, channel_id, user_id, sync_run_id)
           VALUES (%s, 'youtube', %s, %s, %s, %s, %s)""",
        (pacific_today(), method, cost, channel_id, user_id, sync_run_id),
    )
    return cost


def units_used_today(cur) -> int:
    cur.execute(
        "SELECT coalesce(sum(units), 0) AS used FROM quota_ledger WHERE api = 'youtube' AND pacific_day = %s",
        (pacific_today(),),
    )
    row = cur.fetchone()
    return int(row["used"] if isinstance(row, dict) else row[0])


def check_budget(cur, units_needed: int, daily_budget: int) -> None:
    """Refuse, with the numbers, a job that would pass today's budget."""
    used = units_used_today(cur)
    if used + units_needed > daily_budget:
        raise QuotaBudgetExceeded(
            f"This needs about {units_needed:,} YouTube quota units, but {used:,} of today's "
            f"{daily_budget:,} are used. The quota resets at midnight Pacific time."
        )


def full_sync_minimum(video_count: int) -> int:
    """1 channels.list + per page of 50: one playlistItems.list and one videos.list."""
    pages = max(1, -(-video_count // 50))
    return 1 + 2 * pages
