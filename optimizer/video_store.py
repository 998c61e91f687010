"""The ``videos`` table: the one home of the queries on a channel's videos
below the web layer (the pages read theirs through webapp/*/store.py).

Sync upserts the rows and marks the ones gone from YouTube, apply writes
the new metadata, a conflict refreshes it, and scores.py fills in the SEO
score. Every function runs on the caller's cursor and never opens or
commits a transaction (reliability/db.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from psycopg2 import sql
from psycopg2.extras import execute_values

from optimizer.youtube.mapping import VIDEO_COLUMNS
from reliability import db
from reliability.db import Cursor

# -- reads -------------------------------------------------------------------------


def best_titles(cur: Cursor, channel_id: int, limit: int = 20) -> list[str]:
    """The titles of the channel's most viewed current videos: what the
    prompt shows Claude as the channel's voice."""
    cur.execute(
        """SELECT title FROM videos WHERE channel_id = %s AND removed_at IS NULL
           ORDER BY view_count DESC LIMIT %s""",
        (channel_id, limit),
    )
    return [r["title"] for r in cur.fetchall()]


def for_optimizing(cur: Cursor, run_id: int, video_id: int) -> dict[str, Any] | None:
    """The video with its stored transcript, its latest version and this
    run's suggestion for it (if any); None if the video is gone."""
    cur.execute(
        """SELECT v.*, nullif(t.text, '') AS transcript, t.source AS transcript_source,
                  t.fetched_at AS transcript_checked_at,
                  mv.id AS version_id, mv.content_hash,
                  (SELECT s.id FROM suggestions s WHERE s.run_id = %s AND s.video_id = v.id) AS suggestion_id
           FROM videos v
           LEFT JOIN transcripts t ON t.video_id = v.id
           LEFT JOIN LATERAL (SELECT id, content_hash FROM metadata_versions WHERE video_id = v.id
                              ORDER BY id DESC LIMIT 1) mv ON true
           WHERE v.id = %s""",
        (run_id, video_id),
    )
    return cast("dict[str, Any] | None", cur.fetchone())


def with_channel(cur: Cursor, video_id: int) -> dict[str, Any] | None:
    """The video, with its channel's is_demo and id (``channel_pk``)."""
    cur.execute(
        """SELECT v.*, c.is_demo, c.id AS channel_pk FROM videos v JOIN channels c ON c.id = v.channel_id
           WHERE v.id = %s""",
        (video_id,),
    )
    return cast("dict[str, Any] | None", cur.fetchone())


def ids_by_youtube_id(cur: Cursor, channel_id: int) -> dict[str, int]:
    cur.execute("SELECT id, youtube_video_id FROM videos WHERE channel_id = %s", (channel_id,))
    return {r["youtube_video_id"]: r["id"] for r in cur.fetchall()}


# -- sync --------------------------------------------------------------------------


def upsert_synced(cur: Cursor, rows: Sequence[tuple[Any, ...]], now: datetime) -> dict[str, int]:
    """Insert or update a page of synced videos (rows in VIDEO_COLUMNS
    order), stamped synced now, not removed and not expired (optimizer/retention.py);
    returns youtube id -> our id."""
    if not rows:
        return {}
    columns = (*VIDEO_COLUMNS, "synced_at", "removed_at", "expired_at")
    stamped = [(*row, now, None, None) for row in rows]
    query = db.upsert_query("videos", columns, ("channel_id", "youtube_video_id")) + sql.SQL(
        " RETURNING id, youtube_video_id"
    )
    result = execute_values(cur, query, stamped, page_size=len(stamped), fetch=True)
    return {r["youtube_video_id"]: r["id"] for r in result}


def mark_removed_unseen(cur: Cursor, channel_id: int, sync_run_id: int) -> None:
    """Videos not seen since this sync run's complete pass began are gone from YouTube."""
    cur.execute(
        """UPDATE videos SET removed_at = now()
           WHERE channel_id = %s AND removed_at IS NULL
             AND synced_at < (SELECT pass_started_at FROM sync_runs WHERE id = %s)""",
        (channel_id, sync_run_id),
    )


# -- metadata and its score -----------------------------------------------------------


def set_applied_metadata(
    cur: Cursor, video_id: int, *, title: str, description: str, tags: list[str], seo_score: int
) -> None:
    """What Apply wrote to YouTube is what the video has (as of now)."""
    cur.execute(
        """UPDATE videos SET title = %s, description = %s, tags = %s, seo_score = %s, synced_at = now()
           WHERE id = %s""",
        (title, description, tags, seo_score, video_id),
    )


def set_live_metadata(
    cur: Cursor, video_id: int, *, title: str, description: str, tags: list[str], seo_score: int
) -> None:
    """What YouTube was found to hold (an apply's conflict): not a sync, so synced_at stays."""
    cur.execute(
        "UPDATE videos SET title = %s, description = %s, tags = %s, seo_score = %s WHERE id = %s",
        (title, description, tags, seo_score, video_id),
    )


def clear_scores(cur: Cursor, video_ids: list[int]) -> None:
    """The score depends only on the metadata: cleared where that changed,
    filled in again by optimizer/scores.py."""
    cur.execute("UPDATE videos SET seo_score = NULL WHERE id = ANY(%s)", (video_ids,))


def lock_unscored(cur: Cursor, channel_id: int, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` current videos with no score, locked (others' locked rows skipped)."""
    cur.execute(
        """SELECT id, title, description, tags FROM videos
           WHERE channel_id = %s AND seo_score IS NULL AND removed_at IS NULL
           ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
        (channel_id, limit),
    )
    return cast("list[dict[str, Any]]", cur.fetchall())


def set_scores(cur: Cursor, scores: list[tuple[int, int]]) -> None:
    """(video id, score) pairs, in one statement."""
    execute_values(
        cur,
        "UPDATE videos SET seo_score = data.score FROM (VALUES %s) AS data (id, score) WHERE videos.id = data.id",
        scores,
    )
