"""Fill in the SEO score of videos whose metadata changed.

Sync clears a video's score when its metadata changes and this fills it in
afterwards, so scoring (about half a millisecond of CPU a video) never
slows the sync itself.
"""

from __future__ import annotations

from optimizer import seo, video_store
from reliability.db import transaction

BATCH = 500


def score_missing(channel_id: int) -> int:
    """Score every current video of the channel that has no score; returns
    how many were scored."""
    scored = 0
    while True:
        with transaction() as cur:
            rows = video_store.lock_unscored(cur, channel_id, BATCH)
            if not rows:
                return scored
            video_store.set_scores(
                cur, [(r["id"], seo.score(r["title"], r["description"], list(r["tags"])).score) for r in rows]
            )
            scored += len(rows)
