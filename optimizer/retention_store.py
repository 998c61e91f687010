"""SQL of data retention: what was kept from the YouTube APIs and not
refreshed since ``cutoff`` goes (docs/data.md has the table of what is
kept, why, and what refreshes it).

The demo channel is left alone: its numbers are generated, not YouTube's.
Deletions take at most ``limit`` rows each (the caller commits between
batches, so no lock is held long) and return how many went; every function
runs on the caller's cursor and never commits (reliability/db.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from optimizer.youtube import sync_runs
from reliability.db import Cursor

_REAL_VIDEO = "JOIN videos v ON v.id = {alias}.video_id JOIN channels c ON c.id = v.channel_id AND NOT c.is_demo"


def delete_stale_stats(cur: Cursor, cutoff: datetime, limit: int) -> int:
    """Daily numbers the analytics ingest has not written again since ``cutoff``."""
    cur.execute(
        f"""DELETE FROM video_daily_stats WHERE (video_id, day) IN (
               SELECT s.video_id, s.day FROM video_daily_stats s {_REAL_VIDEO.format(alias="s")}
               WHERE s.refreshed_at < %s LIMIT %s)""",
        (cutoff, limit),
    )
    return int(cur.rowcount)


def delete_stale_transcripts(cur: Cursor, cutoff: datetime, limit: int) -> int:
    """Captions fetched before ``cutoff`` (an optimization fetches them again)."""
    cur.execute(
        f"""DELETE FROM transcripts WHERE video_id IN (
               SELECT t.video_id FROM transcripts t {_REAL_VIDEO.format(alias="t")}
               WHERE t.fetched_at < %s LIMIT %s)""",
        (cutoff, limit),
    )
    return int(cur.rowcount)


def delete_stale_sync_versions(cur: Cursor, cutoff: datetime, limit: int) -> int:
    """Snapshots a sync (or an apply, of what YouTube held) took before
    ``cutoff``, except the one an applied change would be restored to: that
    is half of the record of the creator's own change. The next sync takes
    a fresh snapshot when a video has none left."""
    cur.execute(
        f"""DELETE FROM metadata_versions WHERE id IN (
               SELECT m.id FROM metadata_versions m {_REAL_VIDEO.format(alias="m")}
               WHERE m.source = 'sync' AND m.created_at < %s
                 AND NOT EXISTS (SELECT 1 FROM suggestions s WHERE s.prior_version_id = m.id)
               LIMIT %s)""",
        (cutoff, limit),
    )
    return int(cur.rowcount)


# A video holds something of its creators when one of these names it; it is then blanked, not deleted.
_CREATORS_DATA = """EXISTS (SELECT 1 FROM suggestions s WHERE s.video_id = v.id)
                 OR EXISTS (SELECT 1 FROM experiments e WHERE e.video_id = v.id)
                 OR EXISTS (SELECT 1 FROM metadata_versions m WHERE m.video_id = v.id)"""


def delete_stale_videos(cur: Cursor, cutoff: datetime, limit: int) -> int:
    """Videos no sync has seen since ``cutoff`` (gone from YouTube, or the
    channel disconnected) that hold nothing of their creators."""
    cur.execute(
        f"""DELETE FROM videos WHERE id IN (
               SELECT v.id FROM videos v JOIN channels c ON c.id = v.channel_id AND NOT c.is_demo
               WHERE v.synced_at < %s AND NOT ({_CREATORS_DATA})
               LIMIT %s)""",
        (cutoff, limit),
    )
    return int(cur.rowcount)


def blank_stale_videos(cur: Cursor, cutoff: datetime, now: datetime, limit: int) -> int:
    """The other stale videos keep their row (the creator's suggestions,
    versions and experiments hang on it) but none of YouTube's fields: the
    metadata becomes the creator's latest approved version's, or nothing
    but the video's id; statistics, dates and thumbnail go."""
    cur.execute(
        """WITH stale AS (
               SELECT v.id FROM videos v JOIN channels c ON c.id = v.channel_id AND NOT c.is_demo
               WHERE v.synced_at < %s AND v.expired_at IS NULL LIMIT %s),
           mine AS (
               SELECT DISTINCT ON (m.video_id) m.video_id, m.title, m.description, m.tags
               FROM metadata_versions m JOIN stale ON stale.id = m.video_id
               WHERE m.source IN ('apply', 'restore') ORDER BY m.video_id, m.id DESC)
           UPDATE videos v SET title = coalesce(mine.title, v.youtube_video_id),
                  description = coalesce(mine.description, ''), tags = coalesce(mine.tags, '{}'),
                  category_id = NULL, default_language = NULL, default_audio_language = NULL,
                  published_at = NULL, duration_seconds = NULL, thumbnail_url = NULL, privacy_status = NULL,
                  view_count = 0, like_count = 0, comment_count = 0, etag = NULL, seo_score = NULL,
                  expired_at = %s
           FROM stale LEFT JOIN mine ON mine.video_id = stale.id
           WHERE v.id = stale.id""",
        (cutoff, limit, now),
    )
    return int(cur.rowcount)


def blank_stale_channels(cur: Cursor, cutoff: datetime, now: datetime) -> int:
    """Channels no complete sync has refreshed since ``cutoff``: YouTube's
    facts go, the channel is named by its YouTube id until a sync runs."""
    cur.execute(
        """UPDATE channels SET title = youtube_channel_id, description = '', custom_url = NULL,
                  thumbnail_url = NULL, subscriber_count = NULL, expired_at = %s, updated_at = now()
           WHERE NOT is_demo AND expired_at IS NULL AND coalesce(last_synced_at, created_at) < %s""",
        (now, cutoff),
    )
    return int(cur.rowcount)


def channels_due_for_sync(cur: Cursor, due_before: datetime) -> list[dict[str, Any]]:
    """Connected channels whose last complete sync is older than
    ``due_before`` and that have no sync waiting or running."""
    cur.execute(
        """SELECT c.* FROM channels c
           WHERE c.status = 'connected' AND NOT c.is_demo AND coalesce(c.last_synced_at, c.created_at) < %s
             AND NOT EXISTS (SELECT 1 FROM sync_runs r WHERE r.channel_id = c.id AND r.status = ANY(%s))
           ORDER BY c.last_synced_at NULLS FIRST, c.id""",
        (due_before, list(sync_runs.ACTIVE)),
    )
    return cast("list[dict[str, Any]]", cur.fetchall())
