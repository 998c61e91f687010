"""The channel dashboard above the video table: what waits for a decision,
what was applied and spent this month, today's YouTube quota, and a short
list of what needs attention. Two queries whatever the channel's size."""

from __future__ import annotations

from typing import Any

from optimizer.youtube.quota import pacific_today
from reliability.db import transaction

ATTENTION_ROWS = 8
LOW_SEO_SCORE = 60


def summary(channel_id: int) -> dict[str, Any]:
    with transaction() as cur:
        cur.execute(
            """WITH month AS (SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start)
               SELECT
                 (SELECT count(*) FROM suggestions s JOIN videos v ON v.id = s.video_id
                   WHERE v.channel_id = %(c)s AND s.status = 'pending' AND v.removed_at IS NULL) AS pending,
                 (SELECT count(*) FROM suggestions s JOIN videos v ON v.id = s.video_id
                   WHERE v.channel_id = %(c)s AND s.status = 'accepted' AND v.removed_at IS NULL) AS accepted,
                 (SELECT count(*) FROM suggestions s JOIN videos v ON v.id = s.video_id, month
                   WHERE v.channel_id = %(c)s AND s.status = 'applied' AND s.applied_at >= month.start) AS applied_this_month,
                 (SELECT coalesce(sum(cost_usd), 0) FROM usage_ledger u, month
                   WHERE u.channel_id = %(c)s AND u.occurred_at >= month.start) AS cost_this_month,
                 (SELECT coalesce(sum(units), 0) FROM quota_ledger
                   WHERE api = 'youtube' AND pacific_day = %(day)s) AS quota_today,
                 (SELECT coalesce(sum(units), 0) FROM quota_ledger
                   WHERE api = 'youtube' AND pacific_day = %(day)s AND channel_id = %(c)s) AS channel_quota_today""",
            {"c": channel_id, "day": pacific_today()},
        )
        return cur.fetchone()


def needs_attention(channel_id: int) -> list[dict[str, Any]]:
    """Failed or conflicting changes first, then changes that measured worse,
    then suggestions waiting for a decision, then the most-watched videos
    with a low SEO score and nothing in progress."""
    with transaction() as cur:
        cur.execute(
            """(SELECT 1 AS rank, 'failed' AS kind, v.id AS video_id, v.title, s.id AS suggestion_id,
                       coalesce(s.apply_error, 'The change could not be applied.') AS detail, s.updated_at AS at,
                       v.view_count AS views
                  FROM suggestions s JOIN videos v ON v.id = s.video_id
                 WHERE v.channel_id = %(c)s AND s.status = 'failed' AND v.removed_at IS NULL
                 ORDER BY s.updated_at DESC LIMIT %(n)s)
               UNION ALL
               (SELECT 2, 'hurt', v.id, v.title, e.suggestion_id,
                       'This change measured worse than before; consider restoring the earlier version.',
                       e.evaluated_at, v.view_count
                  FROM experiments e JOIN videos v ON v.id = e.video_id
                 WHERE v.channel_id = %(c)s AND e.status = 'hurt' AND v.removed_at IS NULL
                 ORDER BY e.evaluated_at DESC LIMIT %(n)s)
               UNION ALL
               (SELECT 3, 'review', v.id, v.title, s.id,
                       CASE s.status WHEN 'accepted' THEN 'Accepted, waiting to be applied.'
                                     ELSE 'A suggestion is waiting for your review.' END,
                       s.created_at, v.view_count
                  FROM suggestions s JOIN videos v ON v.id = s.video_id
                 WHERE v.channel_id = %(c)s AND s.status IN ('pending', 'accepted') AND v.removed_at IS NULL
                 ORDER BY s.created_at DESC LIMIT %(n)s)
               UNION ALL
               (SELECT 4, 'low_score', v.id, v.title, NULL, 'SEO score ' || v.seo_score || ' of 100.', NULL, v.view_count
                  FROM videos v
                 WHERE v.channel_id = %(c)s AND v.removed_at IS NULL AND v.seo_score < %(low)s
                   AND NOT EXISTS (SELECT 1 FROM suggestions s WHERE s.video_id = v.id
                                   AND s.status IN ('pending', 'accepted', 'applying', 'failed'))
                 ORDER BY v.view_count DESC LIMIT %(n)s)
               ORDER BY rank, at DESC NULLS LAST, views DESC LIMIT %(n)s""",
            {"c": channel_id, "n": ATTENTION_ROWS, "low": LOW_SEO_SCORE},
        )
        return cur.fetchall()
