"""Fill in the SEO score of videos whose metadata changed.

Sync clears a video's score when its metadata changes and this fills it in
afterwards, so scoring (about half a millisecond of CPU a video) never
slows the sync itself.
"""

from __future__ import annotations

from psycopg2.extras import execute_values

from optimizer import seo
from reliability.db import transaction

BATCH = 500


def score_missing(channel_id: int) -> int:
    """Score every current video of the channel that has no score; returns
    how many were scored."""
    scored = 0
    while True:
        with transaction() as cur:
            cur.execute(
                """SELECT id, title, description, tags FROM videos
                   WHERE channel_id = %s AND seo_score IS NULL AND removed_at IS NULL
                   ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
                (channel_id, BATCH),
            )
            rows = cur.fetchall()
            if not rows:
                return scored
            execute_values(
                cur,
                "UPDATE videos SET seo_score = data.score FROM (VALUES %s) AS data (id, score) WHERE videos.id = data.id",
                [(r["id"], seo.score(r["title"], r["description"], list(r["tags"])).score) for r in rows],
            )
            scored += len(rows)
