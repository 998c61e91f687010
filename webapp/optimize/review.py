"""Reviewing one suggestion: the diff against what the video has now, a
choice among the ranked titles or one's own, inline editing with live
validation, then accept, apply or reject; and resolving a conflict.

Every action is a plain form POST answered with a redirect (303), so the
page works without JavaScript; htmx only adds the live preview and the
self-refreshing state while a change is being applied.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from optimizer import experiments, limits, screening, suggestions
from optimizer.diff import diff_version
from reliability.db import transaction
from reliability.errors import AppError, Conflict
from webapp.channels.access import can, require_channel
from webapp.htmx import is_htmx, refused
from webapp.optimize import decisions, store
from webapp.redis_client import get_redis

bp = Blueprint("review", __name__)

_OUR_PAGE = re.compile(r"/channels/[0-9]+(/[A-Za-z0-9_-]+)*")  # where `next` may send the creator back to


def review_context(
    channel: dict[str, Any], suggestion: dict[str, Any], draft: suggestions.Draft | None = None
) -> dict[str, Any]:
    """What the review panel needs; shared by this page and the video page."""
    draft = draft or suggestions.saved_draft(suggestion)
    current = {
        "title": suggestion["current_title"],
        "description": suggestion["current_description"],
        "tags": suggestion["current_tags"],
    }
    proposed = {"title": draft.title, "description": draft.description, "tags": draft.tags}
    clashes: list[dict[str, Any]] = []
    being_measured = False  # applying it would end the measurement of the video's earlier change
    if suggestion["status"] in suggestions.IN_PLAY:
        with transaction() as cur:
            clashes = store.title_clashes(cur, channel["id"], {suggestion["video_id"]: draft.title}).get(
                suggestion["video_id"], []
            )
            being_measured = bool(experiments.videos_being_measured(cur, [suggestion["video_id"]]))
    return {
        "channel": channel,
        "s": suggestion,
        "draft": draft,
        "diff": diff_version(current, proposed),
        "problems": draft.problems(),
        "counts": _counts(draft),
        "limits": limits,
        "can_edit": can(channel, "editor") and suggestion["removed_at"] is None,
        "clashes": clashes,
        "being_measured": being_measured and suggestion["status"] in suggestions.OPEN,
        "removal_reasons": screening.REASONS,
        "removal_fields": screening.FIELDS,
    }


def _counts(draft: suggestions.Draft) -> dict[str, int]:
    return {
        "title": limits.utf16_length(draft.title),
        "description": limits.utf8_length(draft.description),
        "tags": limits.tags_length(draft.tags),
    }


@bp.get("/channels/<int:channel_id>/suggestions/<int:suggestion_id>")
@login_required
def show(channel_id: int, suggestion_id: int) -> ResponseReturnValue:
    channel = require_channel(channel_id)
    suggestion = decisions.get_suggestion(channel_id, suggestion_id)
    context = review_context(channel, suggestion)
    if is_htmx() and request.headers.get("HX-Target") == f"suggestion-{suggestion_id}":
        if suggestion["status"] != suggestions.APPLYING:
            # The change has landed (or failed): reload so the current
            # metadata, the history and the state all show the outcome.
            return "", 204, {"HX-Refresh": "true"}
        return render_template("optimize/_review_panel.html", **context)
    return render_template("optimize/review.html", **context)


@bp.post("/channels/<int:channel_id>/suggestions/<int:suggestion_id>/preview")
@login_required
def preview(channel_id: int, suggestion_id: int) -> ResponseReturnValue:
    """Live validation while the creator types: counters, problems and the
    diff against the current version. Nothing is stored."""
    channel = require_channel(channel_id, "editor")
    suggestion = decisions.get_suggestion(channel_id, suggestion_id)
    try:
        draft = decisions.draft_from_form(request.form, suggestion)
    except AppError as exc:
        return render_template("optimize/_preview.html", error=exc.message, **review_context(channel, suggestion))
    return render_template("optimize/_preview.html", error=None, **review_context(channel, suggestion, draft))


@bp.post("/channels/<int:channel_id>/suggestions/<int:suggestion_id>/decide")
@login_required
def decide(channel_id: int, suggestion_id: int) -> ResponseReturnValue:
    """Save the edited draft, accept it, or accept and apply it at once."""
    channel = require_channel(channel_id, "editor")
    suggestion = decisions.get_suggestion(channel_id, suggestion_id)
    action = request.form.get("action", "apply")
    try:
        if action not in ("save", "accept", "apply"):
            raise Conflict("Unknown action.")
        draft = decisions.draft_from_form(request.form, suggestion)
        if action == "apply":
            decisions.apply_draft(
                channel, suggestion, draft, current_user, get_redis(), current_app.config["YOUTUBE_DAILY_QUOTA"]
            )
        else:
            decisions.save(suggestion, draft, current_user, accept=action == "accept")
    except AppError as exc:
        return refused(exc, _back(channel_id, suggestion))
    flash(
        {
            "save": "Your edits are saved.",
            "accept": "Accepted. Press Apply when you are ready to send it to YouTube.",
            "apply": "Applying the change. The previous version is kept and can be restored.",
        }[action],
        "success" if action != "apply" else "info",
    )
    return _back(channel_id, suggestion)


@bp.post("/channels/<int:channel_id>/suggestions/<int:suggestion_id>/accept")
@login_required
def accept_one(channel_id: int, suggestion_id: int) -> ResponseReturnValue:
    """Accept from the batch table, as saved; back to the run page."""
    require_channel(channel_id, "editor")
    suggestion = decisions.get_suggestion(channel_id, suggestion_id)
    decisions.accept_pending(suggestion["run_id"], current_user, [suggestion_id])
    return redirect(url_for("optimize.show_run", channel_id=channel_id, run_id=suggestion["run_id"]), 303)


@bp.post("/channels/<int:channel_id>/suggestions/<int:suggestion_id>/apply")
@login_required
def apply(channel_id: int, suggestion_id: int) -> ResponseReturnValue:
    """Apply from the batch table: the row's title choice, the rest as saved."""
    return decide(channel_id, suggestion_id)


