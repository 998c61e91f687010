"""Apply an accepted suggestion to YouTube without ever losing a field.

videos.update replaces the whole snippet, so the write is read-modify-write:
read the live snippet, stop if its title, description or tags differ from
the version the suggestion was made from (the creator changed something on
YouTube meanwhile: a conflict to resolve), store the live version, then send
back every field exactly as read with only the approved ones changed.

A worker killed between YouTube's answer and our commit must not cause a
second write or a gap in history: the suggestion stays 'applying', and the
retry finds the live snippet already equal to what we approved, so it
records the outcome without writing again.

The demo channel has no YouTube behind it: its stored row plays the part of
the live snippet, so every step (conflict check, versions, experiment) runs
the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from optimizer import seo, suggestions, video_history, video_store
from optimizer.youtube import gate
from optimizer.youtube.client import YouTubeClient, YouTubeError
from reliability.db import Cursor, Row, transaction

log = logging.getLogger(__name__)

# Fields of the snippet that videos.update accepts and that we send back.
WRITABLE = ("title", "description", "tags", "categoryId", "defaultLanguage", "defaultAudioLanguage")
_COLUMN = {
    "title": "title",
    "description": "description",
    "tags": "tags",
    "categoryId": "category_id",
    "defaultLanguage": "default_language",
    "defaultAudioLanguage": "default_audio_language",
}


@dataclass
class ApplyWork:
    """A suggestion claimed for Apply and what its steps pass along."""

    suggestion: Row  # the claimed suggestions row (id, video_id, engine, decided_by, base_version_id, ...)
    approved: dict[str, Any]  # title, description and tags: what the write gate says Apply writes
    video: Row  # the video, with its channel's is_demo
    base: Row  # the version the suggestion was made from (the video itself when that is gone)

    @property
    def suggestion_id(self) -> int:
        return int(self.suggestion["id"])


def _core(meta: dict[str, Any]) -> tuple[str, str, list[str]]:
    return (meta.get("title") or "", meta.get("description") or "", list(meta.get("tags") or []))


def apply_suggestion(
    suggestion_id: int, *, client_for: Callable[[int], YouTubeClient] | None, cooling_days: int
) -> str:
    """Returns the suggestion's final status: applied, failed or skipped."""
    work = _claim(suggestion_id)
    if work is None:
        return "skipped"
    approved = work.approved
    try:
        gate.check_writable(approved["title"], approved["description"], approved["tags"])
    except gate.WriteRefused as exc:
        return _fail(work, exc.message)  # before the read: not one unit spent
    try:
        live = _read_live(work, client_for)
    except YouTubeError as exc:
        if exc.retryable:
            raise  # the job queue retries later; the suggestion stays 'applying'
        return _fail(work, f"YouTube refused to read the video ({exc.reason}).")
    if _core(live) == _core(approved):
        return _finish(work, live, approved, wrote=False, cooling_days=cooling_days)
    if _core(live) != _core(work.base):
        _store_prior(work, live)  # what YouTube holds now is history too
        return _conflict(work, live)
    _store_prior(work, live)
    snippet = {
        key: (approved[key] if key in approved else live[key]) for key in WRITABLE if key in live or key in approved
    }
    try:
        _write(work, snippet, client_for)
    except YouTubeError as exc:
        if exc.retryable:
            raise
        return _fail(work, f"YouTube refused the change ({exc.reason}: {exc.message[:200]}).")
    return _finish(work, live, approved, wrote=True, cooling_days=cooling_days)


def _claim(suggestion_id: int) -> ApplyWork | None:
    with transaction() as cur:
        suggestion = suggestions.claim_for_apply(cur, suggestion_id)
        if suggestion is None:
            return None
        title, description, tags = gate.approved_metadata(suggestion)
        video = video_store.with_channel(cur, suggestion["video_id"])
        assert video is not None  # a suggestion's video_id references its video
        base = video_history.find_content(cur, suggestion["base_version_id"]) or video
        approved = {"title": title, "description": description, "tags": tags}
        return ApplyWork(suggestion=suggestion, approved=approved, video=video, base=base)


