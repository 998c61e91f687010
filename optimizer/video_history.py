"""A video's metadata history: its stored versions, keeping a new one, and
restoring one.

A version is kept only when its content differs from the video's latest
(``keep_versions``, the one place that writes ``metadata_versions``): sync,
apply and conflict all go through it.

A restore is not a write of its own: it becomes a decided suggestion (engine
'restore') carried out by the apply job like any other, so it gets the same
read-modify-write, conflict check and versions before and after. Its
optimization_runs row has no optimization_run_videos rows, so it does not
count against the monthly optimization quota or show as an optimization run.
Every function runs on the caller's cursor.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, cast

from psycopg2.extras import execute_values

from optimizer import runs, suggestion_store
from optimizer.suggestions import Actor
from optimizer.youtube import gate, quota
from optimizer.youtube.mapping import content_hash
from reliability import audit

RESTORE_UNITS = quota.APPLY_UNITS  # a restore is applied like any suggestion


def keep_versions(
    cur: Any,
    metadata: Mapping[int, Mapping[str, Any]],
    *,
    source: str,
    suggestion_id: int | None = None,
    created_by: int | None = None,
) -> dict[int, tuple[int, bool]]:
    """Store each video's metadata (column names: title, description, tags,
    category_id, default_language, default_audio_language) as a new version
    unless it equals the video's latest version by content hash. Returns
    video id -> (the version id, whether it is new)."""
    if not metadata:
        return {}
    cur.execute(
        """SELECT DISTINCT ON (video_id) video_id, id, content_hash FROM metadata_versions
           WHERE video_id = ANY(%s) ORDER BY video_id, id DESC""",
        (list(metadata),),
    )
    kept = {}
    latest = {r["video_id"]: r for r in cur.fetchall()}
    new_rows = []
    for video_id, meta in metadata.items():
        digest = content_hash(dict(meta))
        if video_id in latest and latest[video_id]["content_hash"] == digest:
            kept[video_id] = (latest[video_id]["id"], False)
            continue
        new_rows.append(
            (
                video_id,
                source,
                meta["title"] or "",
                meta["description"] or "",
                list(meta["tags"] or []),
                meta["category_id"],
                meta["default_language"],
                meta["default_audio_language"],
                digest,
                created_by,
                suggestion_id,
            )
        )
    if new_rows:
        inserted = execute_values(
            cur,
            """INSERT INTO metadata_versions (video_id, source, title, description, tags, category_id, default_language,
                                              default_audio_language, content_hash, created_by, suggestion_id)
               VALUES %s RETURNING id, video_id""",
            new_rows,
            page_size=len(new_rows),
            fetch=True,
        )
        kept.update({r["video_id"]: (r["id"], True) for r in inserted})
    return kept


def list_versions(cur: Any, video_id: int) -> list[dict[str, Any]]:
    """Every version, newest first, numbered from the oldest (1). Only the
    newest version equal to what the video has is ``is_current``; an older
    one with the same content (the version a restore went back to) is
    ``same_as_now``: after a restore both match, and History said "what the
    video has now" twice."""
    cur.execute(
        """SELECT id, source, title, created_at, author, number, matches AND id = newest_match AS is_current,
                  matches AND id <> newest_match AS same_as_now
           FROM (SELECT mv.id, mv.source, mv.title, mv.created_at, u.email AS author,
                        row_number() OVER (ORDER BY mv.id) AS number, m.matches,
                        max(mv.id) FILTER (WHERE m.matches) OVER () AS newest_match
                 FROM metadata_versions mv JOIN videos v ON v.id = mv.video_id
                      LEFT JOIN users u ON u.id = mv.created_by,
                      LATERAL (SELECT (mv.title, mv.description, mv.tags) = (v.title, v.description, v.tags)
                                      AS matches) m
                 WHERE mv.video_id = %s) versions
           ORDER BY id DESC""",
        (video_id,),
    )
    return cur.fetchall()


def find_content(cur: Any, version_id: int | None) -> dict[str, Any] | None:
    """A version's title, description and tags, found by its id alone."""
    cur.execute("SELECT title, description, tags FROM metadata_versions WHERE id = %s", (version_id,))
    return cast("dict[str, Any] | None", cur.fetchone())


def find_version(cur: Any, video_id: int, version_id: int) -> dict[str, Any] | None:
    """The version with its number, if it belongs to the video."""
    cur.execute(
        """SELECT mv.*, (SELECT count(*) FROM metadata_versions o
                          WHERE o.video_id = mv.video_id AND o.id <= mv.id) AS number
           FROM metadata_versions mv WHERE mv.id = %s AND mv.video_id = %s""",
        (version_id, video_id),
    )
    return cur.fetchone()


def create_restore(
    cur: Any,
    channel: dict[str, Any],
    video: dict[str, Any],
    version: dict[str, Any],
    user: Actor | None,
    daily_budget: int,
    *,
    experiment_id: int | None = None,
) -> int:
    """A 'restore' suggestion for ``version``, its quota reserved; returns its
    id, for the caller to queue for the apply job after commit. ``user`` None:
    an automatic restore of the change that ``experiment_id`` found hurt."""
    # An old version may hold what YouTube refuses (< or >, a title over 100 characters):
    # refuse it here, before a unit is spent, rather than have YouTube refuse it later.
    gate.check_writable(version["title"], version["description"], list(version["tags"]))
    user_id = user.id if user is not None else None
    run_id = runs.create_finished(
        cur,
        channel_id=channel["id"],
        requested_by=user_id,
        idempotency_key=f"restore-{version['id']}-{uuid.uuid4().hex}",
    )
    suggestion_id = suggestion_store.create_restore(cur, run_id, video["id"], version, user_id)
    if not channel["is_demo"]:  # refused: the transaction, run and suggestion included, rolls back
        quota.reserve(
            cur,
            [RESTORE_UNITS],
            daily_budget,
            purpose="apply",
            channel_id=channel["id"],
            user_id=user_id,
            suggestion_ids=[suggestion_id],
        )
    details: dict[str, Any] = {"version_id": version["id"], "suggestion_id": suggestion_id}
    if user is None:
        details.update(automatic=True, experiment_id=experiment_id)
    audit.record(
        cur,
        "version.restore_requested",
        actor_id=user_id,
        actor_email=user.email if user is not None else None,
        target_type="video",
        target_id=video["id"],
        details=details,
    )
    return suggestion_id
