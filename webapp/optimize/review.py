"""Deciding on a suggestion: apply (with a chosen or edited title) or reject."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from jobs.enqueue import enqueue_apply
from optimizer import limits
from optimizer.youtube import quota
from reliability import audit
from reliability.db import transaction
from reliability.errors import AppError, Conflict, ValidationError
from webapp.channels.access import require_channel
from webapp.htmx import is_htmx
from webapp.redis_client import get_redis

bp = Blueprint("review", __name__)

APPLY_UNITS = quota.COSTS["videos.list"] + quota.COSTS["videos.update"]


def _suggestion(channel_id: int, suggestion_id: int) -> dict:
    with transaction() as cur:
        cur.execute(
            """SELECT s.*, v.channel_id FROM suggestions s JOIN videos v ON v.id = s.video_id
               WHERE s.id = %s AND v.channel_id = %s""",
            (suggestion_id, channel_id),
        )
        row = cur.fetchone()
    if row is None:
        abort(404)
    return row


def _approved(suggestion: dict) -> tuple[str, str, list[str], int]:
    """The creator's choices from the form, checked against YouTube's limits."""
    try:
        index = int(request.form.get("title_index", suggestion["chosen_title"]))
    except ValueError:
        index = -1
    if not 0 <= index < len(suggestion["titles"]):
        raise ValidationError("Choose one of the suggested titles.")
    title = (request.form.get("title") or suggestion["titles"][index]["title"]).strip()
    description = request.form.get("description", suggestion["description"])
    tags = suggestion["tags"] if "tags" not in request.form else [t.strip() for t in request.form["tags"].split(",") if t.strip()]
    problems = limits.validate(title, description, tags)
    if problems:
        raise ValidationError(" ".join(p.message for p in problems), code="youtube_limits")
    return title, description, tags, index


@bp.post("/channels/<int:channel_id>/suggestions/<int:suggestion_id>/apply")
@login_required
def apply(channel_id: int, suggestion_id: int):
    channel = require_channel(channel_id, "editor")
    suggestion = _suggestion(channel_id, suggestion_id)
    try:
        if suggestion["status"] not in ("pending", "accepted", "failed"):
            raise Conflict(f"This suggestion is {suggestion['status']} and cannot be applied again.")
        title, description, tags, index = _approved(suggestion)
        _accept(channel, suggestion, title, description, tags, index)
    except AppError as exc:
        if is_htmx():
            raise
        flash(exc.message, "error")
        return redirect(url_for("optimize.show_run", channel_id=channel_id, run_id=suggestion["run_id"]), 303)
    enqueue_apply(get_redis(), suggestion_id)
    flash("Applying the change. The previous version is kept and can be restored.", "info")
    return redirect(url_for("optimize.show_run", channel_id=channel_id, run_id=suggestion["run_id"]), 303)


def _accept(channel: dict, suggestion: dict, title: str, description: str, tags: list[str], index: int) -> None:
    with transaction() as cur:
        if not channel["is_demo"]:
            quota.check_budget(cur, APPLY_UNITS, current_app.config["YOUTUBE_DAILY_QUOTA"])
        cur.execute(
            """UPDATE suggestions SET status = 'accepted', chosen_title = %s, approved_title = %s,
                      approved_description = %s, approved_tags = %s, decided_by = %s, decided_at = now(),
                      conflict = NULL, apply_error = NULL, updated_at = now()
               WHERE id = %s AND status IN ('pending', 'accepted', 'failed') RETURNING id""",
            (index, title, description, tags, current_user.id, suggestion["id"]),
        )
        if cur.fetchone() is None:
            raise Conflict("This suggestion changed meanwhile. Reload the page.")
        audit.record(cur, "suggestion.accepted", actor_id=current_user.id, actor_email=current_user.email,
                     target_type="suggestion", target_id=suggestion["id"], details={"title_index": index})


@bp.post("/channels/<int:channel_id>/suggestions/<int:suggestion_id>/reject")
@login_required
def reject(channel_id: int, suggestion_id: int):
    require_channel(channel_id, "editor")
    suggestion = _suggestion(channel_id, suggestion_id)
    with transaction() as cur:
        cur.execute(
            """UPDATE suggestions SET status = 'rejected', decided_by = %s, decided_at = now(), updated_at = now()
               WHERE id = %s AND status IN ('pending', 'accepted', 'failed') RETURNING id""",
            (current_user.id, suggestion_id),
        )
        if cur.fetchone():
            audit.record(cur, "suggestion.rejected", actor_id=current_user.id, actor_email=current_user.email,
                         target_type="suggestion", target_id=suggestion_id)
    return redirect(url_for("optimize.show_run", channel_id=channel_id, run_id=suggestion["run_id"]), 303)
