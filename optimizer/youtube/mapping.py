"""From YouTube's JSON to our rows, and a video's metadata fingerprint."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")

# The columns sync writes, in the order video_row() returns them.
VIDEO_COLUMNS = (
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
    "thumbnail_url",
    "privacy_status",
    "view_count",
    "like_count",
    "comment_count",
    "etag",
)

METADATA_FIELDS = ("title", "description", "tags", "category_id", "default_language", "default_audio_language")


def duration_seconds(iso: str | None) -> int | None:
    """ISO 8601 durations as YouTube writes them: P1DT2H3M4S, PT15M, P0D."""
    match = _DURATION.match(iso or "")
    if not match:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def best_thumbnail(thumbnails: dict[str, Any] | None) -> str | None:
    for size in ("medium", "high", "default", "standard", "maxres"):
        url = (thumbnails or {}).get(size, {}).get("url")
        if url:
            return url
    return None


def _count(stats: dict[str, Any], key: str) -> int:
    try:
        return int(stats.get(key, 0))
    except (TypeError, ValueError):
        return 0


def video_row(channel_id: int, item: dict[str, Any]) -> tuple[Any, ...]:
    snippet = item.get("snippet", {})
    stats = item.get("statistics", {})
    return (
        channel_id,
        item["id"],
        snippet.get("title", ""),
        snippet.get("description", ""),
        list(snippet.get("tags") or []),
        snippet.get("categoryId"),
        snippet.get("defaultLanguage"),
        snippet.get("defaultAudioLanguage"),
        snippet.get("publishedAt"),
        duration_seconds(item.get("contentDetails", {}).get("duration")),
        best_thumbnail(snippet.get("thumbnails")),
        item.get("status", {}).get("privacyStatus"),
        _count(stats, "viewCount"),
        _count(stats, "likeCount"),
        _count(stats, "commentCount"),
        item.get("etag"),
    )


def metadata_of_row(row: tuple[Any, ...]) -> dict[str, Any]:
    values = dict(zip(VIDEO_COLUMNS, row, strict=True))
    return {field: values[field] for field in METADATA_FIELDS}


def content_hash(metadata: dict[str, Any]) -> str:
    """Same metadata, same hash: a new version is stored only on change."""
    canonical = json.dumps([metadata.get(f) for f in METADATA_FIELDS], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
