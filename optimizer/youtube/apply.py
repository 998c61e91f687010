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
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg2.extras import Json

from optimizer import seo
from optimizer.youtube import gate
from optimizer.youtube.client import YouTubeClient, YouTubeError
from optimizer.youtube.mapping import content_hash
from reliability import audit
from reliability.db import transaction

log = logging.getLogger(__name__)

# Fields of the snippet that videos.update accepts and that we send back.
WRITABLE = ("title", "description", "tags", "categoryId", "defaultLanguage", "defaultAudioLanguage")
_COLUMN = {"title": "title", "description": "description", "tags": "tags", "categoryId": "category_id",
           "defaultLanguage": "default_language", "defaultAudioLanguage": "default_audio_language"}


def _core(meta: dict[str, Any]) -> tuple:
    return (meta.get("title") or "", meta.get("description") or "", list(meta.get("tags") or []))


def apply_suggestion(suggestion_id: int, *, client_for: Callable[[int], YouTubeClient] | None, cooling_days: int) -> str:
    """Returns the suggestion's final status: applied, failed or skipped."""
    work = _claim(suggestion_id)
    if work is None:
        return "skipped"
    approved = {"title": work["approved_title"], "description": work["approved_description"], "tags": work["approved_tags"]}
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
    if _core(live) != _core(work["base"]):
        _store_prior(work, live)  # what YouTube holds now is history too
        return _conflict(work, live)
    _store_prior(work, live)
    snippet = {key: (approved[key] if key in approved else live[key]) for key in WRITABLE if key in live or key in approved}
    try:
        _write(work, snippet, client_for)
    except YouTubeError as exc:
        if exc.retryable:
            raise
        return _fail(work, f"YouTube refused the change ({exc.reason}: {exc.message[:200]}).")
    return _finish(work, live, approved, wrote=True, cooling_days=cooling_days)


def _claim(suggestion_id: int) -> dict[str, Any] | None:
    # Only 'applying' (queued by the web): an 'accepted' suggestion waits for
    # the creator's Apply, and one given back after a failed enqueue must not
    # be written by a job that did get queued.
    with transaction() as cur:
        cur.execute(
            """UPDATE suggestions SET status = 'applying', apply_error = NULL, updated_at = now()
               WHERE id = %s AND status = 'applying'
               RETURNING id, video_id, base_version_id, decided_by, engine, titles, chosen_title, description, tags,
                         approved_title, approved_description, approved_tags""",
            (suggestion_id,),
        )
        work = cur.fetchone()
        if work is None:
            return None
        work["approved_title"], work["approved_description"], work["approved_tags"] = gate.approved_metadata(work)
        cur.execute(
            """SELECT v.*, c.is_demo, c.id AS channel_pk FROM videos v JOIN channels c ON c.id = v.channel_id
               WHERE v.id = %s""",
            (work["video_id"],),
        )
        work["video"] = cur.fetchone()
        cur.execute("SELECT title, description, tags FROM metadata_versions WHERE id = %s", (work["base_version_id"],))
        work["base"] = cur.fetchone() or work["video"]
        return work


def _read_live(work: dict[str, Any], client_for) -> dict[str, Any]:
    video = work["video"]
    if video["is_demo"] or client_for is None:
        if not video["is_demo"]:
            raise YouTubeError(403, "notConfigured", "YouTube access is not configured")
        return {key: video[column] for key, column in _COLUMN.items()}
    items = client_for(video["channel_id"]).videos([video["youtube_video_id"]], parts="snippet")
    if not items:
        raise YouTubeError(404, "videoNotFound", "The video is no longer on YouTube")
    return items[0]["snippet"]


def _store_prior(work: dict[str, Any], live: dict[str, Any]) -> None:
    """The live version, kept before anything is written (deduplicated by hash)."""
    with transaction() as cur:
        work["prior_version_id"] = _version_for(cur, work["video_id"], live, "sync", None)
        cur.execute("UPDATE suggestions SET prior_version_id = %s WHERE id = %s", (work["prior_version_id"], work["id"]))


