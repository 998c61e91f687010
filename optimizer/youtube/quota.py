"""YouTube quota: the cost table (in one place: costs have changed before),
the per-Pacific-day ledger, and the daily budget check.

The quota resets at midnight Pacific time, so "today" is the Pacific date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from psycopg2.extras import execute_values

from reliability.db import Cursor
from reliability.errors import AppError
from reliability.prepared import Statement

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
# The Analytics and Reporting APIs have quotas of their own, counted in
# queries rather than Data API units: their calls go into the ledger under
# their own ``api`` name and never count against YOUTUBE_DAILY_QUOTA
# (units_used_today reads api = 'youtube' only).
ANALYTICS_API = "analytics"
REPORTING_API = "reporting"
ANALYTICS_COSTS: dict[str, int] = {"reports.query": 1}
REPORTING_COSTS: dict[str, int] = {
    "reportTypes.list": 1,
    "jobs.list": 1,
    "jobs.create": 1,
    "jobs.reports.list": 1,
    "media.download": 1,
}
# Items per page of playlistItems.list (the most YouTube returns): a full
# sync's cost and the client's requests both follow from it.
PAGE_SIZE = 50


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
    # Seconds until the quota resets: the response's Retry-After.
    retry_after: int | None = None


def pacific_today(now: datetime | None = None) -> date:
    return (now or datetime.now(tz=PACIFIC)).astimezone(PACIFIC).date()


def record(
    cur: Cursor,
    method: str,
    *,
    channel_id: int | None = None,
    user_id: int | None = None,
    sync_run_id: int | None = None,
    units: int | None = None,
    reservation_id: int | None = None,
) -> int:
    """Write one call's cost into the ledger (in the caller's transaction)."""
    cost = COSTS[method] if units is None else units
    cur.execute(
        """INSERT INTO quota_ledger (pacific_day, api, method, units, channel_id, user_id, sync_run_id, reservation_id)
           VALUES (%s, 'youtube', %s, %s, %s, %s, %s, %s)""",
        (pacific_today(), method, cost, channel_id, user_id, sync_run_id, reservation_id),
    )
    return cost


def record_sync_calls(
    cur: Cursor, calls: list[tuple[str, int]], *, channel_id: int, user_id: int | None, sync_run_id: int
) -> int:
    """Write a sync page's calls, (method, units) each, in one statement;
    returns the units they cost."""
    rows = [(pacific_today(), "youtube", method, units, channel_id, user_id, sync_run_id) for method, units in calls]
    if rows:
        execute_values(
            cur,
            """INSERT INTO quota_ledger (pacific_day, api, method, units, channel_id, user_id, sync_run_id)
               VALUES %s""",
            rows,
        )
    return sum(units for _, units in calls)


def record_api_calls(cur: Cursor, api: str, calls: list[tuple[str, int]], *, channel_id: int) -> int:
    """Write an Analytics or Reporting API job's calls, (method, units) each,
    under ``api``; returns the units they cost."""
    rows = [(pacific_today(), api, method, units, channel_id) for method, units in calls]
    if rows:
        execute_values(cur, "INSERT INTO quota_ledger (pacific_day, api, method, units, channel_id) VALUES %s", rows)
    return sum(units for _, units in calls)


def units_used_today(cur: Cursor) -> int:
    cur.execute(
        "SELECT coalesce(sum(units), 0) AS used FROM quota_ledger WHERE api = 'youtube' AND pacific_day = %s",
        (pacific_today(),),
    )
    row = cur.fetchone()
    return int(row["used"] if isinstance(row, dict) else row[0])


_HELD = """SELECT coalesce(sum(greatest(r.units - coalesce(spent.units, 0), 0)), 0)
           FROM quota_reservations r
           LEFT JOIN LATERAL (SELECT sum(l.units) AS units FROM quota_ledger l
                              WHERE l.reservation_id = r.id) spent ON true
           WHERE r.released_at IS NULL AND r.expires_at > now()"""


_USAGE_TODAY = Statement(
    "quota_usage_today",
    f"""SELECT coalesce(sum(units), 0) AS used,
               coalesce(sum(units) FILTER (WHERE channel_id = %s), 0) AS channel_used,
               ({_HELD}) AS held
        FROM quota_ledger WHERE api = 'youtube' AND pacific_day = %s""",
)


def units_held(cur: Cursor) -> int:
    """Units reserved by accepted work and not yet spent by it."""
    cur.execute(f"SELECT ({_HELD}) AS held")
    return int(cur.fetchone()["held"])


def units_left_today(cur: Cursor, daily_budget: int) -> int:
    return max(0, daily_budget - units_used_today(cur) - units_held(cur))


def usage_today(cur: Cursor, channel_id: int) -> dict[str, int]:
    """Today's YouTube units in one statement (the channel page runs it on
    every request): ``used`` by everyone, ``channel_used`` by this channel,
    ``held`` by accepted work not yet spent. Prepared."""
    _USAGE_TODAY.execute(cur, (channel_id, pacific_today()))
    row = cur.fetchone()
    return {key: int(row[key]) for key in ("used", "channel_used", "held")}


def check_budget(cur: Cursor, units_needed: int, daily_budget: int) -> None:
    """Refuse, with the numbers, a job that would pass today's budget
    (counting what accepted work still holds)."""
    used, held = units_used_today(cur), units_held(cur)
    if used + held + units_needed > daily_budget:
        holding = f" and {held:,} are held for work already accepted" if held else ""
        refusal = QuotaBudgetExceeded(
            f"This needs about {units_needed:,} YouTube quota units, but {used:,} of today's "
            f"{daily_budget:,} are used{holding}. The quota resets at midnight Pacific time.",
            details={
                "units_needed": units_needed,
                "units_used_today": used,
                "units_held": held,
                "daily_budget": daily_budget,
                "resets_at": next_pacific_midnight().isoformat(),
            },
        )
        refusal.retry_after = seconds_until(next_pacific_midnight())
        raise refusal


def next_pacific_midnight(now: datetime | None = None) -> datetime:
    """When the YouTube quota resets (midnight Pacific time), in UTC."""
    today = pacific_today(now)
    return datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=PACIFIC).astimezone(ZoneInfo("UTC"))


def seconds_until(moment: datetime) -> int:
    return max(1, int((moment - datetime.now(tz=ZoneInfo("UTC"))).total_seconds()) + 1)


def reserve(
    cur: Cursor,
    units: list[int],
    daily_budget: int,
    *,
    purpose: str,
    channel_id: int,
    user_id: int | None,
    run_id: int | None = None,
    suggestion_ids: list[int] | None = None,
) -> list[int]:
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
            (
                RESERVATION_TTL,
                amount,
                purpose,
                channel_id,
                user_id,
                run_id,
                suggestion_ids[i] if suggestion_ids else None,
            ),
        )
        ids.append(cur.fetchone()["id"])
    return ids


def open_reservation(cur: Cursor, *, run_id: int | None = None, suggestion_id: int | None = None) -> int | None:
    """The reservation a job's calls are spent against, if it still holds."""
    cur.execute(
        """SELECT id FROM quota_reservations WHERE released_at IS NULL AND expires_at > now()
             AND (run_id = %s OR suggestion_id = %s) ORDER BY id DESC LIMIT 1""",
        (run_id, suggestion_id),
    )
    row = cur.fetchone()
    return row["id"] if row else None


def release(cur: Cursor, *, run_id: int | None = None, suggestion_ids: list[int] | None = None) -> None:
    """The work ended (or was never queued): what it did not spend is free again."""
    cur.execute(
        """UPDATE quota_reservations SET released_at = now()
           WHERE released_at IS NULL AND (run_id = %s OR suggestion_id = ANY(%s))""",
        (run_id, suggestion_ids or []),
    )


def full_sync_minimum(video_count: int) -> int:
    """1 channels.list + per page of PAGE_SIZE: one playlistItems.list and one videos.list."""
    pages = max(1, -(-video_count // PAGE_SIZE))
    return 1 + 2 * pages
