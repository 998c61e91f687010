"""The ``channels`` rows as jobs and domain code read and write them: the
channel an optimization works for, the facts and status a sync refreshes,
and the demo channel's creation. (The pages' queries on channels live in
webapp/channels/store.py.) Every function runs on the caller's cursor and
never opens or commits a transaction (reliability/db.py).
"""

from __future__ import annotations

from typing import Any, cast

from reliability.db import Cursor


def get(cur: Cursor, channel_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM channels WHERE id = %s", (channel_id,))
    return cast("dict[str, Any] | None", cur.fetchone())


def youtube_id(cur: Cursor, channel_id: int) -> str:
    cur.execute("SELECT youtube_channel_id FROM channels WHERE id = %s", (channel_id,))
    return cast(str, cur.fetchone()["youtube_channel_id"])


def refresh_from_youtube(
    cur: Cursor,
    channel_id: int,
    *,
    title: str,
    uploads_playlist_id: str,
    subscriber_count: int | None,
    thumbnail_url: str | None,
) -> None:
    """The facts channels.list gave at the start of a sync (refreshed, so no
    longer expired: optimizer/retention.py)."""
    cur.execute(
        """UPDATE channels SET title = %s, uploads_playlist_id = %s, subscriber_count = %s, thumbnail_url = %s,
                  expired_at = NULL, updated_at = now()
           WHERE id = %s""",
        (title, uploads_playlist_id, subscriber_count, thumbnail_url, channel_id),
    )


def record_sync_finished(cur: Cursor, channel_id: int, status: str) -> None:
    """A complete pass: when, how it ended, and how many current videos the channel has."""
    cur.execute(
        """UPDATE channels SET last_synced_at = now(), last_sync_status = %s, updated_at = now(),
                  video_count = (SELECT count(*) FROM videos WHERE channel_id = %s AND removed_at IS NULL)
           WHERE id = %s""",
        (status, channel_id, channel_id),
    )


def record_sync_stopped(cur: Cursor, channel_id: int, status: str) -> None:
    """A sync that ended before a complete pass: only its status changes."""
    cur.execute(
        "UPDATE channels SET last_sync_status = %s, updated_at = now() WHERE id = %s",
        (status, channel_id),
    )


def create_demo(
    cur: Cursor, *, youtube_channel_id: str, title: str, description: str, video_count: int, owner_id: int
) -> int:
    """A demo channel, already synced, owned by ``owner_id``; returns its id."""
    cur.execute(
        """INSERT INTO channels (youtube_channel_id, title, description, status, is_demo, subscriber_count,
                                 video_count, last_synced_at, last_sync_status, created_by)
           VALUES (%s, %s, %s, 'demo', true, 18400, %s, now(), 'succeeded', %s) RETURNING id""",
        (youtube_channel_id, title, description, video_count, owner_id),
    )
    channel_id = cast(int, cur.fetchone()["id"])
    cur.execute(
        "INSERT INTO channel_members (channel_id, user_id, role, added_by) VALUES (%s, %s, 'owner', %s)",
        (channel_id, owner_id, owner_id),
    )
    return channel_id
