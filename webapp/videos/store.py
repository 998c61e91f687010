"""Queries for the video page. Each runs on the caller's cursor and never
opens or commits a transaction (see reliability.db)."""

from __future__ import annotations

from typing import Any

from reliability.db import Cursor


def video_with_transcript(cur: Cursor, channel_id: int, video_id: int) -> dict[str, Any] | None:
    """The video with its transcript's source, language and length, if it
    belongs to the channel."""
    cur.execute(
        """SELECT v.*, t.source AS transcript_source, t.language AS transcript_language,
                  length(t.text) AS transcript_chars
           FROM videos v LEFT JOIN transcripts t ON t.video_id = v.id
           WHERE v.id = %s AND v.channel_id = %s""",
        (video_id, channel_id),
    )
    return cur.fetchone()


def recent_suggestions(cur: Cursor, video_id: int, limit: int = 10) -> list[dict[str, Any]]:
    """The video's newest suggestions, as the video page lists them."""
    cur.execute(
        """SELECT s.id, s.run_id, s.status, s.engine, s.model, s.titles, s.chosen_title, s.approved_title,
                  s.primary_keyword, s.cost_usd, s.notes, s.created_at, s.apply_error
           FROM suggestions s WHERE s.video_id = %s ORDER BY s.id DESC LIMIT %s""",
        (video_id, limit),
    )
    return cur.fetchall()


def latest_experiment(cur: Cursor, video_id: int) -> dict[str, Any] | None:
    """The video's newest experiment (the change most recently applied), with
    its latest evaluation copied on the row (experiments.record_evaluation)."""
    cur.execute(
        """SELECT e.id, e.status, e.outcome, e.lift, e.confidence, e.interval_low, e.interval_high, e.look,
                  e.metric, e.details, e.applied_at, (e.applied_at AT TIME ZONE 'UTC')::date AS change_day,
                  e.cooling_until, e.evaluated_at, e.ended_at, e.auto_restore
             FROM experiments e WHERE e.video_id = %s ORDER BY e.applied_at DESC, e.id DESC LIMIT 1""",
        (video_id,),
    )
    return cur.fetchone()