@bp.post("/channels/<int:channel_id>/suggestions/<int:suggestion_id>/reject")
@login_required
def reject(channel_id: int, suggestion_id: int) -> ResponseReturnValue:
    require_channel(channel_id, "editor")
    suggestion = decisions.get_suggestion(channel_id, suggestion_id)
    if decisions.reject(suggestion["run_id"], current_user, [suggestion_id]):
        flash("Rejected. Nothing was changed on YouTube.", "info")
    return _back(channel_id, suggestion)


@bp.post("/channels/<int:channel_id>/suggestions/<int:suggestion_id>/resolve")
@login_required
def resolve(channel_id: int, suggestion_id: int) -> ResponseReturnValue:
    """A conflict: keep the creator's draft over YouTube's version (apply it
    now), or keep YouTube's version (reject the suggestion)."""
    channel = require_channel(channel_id, "editor")
    suggestion = decisions.get_suggestion(channel_id, suggestion_id)
    try:
        if request.form.get("keep") == "mine":
            decisions.keep_mine_over_youtube(
                channel, suggestion, current_user, get_redis(), current_app.config["YOUTUBE_DAILY_QUOTA"]
            )
            flash("Applying your version over YouTube's. YouTube's version is kept in History.", "info")
        elif request.form.get("keep") == "youtube":
            decisions.reject(suggestion["run_id"], current_user, [suggestion_id])
            flash("Kept YouTube's version; the suggestion is rejected.", "info")
        else:
            raise Conflict("Choose which version to keep.")
    except AppError as exc:
        return refused(exc, _back(channel_id, suggestion))
    return _back(channel_id, suggestion)


def _back(channel_id: int, suggestion: dict[str, Any]) -> Response:
    """Back where the creator came from: the run table, the video page or
    this suggestion (only our own paths are followed)."""
    target = request.form.get("next", "")
    if not _OUR_PAGE.fullmatch(target):
        target = url_for("optimize.review.show", channel_id=channel_id, suggestion_id=suggestion["id"])
    return redirect(target, 303)
