"""Queries the API needs beyond the pages' stores: which channel a row
belongs to (API URLs name a video, run, suggestion or experiment without its
channel, and the membership check needs the channel), a run asked for with
an Idempotency-Key, and one experiment. Each runs on the caller's cursor."""

from __future__ import annotations

from typing import Any

from reliability.db import Cursor

# The channel owning each kind of row the API names by id alone.
_CHANNEL_OF = {
    "video": "SELECT channel_id FROM videos WHERE id = %s",
    "run": "SELECT channel_id FROM optimization_runs WHERE id = %s",
    "suggestion": "SELECT v.channel_id FROM suggestions s JOIN videos v ON v.id = s.video_id WHERE s.id = %s",
    "experiment": "SELECT v.channel_id FROM experiments e JOIN videos v ON v.id = e.video_id WHERE e.id = %s",
}


def channel_of(cur: Cursor, kind: str, row_id: int) -> int | None:
    cur.execute(_CHANNEL_OF[kind], (row_id,))
    row = cur.fetchone()
    return row["channel_id"] if row else None


def channels_of_videos(cur: Cursor, video_ids: list[int]) -> set[int]:
    cur.execute("SELECT DISTINCT channel_id FROM videos WHERE id = ANY(%s)", (video_ids,))
    return {row["channel_id"] for row in cur.fetchall()}


def run_request(cur: Cursor, idempotency_key: str) -> dict[str, Any] | None:
    """What the run made with this key was asked for: its channel, requester,
    transcript choice and videos in order; None when the key is new."""
    cur.execute(
        """SELECT r.id, r.channel_id, r.requested_by, r.without_transcripts,
                  array_agg(rv.video_id ORDER BY rv.position) AS video_ids
           FROM optimization_runs r JOIN optimization_run_videos rv ON rv.run_id = r.id
           WHERE r.idempotency_key = %s GROUP BY r.id""",
        (idempotency_key,),
    )
    return cur.fetchone()


def experiment(cur: Cursor, experiment_id: int) -> dict[str, Any] | None:
    cur.execute(
        """SELECT e.id, e.video_id, v.title AS video_title, v.channel_id, e.suggestion_id, e.status, e.lift,
                  e.confidence, e.interval_low, e.interval_high, e.look, e.metric, e.applied_at, e.cooling_until,
                  e.evaluated_at, e.auto_restore
           FROM experiments e JOIN videos v ON v.id = e.video_id WHERE e.id = %s""",
        (experiment_id,),
    )
    return cur.fetchone()
