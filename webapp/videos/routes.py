"""The video page."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, current_app, render_template
from flask_login import login_required

from optimizer import limits, seo
from optimizer import suggestions as suggestion_states
from reliability.db import transaction
from webapp.channels.access import can, require_channel
from webapp.errors import page_not_found
from webapp.optimize import decisions
from webapp.optimize import store as optimize_store
from webapp.optimize.review import review_context
from webapp.videos import store, versions
from webapp.videos.experiment import experiment_section

bp = Blueprint("videos", __name__)


def load_video(channel_id: int, video_id: int) -> dict[str, Any]:
    """The video, if it belongs to the channel (else 404: ids are not hints)."""
    with transaction() as cur:
        video = store.video_with_transcript(cur, channel_id, video_id)
    if video is None:
        raise page_not_found()
    return video


@bp.get("/channels/<int:channel_id>/videos/<int:video_id>")
@login_required
def show(channel_id: int, video_id: int) -> str:
    channel = require_channel(channel_id)
    video = load_video(channel_id, video_id)
    tags = list(video["tags"])
    with transaction() as cur:
        suggestions = store.recent_suggestions(cur, video_id)
        estimate = optimize_store.quota_estimate(cur, channel, [video_id], current_app.config["YOUTUBE_DAILY_QUOTA"])
        experiment = experiment_section(cur, video)
    # The newest suggestion still to decide (or being applied) is reviewed right here.
    open_one = next((s for s in suggestions if s["status"] in suggestion_states.IN_PLAY), None)
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
        estimate=estimate,
        experiment=experiment,
    )
