"""Reading a video's metadata history and turning a restore into an apply.

A restore is not a write of its own: it becomes an accepted suggestion
(engine 'restore') carried out by the same job as any suggestion, so it gets
the same read-modify-write, conflict check and versions before and after.
Its optimization_runs row has no optimization_run_videos rows, so it does not
count against the monthly optimization quota or show as an optimization run.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort, current_app
from psycopg2.extras import Json

from optimizer.youtube import gate, quota
from reliability import audit
from reliability.db import transaction

RESTORE_UNITS = quota.APPLY_UNITS  # a restore is applied like any suggestion


def list_versions(video_id: int) -> list[dict[str, Any]]:
    """Every version, newest first, numbered from the oldest (1). Only the
    newest version equal to what the video has is ``is_current``; an older
    one with the same content (the version a restore went back to) is
    ``same_as_now``: after a restore both match, and History said "what the
    video has now" twice."""
    with transaction() as cur:
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


def get_version(video_id: int, version_id: int) -> dict[str, Any]:
    """The version, if it belongs to the video (else 404: ids are not hints)."""
    with transaction() as cur:
        cur.execute(
            """SELECT mv.*, (SELECT count(*) FROM metadata_versions o
                              WHERE o.video_id = mv.video_id AND o.id <= mv.id) AS number
               FROM metadata_versions mv WHERE mv.id = %s AND mv.video_id = %s""",
            (version_id, video_id),
        )
        version = cur.fetchone()
    if version is None:
        abort(404)
    return version


def create_restore(channel: dict, video: dict, version: dict, user) -> int:
    """A 'restore' suggestion for ``version``, queued for the apply job; returns its id."""
    # An old version may hold what YouTube refuses (< or >, a title over 100 characters):
    # refuse it here, before a unit is spent, rather than have YouTube refuse it later.
    gate.check_writable(version["title"], version["description"], list(version["tags"]))
    with transaction() as cur:
        cur.execute(
            """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, status, video_count,
                                              started_at, finished_at)
               VALUES (%s, %s, %s, 'succeeded', 1, now(), now()) RETURNING id""",
            (channel["id"], user.id, f"restore-{version['id']}-{uuid.uuid4().hex}"),
        )
        run_id = cur.fetchone()["id"]
        suggestion_id = _insert_suggestion(cur, run_id, video["id"], version, user.id)
        if not channel["is_demo"]:  # refused: the transaction, run and suggestion included, rolls back
            quota.reserve(cur, [RESTORE_UNITS], current_app.config["YOUTUBE_DAILY_QUOTA"], purpose="apply",
                          channel_id=channel["id"], user_id=user.id, suggestion_ids=[suggestion_id])
        audit.record(cur, "version.restore_requested", actor_id=user.id, actor_email=user.email,
                     target_type="video", target_id=video["id"],
                     details={"version_id": version["id"], "suggestion_id": suggestion_id})
    return suggestion_id


def _insert_suggestion(cur, run_id: int, video_id: int, version: dict, user_id: int) -> int:
    # The apply job checks YouTube against the newest stored version: if the
    # video changed since, the restore stops as a conflict instead of overwriting.
    cur.execute("SELECT id FROM metadata_versions WHERE video_id = %s ORDER BY id DESC LIMIT 1", (video_id,))
    base_version_id = cur.fetchone()["id"]
    titles = Json([{"title": version["title"], "rationale": f"Restore of version {version['number']}"}])
    cur.execute(
        """INSERT INTO suggestions (run_id, video_id, base_version_id, status, engine, prompt_version, titles,
                                    chosen_title, description, tags, cache_key, approved_title,
                                    approved_description, approved_tags, decided_by, decided_at)
           VALUES (%s, %s, %s, 'applying', 'restore', 'restore', %s, 0, %s, %s, 'restore', %s, %s, %s, %s, now())
           RETURNING id""",
        (run_id, video_id, base_version_id, titles, version["description"], list(version["tags"]),
         version["title"], version["description"], list(version["tags"]), user_id),
    )
    return cur.fetchone()["id"]

