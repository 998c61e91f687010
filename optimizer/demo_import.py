"""Import the demo channel into a user's account, in one transaction."""

from __future__ import annotations

import uuid

from optimizer import demo, seo
from optimizer.youtube.mapping import content_hash
from reliability import audit
from reliability.db import bulk_insert, transaction

_VIDEO_COLUMNS = ("channel_id", "youtube_video_id", "title", "description", "tags", "category_id", "default_language",
                  "default_audio_language", "published_at", "duration_seconds", "privacy_status", "view_count",
                  "like_count", "comment_count", "seo_score")
_VERSION_COLUMNS = ("video_id", "source", "title", "description", "tags", "category_id", "default_language",
                    "default_audio_language", "content_hash", "created_at")
_STATS_COLUMNS = ("video_id", "day", "views", "engaged_views", "estimated_minutes_watched", "likes", "comments",
                  "shares", "subscribers_gained")


def import_demo_channel(user_id: int, user_email: str | None = None) -> int:
    """Create a demo copy owned by ``user_id``; returns the channel id."""
    videos = demo.generate()
    with transaction() as cur:
        channel_id = _insert_channel(cur, user_id, len(videos))
        ids = _insert_videos(cur, channel_id, videos)
        _insert_versions(cur, videos, ids)
        bulk_insert("transcripts", ("video_id", "language", "source", "text"),
                    [(ids[v.youtube_video_id], "en", "demo", v.transcript) for v in videos], cur=cur)
        bulk_insert("video_daily_stats", _STATS_COLUMNS,
                    [(ids[v.youtube_video_id], *day) for v in videos for day in v.daily], cur=cur)
        audit.record(cur, "channel.demo_imported", actor_id=user_id, actor_email=user_email,
                     target_type="channel", target_id=channel_id)
    return channel_id


def _insert_channel(cur, user_id: int, video_count: int) -> int:
    cur.execute(
        """INSERT INTO channels (youtube_channel_id, title, description, status, is_demo, subscriber_count,
                                 video_count, last_synced_at, last_sync_status, created_by)
           VALUES (%s, %s, %s, 'demo', true, 18400, %s, now(), 'succeeded', %s) RETURNING id""",
        (f"demo-{uuid.uuid4().hex[:12]}", demo.CHANNEL_TITLE, demo.CHANNEL_DESCRIPTION, video_count, user_id),
    )
    channel_id = cur.fetchone()["id"]
    cur.execute("INSERT INTO channel_members (channel_id, user_id, role, added_by) VALUES (%s, %s, 'owner', %s)",
                (channel_id, user_id, user_id))
    return channel_id


def _insert_videos(cur, channel_id: int, videos: list[demo.DemoVideo]) -> dict[str, int]:
    rows = [(channel_id, v.youtube_video_id, v.title, v.description, v.tags, "26", "en", "en", v.published_at,
             v.duration_seconds, "public", v.view_count, int(v.view_count * 0.045), int(v.view_count * 0.006),
             seo.score(v.title, v.description, v.tags).score)
            for v in videos]
    bulk_insert("videos", _VIDEO_COLUMNS, rows, cur=cur)
    cur.execute("SELECT id, youtube_video_id FROM videos WHERE channel_id = %s", (channel_id,))
    return {r["youtube_video_id"]: r["id"] for r in cur.fetchall()}


def _version(video_id: int, title: str, description: str, tags: list[str], created_at) -> tuple:
    meta = {"title": title, "description": description, "tags": tags, "category_id": "26",
            "default_language": "en", "default_audio_language": "en"}
    return (video_id, "demo", title, description, tags, "26", "en", "en", content_hash(meta), created_at)


def _insert_versions(cur, videos: list[demo.DemoVideo], ids: dict[str, int]) -> None:
    rows = []
    for v in videos:
        video_id = ids[v.youtube_video_id]
        if v.previous_title is not None:
            rows.append(_version(video_id, v.previous_title, v.previous_description or "", v.tags, v.published_at))
            rows.append(_version(video_id, v.title, v.description, v.tags, v.changed_on))
        else:
            rows.append(_version(video_id, v.title, v.description, v.tags, v.published_at))
    bulk_insert("metadata_versions", _VERSION_COLUMNS, rows, cur=cur)