def _read_live(work: ApplyWork, client_for: Callable[[int], YouTubeClient] | None) -> dict[str, Any]:
    video = work.video
    if video["is_demo"] or client_for is None:
        if not video["is_demo"]:
            raise YouTubeError(403, "notConfigured", "YouTube access is not configured")
        return {key: video[column] for key, column in _COLUMN.items()}
    items = client_for(video["channel_id"]).videos([video["youtube_video_id"]], parts="snippet")
    if not items:
        raise YouTubeError(404, "videoNotFound", "The video is no longer on YouTube")
    return items[0]["snippet"]


def _store_prior(work: ApplyWork, live: dict[str, Any]) -> None:
    """The live version, kept before anything is written (deduplicated by hash)."""
    with transaction() as cur:
        prior_version_id = _version_for(cur, work.suggestion["video_id"], live, "sync", None)
        suggestions.record_prior_version(cur, work.suggestion_id, prior_version_id)


def _version_for(
    cur: Cursor, video_id: int, meta: dict[str, Any], source: str, suggestion_id: int | None, actor: int | None = None
) -> int:
    """The version with this snippet (keys as YouTube names them), kept unless it
    equals the video's latest."""
    fields = {column: meta.get(key) for key, column in _COLUMN.items()}
    fields["tags"] = list(fields["tags"] or [])
    kept = video_history.keep_versions(
        cur, {video_id: fields}, source=source, suggestion_id=suggestion_id, created_by=actor
    )
    return kept[video_id][0]


def _write(work: ApplyWork, snippet: dict[str, Any], client_for: Callable[[int], YouTubeClient] | None) -> None:
    video = work.video
    if video["is_demo"]:
        return  # _finish stores the new metadata: the demo copy is the channel
    assert client_for is not None  # _read_live refused a real video with no client
    client_for(video["channel_id"]).update_video_snippet(video["youtube_video_id"], snippet)


def _finish(work: ApplyWork, live: dict[str, Any], approved: dict[str, Any], *, wrote: bool, cooling_days: int) -> str:
    video = work.video
    new_meta = {**{k: live.get(k) for k in WRITABLE}, **approved}
    with transaction() as cur:
        # A restore is recorded as such, so History tells it from a new suggestion.
        source = "restore" if work.suggestion["engine"] == "restore" else "apply"
        version_id = _version_for(cur, video["id"], new_meta, source, work.suggestion_id, work.suggestion["decided_by"])
        video_store.set_applied_metadata(
            cur,
            video["id"],
            title=approved["title"],
            description=approved["description"],
            tags=approved["tags"],
            seo_score=seo.score(approved["title"], approved["description"], approved["tags"]).score,
        )
        suggestions.mark_applied(
            cur,
            work.suggestion_id,
            video_id=video["id"],
            version_id=version_id,
            cooling_days=cooling_days,
            actor_id=work.suggestion["decided_by"],
            wrote=wrote,
        )
    return "applied"


def _conflict(work: ApplyWork, live: dict[str, Any]) -> str:
    with transaction() as cur:
        suggestions.mark_conflict(
            cur,
            work.suggestion_id,
            {"title": live.get("title"), "description": live.get("description"), "tags": live.get("tags") or []},
        )
        # What YouTube holds is now what we know: the video page shows it
        # next to the creator's draft instead of a stale copy.
        title, description, tags = _core(live)
        video_store.set_live_metadata(
            cur,
            work.suggestion["video_id"],
            title=title,
            description=description,
            tags=tags,
            seo_score=seo.score(title, description, tags).score,
        )
    return "failed"


def _fail(work: ApplyWork, message: str) -> str:
    with transaction() as cur:
        suggestions.mark_failed(cur, [work.suggestion_id], message)
    return "failed"