def _version_for(cur, video_id: int, meta: dict[str, Any], source: str, suggestion_id: int | None, actor: int | None = None) -> int:
    fields = {column: meta.get(key) for key, column in _COLUMN.items()}
    fields["tags"] = list(fields["tags"] or [])
    digest = content_hash(fields)
    cur.execute("SELECT id, content_hash FROM metadata_versions WHERE video_id = %s ORDER BY id DESC LIMIT 1", (video_id,))
    latest = cur.fetchone()
    if latest and latest["content_hash"] == digest:
        return latest["id"]
    cur.execute(
        """INSERT INTO metadata_versions (video_id, source, title, description, tags, category_id, default_language,
                                          default_audio_language, content_hash, created_by, suggestion_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (video_id, source, fields["title"] or "", fields["description"] or "", fields["tags"], fields["category_id"],
         fields["default_language"], fields["default_audio_language"], digest, actor, suggestion_id),
    )
    return cur.fetchone()["id"]


def _write(work: dict[str, Any], snippet: dict[str, Any], client_for) -> None:
    video = work["video"]
    if video["is_demo"]:
        return  # _finish stores the new metadata: the demo copy is the channel
    client_for(video["channel_id"]).update_video_snippet(video["youtube_video_id"], snippet)


def _finish(work: dict[str, Any], live: dict[str, Any], approved: dict[str, Any], *, wrote: bool, cooling_days: int) -> str:
    video = work["video"]
    new_meta = {**{k: live.get(k) for k in WRITABLE}, **approved}
    now = datetime.now(tz=UTC)
    with transaction() as cur:
        if not wrote and work.get("prior_version_id") is None:
            cur.execute("SELECT prior_version_id FROM suggestions WHERE id = %s", (work["id"],))
            work["prior_version_id"] = cur.fetchone()["prior_version_id"]
        # A restore is recorded as such, so History tells it from a new suggestion.
        source = "restore" if work["engine"] == "restore" else "apply"
        version_id = _version_for(cur, video["id"], new_meta, source, work["id"], work["decided_by"])
        cur.execute(
            """UPDATE videos SET title = %s, description = %s, tags = %s, seo_score = %s, synced_at = now()
               WHERE id = %s""",
            (approved["title"], approved["description"], approved["tags"],
             seo.score(approved["title"], approved["description"], approved["tags"]).score, video["id"]),
        )
        cur.execute(
            """UPDATE suggestions SET status = 'applied', applied_version_id = %s, applied_at = now(), conflict = NULL,
                      updated_at = now() WHERE id = %s""",
            (version_id, work["id"]),
        )
        cur.execute(
            """UPDATE suggestions SET status = 'superseded', updated_at = now()
               WHERE video_id = %s AND id <> %s AND status IN ('pending', 'accepted', 'failed')""",
            (video["id"], work["id"]),
        )
        cur.execute(
            """INSERT INTO experiments (video_id, suggestion_id, applied_at, cooling_until)
               VALUES (%s, %s, %s, %s) ON CONFLICT (suggestion_id) DO NOTHING""",
            (video["id"], work["id"], now, (now + timedelta(days=cooling_days)).date()),
        )
        audit.record(cur, "suggestion.applied", actor_id=work["decided_by"], target_type="video", target_id=video["id"],
                     details={"suggestion_id": work["id"], "version_id": version_id, "reconciled": not wrote})
    return "applied"


def _conflict(work: dict[str, Any], live: dict[str, Any]) -> str:
    with transaction() as cur:
        cur.execute(
            """UPDATE suggestions SET status = 'failed', updated_at = now(), conflict = %s,
                      apply_error = 'The video changed on YouTube since this suggestion was made.'
               WHERE id = %s""",
            (Json({"title": live.get("title"), "description": live.get("description"), "tags": live.get("tags") or []}), work["id"]),
        )
        # What YouTube holds is now what we know: the video page shows it
        # next to the creator's draft instead of a stale copy.
        title, description, tags = _core(live)
        cur.execute("UPDATE videos SET title = %s, description = %s, tags = %s, seo_score = %s WHERE id = %s",
                    (title, description, tags, seo.score(title, description, tags).score, work["video_id"]))
    return "failed"


def _fail(work: dict[str, Any], message: str) -> str:
    with transaction() as cur:
        cur.execute("UPDATE suggestions SET status = 'failed', apply_error = %s, updated_at = now() WHERE id = %s",
                    (message, work["id"]))
    return "failed"
