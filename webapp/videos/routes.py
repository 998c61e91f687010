"""The video page."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, render_template
from flask_login import login_required

from optimizer import limits, seo
from reliability.db import transaction
from webapp.channels.access import can, require_channel
from webapp.optimize import decisions
from webapp.optimize import store as optimize_store
from webapp.optimize.review import review_context
from webapp.videos import versions

bp = Blueprint("videos", __name__)


def load_video(channel_id: int, video_id: int) -> dict:
    """The video, if it belongs to the channel (else 404: ids are not hints)."""
    with transaction() as cur:
        cur.execute(
            """SELECT v.*, t.source AS transcript_source, t.language AS transcript_language,
                      length(t.text) AS transcript_chars
               FROM videos v LEFT JOIN transcripts t ON t.video_id = v.id
               WHERE v.id = %s AND v.channel_id = %s""",
            (video_id, channel_id),
        )
        video = cur.fetchone()
    if video is None:
        abort(404)
    return video


def _suggestions(video_id: int) -> list[dict]:
    with transaction() as cur:
        cur.execute(
            """SELECT s.id, s.run_id, s.status, s.engine, s.model, s.titles, s.chosen_title, s.approved_title, s.primary_keyword,
                      s.cost_usd, s.notes, s.created_at, s.apply_error
               FROM suggestions s WHERE s.video_id = %s ORDER BY s.id DESC LIMIT 10""",
            (video_id,),
        )
        return cur.fetchall()


@bp.get("/channels/<int:channel_id>/videos/<int:video_id>")
@login_required
def show(channel_id: int, video_id: int):
    channel = require_channel(channel_id)
    video = load_video(channel_id, video_id)
    tags = list(video["tags"])
    suggestions = _suggestions(video_id)
    # The newest suggestion still to decide (or being applied) is reviewed right here.
    open_one = next((s for s in suggestions if s["status"] in (*decisions.OPEN, "applying")), None)
    review = review_context(channel, decisions.get_suggestion(channel_id, open_one["id"])) if open_one else None
    return render_template(
        "videos/show.html",
        channel=channel,
        video=video,
        score=seo.score(video["title"], video["description"], tags),
        counts={
            "title": limits.utf16_length(video["title"]),
            "description": limits.utf8_length(video["description"]),
            "tags": limits.tags_length(tags),
        },
        limits=limits,
        suggestions=suggestions,
        review=review,
        history=versions.list_versions(video_id),
        can_edit=can(channel, "editor") and video["removed_at"] is None,
        idempotency_key=uuid.uuid4().hex,
        estimate=optimize_store.quota_estimate(channel, [video_id], current_app.config["YOUTUBE_DAILY_QUOTA"]),
    )
