"""Starting a sync run: shared by the Sync button and the OAuth callback."""

from __future__ import annotations

import psycopg2.errors
from flask import current_app
from flask_login import current_user

from optimizer.youtube import quota
from reliability.db import transaction
from reliability.errors import Conflict


def create_sync_run(channel: dict) -> dict:
    """A sync run for the channel (or the one already active), after the
    checks a creator must hear about: demo, disconnected, daily budget."""
    if channel["is_demo"]:
        raise Conflict("The demo channel is already complete: there is nothing to sync from YouTube.", code="demo_channel")
    if channel["status"] != "connected":
        raise Conflict("This channel is disconnected. Reconnect it to YouTube first.", code="channel_disconnected")
    with transaction() as cur:
        quota.check_budget(cur, quota.full_sync_minimum(channel["video_count"]), current_app.config["YOUTUBE_DAILY_QUOTA"])
        return _insert_run(cur, channel)


def _insert_run(cur, channel: dict) -> dict:
    """A new run, resuming where a quota-stopped run left off; if a run is
    already active, that one (one sync per channel at a time)."""
    cur.execute("SELECT * FROM sync_runs WHERE channel_id = %s ORDER BY id DESC LIMIT 1", (channel["id"],))
    previous = cur.fetchone()
    if previous and previous["status"] in ("queued", "running"):
        return previous
    resume = previous if previous and previous["status"] == "quota_exceeded" and previous["resume_page_token"] else None
    kind = "full" if channel["last_synced_at"] is None else "incremental"
    cur.execute("SAVEPOINT new_run")
    try:
        cur.execute(
            """INSERT INTO sync_runs (channel_id, requested_by, kind, resume_page_token, pass_started_at)
               VALUES (%s, %s, %s, %s, %s) RETURNING *""",
            (channel["id"], current_user.id, kind, resume and resume["resume_page_token"], resume and resume["pass_started_at"]),
        )
    except psycopg2.errors.UniqueViolation:  # another click won the race
        cur.execute("ROLLBACK TO SAVEPOINT new_run")
        cur.execute("SELECT * FROM sync_runs WHERE channel_id = %s AND status IN ('queued', 'running')", (channel["id"],))
    return cur.fetchone()
