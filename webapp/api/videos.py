"""Videos: a channel's video table (the page's search, sorts and filters,
paged by cursor), one video with its metadata, SEO score and history, its
suggestions, and restoring one of its versions. The same stores and access
rule as the channel and video pages."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from flask import Blueprint
from flask_login import current_user

from optimizer import seo
from reliability.db import read
from webapp.api.access import API, channel_of
from webapp.api.models import Video, VideoListQuery, VideoPage
from webapp.api.spec import Serialized, invalid, operation
from webapp.api.suggestion_models import Restoring, SuggestionList
from webapp.api.suggestions import summary_model
from webapp.channels import store as channel_store
from webapp.channels.access import require_channel
from webapp.optimize.decisions import enqueue_applies
from webapp.page_cache import page_cache
from webapp.redis_client import get_redis
from webapp.videos import store, versions
from webapp.videos.routes import load_video

bp = Blueprint("videos", __name__)

_SUMMARY_FIELDS = (
    "id",
    "youtube_video_id",
    "title",
    "thumbnail_url",
    "published_at",
    "view_count",
    "like_count",
    "comment_count",
    "duration_seconds",
    "privacy_status",
    "seo_score",
)


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    summary = {name: row[name] for name in _SUMMARY_FIELDS}
    summary.update(removed=row["removed_at"] is not None, url=f"{API}/videos/{row['id']}")
    return summary


# -- cursor paging ---------------------------------------------------------------------
# The cursor is opaque to clients: the page after this one, tied to the
# query that made it, so a cursor reused with another search, sort, filter
# or page size is refused instead of skipping or repeating videos.


def _fingerprint(query: VideoListQuery) -> str:
    text = "\0".join((query.q.strip(), query.sort, query.filter, str(query.limit)))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _encode_cursor(query: VideoListQuery, page: int) -> str:
    raw = json.dumps({"p": page, "f": _fingerprint(query)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _page_of(query: VideoListQuery) -> int:
    if not query.cursor:
        return 1
    try:
        data = json.loads(base64.urlsafe_b64decode(query.cursor + "=" * (-len(query.cursor) % 4)))
        page, fingerprint = int(data["p"]), data["f"]
    except (ValueError, TypeError, KeyError):
        raise invalid("query.cursor", "The cursor is malformed: pass next_cursor as it came.") from None
    if fingerprint != _fingerprint(query) or not 1 < page <= 100_000:
        raise invalid("query.cursor", "This cursor belongs to another query: keep q, sort, filter and limit.")
    return page


@operation(
    bp,
    "GET",
    "/channels/<int:channel_id>/videos",
    summary="A page of the channel's videos",
    response=VideoPage,
    query=VideoListQuery,
)
def list_videos(channel_id: int, query: VideoListQuery) -> Serialized:
    """The channel's videos as its page lists them: search the title (or give
    a YouTube video id), sort and filter; follow `next_cursor` for the next page."""
    channel = require_channel(channel_id)
    page = _page_of(query)
    search = query.q.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
    # Kept in the page cache under the channel's data_version, which the
    # database bumps at the commit of any change to its videos (migration
    # 0018), like the channel page's table: asked again before anything
    # changed, the page costs the membership check alone (kept as its JSON:
    # not serialised again either). Nothing in it depends on who asks,
    # beyond being a member.
    key = ("api_videos", channel_id, channel["data_version"], search, query.sort, query.filter, query.limit, page)
    return page_cache().get_or_make(key, lambda: _video_page(channel_id, search, query, page))


def _video_page(channel_id: int, search: str, query: VideoListQuery, page: int) -> Serialized:
    # One statement: read() runs it without a transaction's round trips.
    rows, total = read(
        channel_store.video_page,
        channel_id,
        search=search,
        sort=query.sort,
        status_filter=query.filter,
        page=page,
        per_page=query.limit,
    )
    more = page * query.limit < total
    # Validated in one call (pydantic-core, in Rust): measured faster than
    # model_construct, which builds each row's object in Python.
    return Serialized.of(
        VideoPage.model_validate(
            {
                "videos": [_summary(row) for row in rows],
                "total": total,
                "next_cursor": _encode_cursor(query, page + 1) if more else None,
            }
        )
    )


@operation(bp, "GET", "/videos/<int:video_id>", summary="One video: metadata, SEO score, history", response=Video)
def get_video(video_id: int) -> Video:
    """The video's current metadata, its SEO score with the reason for each
    criterion, and every stored version (newest first)."""
    channel = channel_of("video", video_id)
    video = load_video(channel["id"], video_id)
    score = seo.score(video["title"], video["description"], list(video["tags"]))
    history = versions.list_versions(video_id)
    return Video.model_validate(
        {
            **_summary(video),
            "channel_id": channel["id"],
            "metadata": {"title": video["title"], "description": video["description"], "tags": list(video["tags"])},
            "seo": {
                "score": score.score,
                "keyword": score.keyword,
                "reasons": [
                    {"criterion": r.criterion, "points": r.points, "max_points": r.max_points, "ok": r.ok}
                    | {"message": r.message}
                    for r in score.reasons
                ],
            },
            "history": [
                {
                    **{name: v[name] for name in ("id", "number", "source", "title", "created_at", "author")},
                    "is_current": bool(v["is_current"]),
                    "restore_url": f"{API}/videos/{video_id}/versions/{v['id']}/restore",
                }
                for v in history
            ],
            "suggestions_url": f"{API}/videos/{video_id}/suggestions",
        }
    )


@operation(
    bp, "GET", "/videos/<int:video_id>/suggestions", summary="The video's newest suggestions", response=SuggestionList
)
def list_suggestions(video_id: int) -> SuggestionList:
    """The video's 20 newest suggestions, newest first, in any state."""
    channel_of("video", video_id)
    rows = read(store.recent_suggestions, video_id, limit=20)
    return SuggestionList.model_validate({"suggestions": [summary_model(row, video_id) for row in rows]})


@operation(
    bp,
    "POST",
    "/videos/<int:video_id>/versions/<int:version_id>/restore",
    summary="Put an earlier version back",
    response=Restoring,
    status=202,
)
def restore_version(video_id: int, version_id: int) -> Restoring:
    """Restore a stored version (editors): it becomes a 'restore' suggestion,
    queued for the apply job like any other, and what the video has now is
    kept as a version too. 409 when the video already has that version or was
    removed from YouTube."""
    channel = channel_of("video", video_id, "editor")
    video = load_video(channel["id"], video_id)
    version = versions.get_version(video_id, version_id)
    versions.check_restorable(video, version)
    suggestion_id = versions.create_restore(channel, video, version, current_user)
    enqueue_applies([suggestion_id], get_redis())
    return Restoring(suggestion_id=suggestion_id, suggestion_url=f"{API}/suggestions/{suggestion_id}")
