"""Queries of the demo channel's clock (optimizer/demo_clock.py), each on the
caller's cursor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from reliability.db import Cursor, Row, bulk_upsert

STATS_COLUMNS = (
    "video_id",
    "day",
    "views",
    "engaged_views",
    "estimated_minutes_watched",
    "likes",
    "comments",
    "shares",
    "subscribers_gained",
)


def demo_channels(cur: Cursor) -> list[Row]:
    """Every demo channel with the day it was imported (its numbers are generated relative to it)."""
    cur.execute(
        "SELECT id, (created_at AT TIME ZONE 'UTC')::date AS imported_on FROM channels WHERE is_demo ORDER BY id"
    )
    return list(cur.fetchall())


def demo_channel(cur: Cursor, channel_id: int) -> Row | None:
    cur.execute(
        """SELECT id, (created_at AT TIME ZONE 'UTC')::date AS imported_on FROM channels
           WHERE id = %s AND is_demo""",
        (channel_id,),
    )
    return cur.fetchone()


def videos_with_last_day(cur: Cursor, channel_id: int) -> list[Row]:
    """The channel's videos with the last day of numbers stored for each (None: none yet)."""
    cur.execute(
        """SELECT v.id, v.youtube_video_id, max(s.day) AS last_day
             FROM videos v LEFT JOIN video_daily_stats s ON s.video_id = v.id
            WHERE v.channel_id = %s GROUP BY v.id ORDER BY v.id""",
        (channel_id,),
    )
    return list(cur.fetchall())


def applied_change_days(cur: Cursor, channel_id: int) -> dict[int, date]:
    """Video id -> the (UTC) day the first change applied here (a suggestion, so
    not the demo's own past change) was applied to it."""
    cur.execute(
        """SELECT e.video_id, min((e.applied_at AT TIME ZONE 'UTC')::date) AS day
             FROM experiments e JOIN videos v ON v.id = e.video_id
            WHERE v.channel_id = %s AND e.suggestion_id IS NOT NULL GROUP BY e.video_id""",
        (channel_id,),
    )
    return {row["video_id"]: row["day"] for row in cur.fetchall()}


def add_days(cur: Cursor, rows: Sequence[Sequence[Any]]) -> int:
    """Store generated days; a day already stored is kept (two runs at once add it once)."""
    return bulk_upsert("video_daily_stats", STATS_COLUMNS, rows, ("video_id", "day"), [], cur=cur)
