"""SQL of the analytics ingest: video_daily_stats upserts, the channel's
Reporting API job, and the report files already read. Every function takes
the caller's cursor."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, cast

from psycopg2.extras import execute_values

from optimizer import experiments
from optimizer.youtube.analytics import DayStats
from reliability.db import Cursor


def connected_channel_ids(cur: Cursor) -> list[int]:
    """Channels the daily ingest visits: connected to YouTube, not the demo."""
    cur.execute("SELECT id FROM channels WHERE status = 'connected' AND NOT is_demo ORDER BY id")
    return [int(row["id"]) for row in cur.fetchall()]


def channel_for_ingest(cur: Cursor, channel_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT id, status, is_demo, reporting_job_id FROM channels WHERE id = %s", (channel_id,))
    return cast("dict[str, Any] | None", cur.fetchone())


def set_reporting_job(cur: Cursor, channel_id: int, job_id: str) -> None:
    cur.execute("UPDATE channels SET reporting_job_id = %s WHERE id = %s", (job_id, channel_id))


def videos_to_fetch(cur: Cursor, channel_id: int, today: date, limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` of the channel's published videos, with the day each
    was published and the last day stored for it (None when nothing is
    stored): videos with a change being measured first, then the ones whose
    numbers are oldest (never fetched first), then the most watched."""
    cur.execute(
        """SELECT v.id, v.youtube_video_id, (v.published_at AT TIME ZONE 'UTC')::date AS published_day,
                  (SELECT max(s.day) FROM video_daily_stats s WHERE s.video_id = v.id) AS last_day
           FROM videos v
           WHERE v.channel_id = %s AND v.removed_at IS NULL AND v.published_at IS NOT NULL
             AND (v.published_at AT TIME ZONE 'UTC')::date < %s
           ORDER BY EXISTS (SELECT 1 FROM experiments e WHERE e.video_id = v.id AND e.status = ANY(%s)) DESC,
                    last_day NULLS FIRST, v.view_count DESC NULLS LAST, v.id
           LIMIT %s""",
        (channel_id, today, list(experiments.OPEN), limit),
    )
    return cast("list[dict[str, Any]]", cur.fetchall())


def videos_with_old_days(
    cur: Cursor, channel_id: int, refreshed_before: datetime, since: date, limit: int
) -> list[dict[str, Any]]:
    """At most ``limit`` current videos with days from ``since`` on last
    written before ``refreshed_before``, the longest unrefreshed first, each
    with the first and last such day (the retention limit: optimizer/retention.py)."""
    cur.execute(
        """SELECT v.id, v.youtube_video_id, min(s.day) AS first_day, max(s.day) AS last_day
           FROM video_daily_stats s JOIN videos v ON v.id = s.video_id
           WHERE v.channel_id = %s AND v.removed_at IS NULL AND s.refreshed_at < %s AND s.day >= %s
           GROUP BY v.id, v.youtube_video_id
           ORDER BY min(s.refreshed_at), v.id
           LIMIT %s""",
        (channel_id, refreshed_before, since, limit),
    )
    return cast("list[dict[str, Any]]", cur.fetchall())


def video_ids_by_youtube_id(cur: Cursor, channel_id: int, youtube_ids: Iterable[str]) -> dict[str, int]:
    cur.execute(
        "SELECT id, youtube_video_id FROM videos WHERE channel_id = %s AND youtube_video_id = ANY(%s)",
        (channel_id, list(youtube_ids)),
    )
    return {row["youtube_video_id"]: int(row["id"]) for row in cur.fetchall()}


def upsert_days(cur: Cursor, rows: Iterable[tuple[int, DayStats]]) -> int:
    """Insert or replace (video, day) rows: YouTube revises recent days, and
    a later answer is the better one; each row written is stamped refreshed
    now. Returns the rows written."""
    values = [
        (
            video_id,
            s.day,
            s.views,
            s.engaged_views,
            s.minutes_watched,
            s.average_view_duration,
            s.average_view_percentage,
            s.likes,
            s.comments,
            s.shares,
            s.subscribers_gained,
        )
        for video_id, s in rows
    ]
    if not values:
        return 0
    execute_values(
        cur,
        """INSERT INTO video_daily_stats (video_id, day, views, engaged_views, estimated_minutes_watched,
                  average_view_duration, average_view_percentage, likes, comments, shares, subscribers_gained)
           VALUES %s
           ON CONFLICT (video_id, day) DO UPDATE SET
               views = EXCLUDED.views,
               engaged_views = EXCLUDED.engaged_views,
               estimated_minutes_watched = EXCLUDED.estimated_minutes_watched,
               average_view_duration = EXCLUDED.average_view_duration,
               average_view_percentage = EXCLUDED.average_view_percentage,
               likes = EXCLUDED.likes,
               comments = EXCLUDED.comments,
               shares = EXCLUDED.shares,
               subscribers_gained = EXCLUDED.subscribers_gained,
               refreshed_at = now()""",
        values,
    )
    return len(values)


def report_ids_read(cur: Cursor, channel_id: int) -> set[str]:
    cur.execute("SELECT report_id FROM reporting_files_read WHERE channel_id = %s", (channel_id,))
    return {row["report_id"] for row in cur.fetchall()}


def mark_report_read(cur: Cursor, report_id: str, channel_id: int, start_day: date, rows_stored: int) -> None:
    cur.execute(
        """INSERT INTO reporting_files_read (report_id, channel_id, start_day, rows_stored)
           VALUES (%s, %s, %s, %s) ON CONFLICT (report_id) DO NOTHING""",
        (report_id, channel_id, start_day, rows_stored),
    )
