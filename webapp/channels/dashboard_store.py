"""The channel dashboard above the video table: what waits for a decision,
what was applied and spent this month, and a short list of what needs
attention. Two queries whatever the channel's size, each on the caller's
cursor (the view owns the transaction); their results are kept per data
version (webapp/channels/showing.py). Both are prepared (reliability/
prepared.py): planning them was most of their cost on the server (about
0.25 and 0.45 ms, against 0.04 and 0.07 ms of execution, on a 500-video
channel), paid again whenever a change to the channel makes the page
compute them afresh. Today's YouTube quota, which every
channel's work moves, is read on each request (optimizer.youtube.quota
``usage_today``)."""

from __future__ import annotations

from typing import Any

from optimizer import experiments, seo, suggestions
from reliability.db import Cursor
from reliability.prepared import Statement

ATTENTION_ROWS = 8


_SUMMARY = Statement(
    "dashboard_summary",
    """WITH month AS (SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start)
           SELECT
             (SELECT count(*) FROM suggestions s JOIN videos v ON v.id = s.video_id
               WHERE v.channel_id = %(c)s AND s.status = %(pending)s AND v.removed_at IS NULL) AS pending,
             (SELECT count(*) FROM suggestions s JOIN videos v ON v.id = s.video_id
               WHERE v.channel_id = %(c)s AND s.status = %(accepted)s AND v.removed_at IS NULL) AS accepted,
             (SELECT count(*) FROM suggestions s JOIN videos v ON v.id = s.video_id, month
               WHERE v.channel_id = %(c)s AND s.status = %(applied)s AND s.applied_at >= month.start)
               AS applied_this_month,
             (SELECT coalesce(sum(cost_usd), 0) FROM usage_ledger u, month
               WHERE u.channel_id = %(c)s AND u.occurred_at >= month.start) AS cost_this_month""",
)


def summary(cur: Cursor, channel_id: int) -> dict[str, Any]:
    _SUMMARY.execute(
        cur,
        {
            "c": channel_id,
            "pending": suggestions.PENDING,
            "accepted": suggestions.ACCEPTED,
            "applied": suggestions.APPLIED,
        },
    )
    return cur.fetchone()


_NEEDS_ATTENTION = Statement(
    "dashboard_needs_attention",
    """(SELECT 1 AS rank, 'failed' AS kind, v.id AS video_id, v.title, s.id AS suggestion_id,
                   coalesce(s.apply_error, 'The change could not be applied.') AS detail, s.updated_at AS at,
                   v.view_count AS views
              FROM suggestions s JOIN videos v ON v.id = s.video_id
             WHERE v.channel_id = %(c)s AND s.status = %(failed)s AND v.removed_at IS NULL
             ORDER BY s.updated_at DESC LIMIT %(n)s)
           UNION ALL
           (SELECT 2, 'hurt', v.id, v.title, e.suggestion_id,
                   CASE e.auto_restore WHEN %(restored)s THEN %(restored_note)s WHEN %(edited)s THEN %(edited_note)s
                        WHEN %(gone)s THEN %(gone_note)s WHEN %(no_prior)s THEN %(no_prior_note)s
                        WHEN %(refused)s THEN %(refused_note)s ELSE %(hurt_note)s END,
                   coalesce(e.auto_restore_at, e.evaluated_at), v.view_count
              FROM experiments e JOIN videos v ON v.id = e.video_id
             WHERE v.channel_id = %(c)s AND e.status = %(hurt)s AND v.removed_at IS NULL
             ORDER BY e.evaluated_at DESC LIMIT %(n)s)
           UNION ALL
           (SELECT 3, 'review', v.id, v.title, s.id,
                   CASE s.status WHEN %(accepted)s THEN 'Accepted, waiting to be applied.'
                                 ELSE 'A suggestion is waiting for your review.' END,
                   s.created_at, v.view_count
              FROM suggestions s JOIN videos v ON v.id = s.video_id
             WHERE v.channel_id = %(c)s AND s.status = ANY(%(undecided)s) AND v.removed_at IS NULL
             ORDER BY s.created_at DESC LIMIT %(n)s)
           UNION ALL
           (SELECT 4, 'low_score', v.id, v.title, NULL, 'SEO score ' || v.seo_score || ' of 100.', NULL, v.view_count
              FROM videos v
             WHERE v.channel_id = %(c)s AND v.removed_at IS NULL AND v.seo_score < %(low)s
               AND NOT EXISTS (SELECT 1 FROM suggestions s WHERE s.video_id = v.id
                               AND s.status = ANY(%(in_play)s))
             ORDER BY v.view_count DESC LIMIT %(n)s)
           ORDER BY rank, at DESC NULLS LAST, views DESC LIMIT %(n)s""",
)


def needs_attention(cur: Cursor, channel_id: int) -> list[dict[str, Any]]:
    """Failed or conflicting changes first, then changes that measured worse
    (saying whether auto-restore put the earlier version back, and if not
    why), then suggestions waiting for a decision, then the most-watched
    videos with a low SEO score and nothing in progress."""
    _NEEDS_ATTENTION.execute(
        cur,
        {
            "c": channel_id,
            "n": ATTENTION_ROWS,
            "low": seo.ATTENTION_THRESHOLD,
            "failed": suggestions.FAILED,
            "accepted": suggestions.ACCEPTED,
            "undecided": list(suggestions.UNDECIDED),
            "in_play": list(suggestions.IN_PLAY),
            "hurt": experiments.HURT,
            **_auto_restore_notes(),
        },
    )
    return cur.fetchall()


def _auto_restore_notes() -> dict[str, str]:
    """The 'hurt' row's sentence for each auto-restore decision (the experiment module words them)."""
    notes = experiments.AUTO_RESTORE_NOTES
    decisions = {
        "restored": experiments.RESTORED,
        "edited": experiments.RESTORE_EDITED,
        "gone": experiments.RESTORE_GONE,
        "no_prior": experiments.RESTORE_NO_PRIOR,
        "refused": experiments.RESTORE_REFUSED,
    }
    return {
        **decisions,
        **{f"{key}_note": notes[decision] for key, decision in decisions.items()},
        "hurt_note": notes[experiments.RESTORE_OFF],
    }
