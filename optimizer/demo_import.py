"""Import the demo channel into a user's account, in one transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from optimizer import channel_store, demo, demo_store, experiments, judging, seo, video_store
from optimizer.verdict import VerdictSettings
from optimizer.youtube.mapping import content_hash
from reliability import audit
from reliability.db import Cursor, bulk_insert, transaction

_VIDEO_COLUMNS = (
    "channel_id",
    "youtube_video_id",
    "title",
    "description",
    "tags",
    "category_id",
    "default_language",
    "default_audio_language",
    "published_at",
    "duration_seconds",
    "privacy_status",
    "view_count",
    "like_count",
    "comment_count",
    "seo_score",
)
_VERSION_COLUMNS = (
    "video_id",
    "source",
    "title",
    "description",
    "tags",
    "category_id",
    "default_language",
    "default_audio_language",
    "content_hash",
    "created_at",
)


def import_demo_channel(user_id: int, user_email: str | None = None, settings: VerdictSettings | None = None) -> int:
    """Create a demo copy owned by ``user_id``; returns the channel id. Its
    past change is judged as the judging job would judge it today."""
    today = datetime.now(tz=UTC).date()
    videos = demo.generate(today)
    with transaction() as cur:
        channel_id = _insert_channel(cur, user_id, len(videos))
        ids = _insert_videos(cur, channel_id, videos)
        _insert_versions(cur, videos, ids)
        bulk_insert(
            "transcripts",
            ("video_id", "language", "source", "text"),
            [(ids[v.youtube_video_id], "en", "demo", v.transcript) for v in videos],
            cur=cur,
        )
        bulk_insert(
            "video_daily_stats",
            demo_store.STATS_COLUMNS,
            [(ids[v.youtube_video_id], *day) for v in videos for day in v.daily],
            cur=cur,
        )
        _judge_past_change(cur, channel_id, videos, ids, today, settings or VerdictSettings())
        audit.record(
            cur,
            "channel.demo_imported",
            actor_id=user_id,
            actor_email=user_email,
            target_type="channel",
            target_id=channel_id,
        )
    return channel_id


def _insert_channel(cur: Cursor, user_id: int, video_count: int) -> int:
    return channel_store.create_demo(
        cur,
        youtube_channel_id=f"demo-{uuid.uuid4().hex[:12]}",
        title=demo.CHANNEL_TITLE,
        description=demo.CHANNEL_DESCRIPTION,
        video_count=video_count,
        owner_id=user_id,
    )


def _insert_videos(cur: Cursor, channel_id: int, videos: list[demo.DemoVideo]) -> dict[str, int]:
    rows = [
        (
            channel_id,
            v.youtube_video_id,
            v.title,
            v.description,
            v.tags,
            "26",
            "en",
            "en",
            v.published_at,
            v.duration_seconds,
            "public",
            v.view_count,
            int(v.view_count * 0.045),
            int(v.view_count * 0.006),
            seo.score(v.title, v.description, v.tags).score,
        )
        for v in videos
    ]
    bulk_insert("videos", _VIDEO_COLUMNS, rows, cur=cur)
    return video_store.ids_by_youtube_id(cur, channel_id)


def _version(video_id: int, title: str, description: str, tags: list[str], created_at: date | None) -> tuple[Any, ...]:
    meta = {
        "title": title,
        "description": description,
        "tags": tags,
        "category_id": "26",
        "default_language": "en",
        "default_audio_language": "en",
    }
    return (video_id, "demo", title, description, tags, "26", "en", "en", content_hash(meta), created_at)


def _insert_versions(cur: Cursor, videos: list[demo.DemoVideo], ids: dict[str, int]) -> None:
    rows = []
    for v in videos:
        video_id = ids[v.youtube_video_id]
        if v.previous_title is not None:
            rows.append(_version(video_id, v.previous_title, v.previous_description or "", v.tags, v.published_at))
            rows.append(_version(video_id, v.title, v.description, v.tags, v.changed_on))
        else:
            rows.append(_version(video_id, v.title, v.description, v.tags, v.published_at))
    bulk_insert("metadata_versions", _VERSION_COLUMNS, rows, cur=cur)


def _judge_past_change(
    cur: Cursor,
    channel_id: int,
    videos: list[demo.DemoVideo],
    ids: dict[str, int],
    today: date,
    settings: VerdictSettings,
) -> None:
    """The demo's past title change gets its experiment, judged with the
    judging job's own step as of ``today`` (so its verdict, lift and chart
    are what the product would say about it)."""
    changed = next(v for v in videos if v.changed_on is not None)
    change_day = changed.changed_on or today
    video_id = ids[changed.youtube_video_id]
    experiment_id = experiments.open_past_change(
        cur,
        video_id=video_id,
        applied_at=datetime.combine(change_day, time(12, 0), tzinfo=UTC),
        cooling_days=settings.cooling_days,
    )
    experiment = {
        "id": experiment_id,
        "video_id": video_id,
        "channel_id": channel_id,
        "status": experiments.COOLING,
        "look": 0,
        "change_day": change_day,
        "cooling_until": change_day + timedelta(days=settings.cooling_days),
    }
    judging.judge_experiment(cur, experiment, today, settings)
