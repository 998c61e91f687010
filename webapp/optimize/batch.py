"""Deciding for a whole batch on its run page: accept all, reject all,
apply every accepted suggestion (quota checked for all of them before
anything is sent), and try the videos that failed again. A single row's
actions are review.py's, like every action on one suggestion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from jobs.enqueue import enqueue_optimization
from optimizer import runs, suggestions
from optimizer.suggestions import Actor
from reliability.db import transaction
from reliability.errors import AppError, Conflict, NotFound, ServiceUnavailable
from webapp.channels.access import require_channel
from webapp.htmx import refused
from webapp.optimize import decisions, store
from webapp.redis_client import get_redis

bp = Blueprint("batch", __name__)


def _run_or_404(channel_id: int, run_id: int) -> dict[str, Any]:
    with transaction() as cur:
        run = store.get_run(cur, channel_id, run_id)
    if run is None:
        raise NotFound("No such optimization.")
    return run


def _to_run(channel_id: int, run_id: int) -> Response:
    return redirect(url_for("optimize.show_run", channel_id=channel_id, run_id=run_id), 303)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@bp.post("/channels/<int:channel_id>/runs/<int:run_id>/accept-all")
@login_required
def accept_all(channel_id: int, run_id: int) -> ResponseReturnValue:
    return _for_all(
        channel_id,
        run_id,
        decisions.accept_pending,
        "Accepted {n}. Press Apply accepted to send them to YouTube.",
        "success",
    )


@bp.post("/channels/<int:channel_id>/runs/<int:run_id>/reject-all")
@login_required
def reject_all(channel_id: int, run_id: int) -> ResponseReturnValue:
    return _for_all(channel_id, run_id, decisions.reject, "Rejected {n}. Nothing was changed on YouTube.", "info")


def _for_all(
    channel_id: int, run_id: int, decide: Callable[[int, Actor], int], message: str, category: str
) -> Response:
    require_channel(channel_id, "editor")
    _run_or_404(channel_id, run_id)
    n = decide(run_id, current_user)
    flash(message.format(n=_plural(n, "suggestion")), category)
    return _to_run(channel_id, run_id)


@bp.post("/channels/<int:channel_id>/runs/<int:run_id>/apply-accepted")
@login_required
def apply_accepted(channel_id: int, run_id: int) -> ResponseReturnValue:
    channel = require_channel(channel_id, "editor")
    _run_or_404(channel_id, run_id)
    with transaction() as cur:
        items = store.run_items(cur, run_id)
    ids = [item["suggestion_id"] for item in items if item["suggestion_status"] == suggestions.ACCEPTED]
    try:
        if not ids:
            raise Conflict("No accepted suggestions to apply. Accept some first.")
        sent = decisions.send_to_apply(
            channel, ids, current_user, get_redis(), current_app.config["YOUTUBE_DAILY_QUOTA"]
        )
        if not sent:
            raise Conflict("None of the accepted suggestions can be applied (their videos were removed from YouTube).")
    except AppError as exc:
        return refused(exc, _to_run(channel_id, run_id))
    flash(
        f"Applying {_plural(len(sent), 'change')}. Each video's previous version is kept and can be restored.", "info"
    )
    return _to_run(channel_id, run_id)


@bp.post("/channels/<int:channel_id>/runs/<int:run_id>/retry")
@login_required
def retry_run(channel_id: int, run_id: int) -> ResponseReturnValue:
    """The videos that failed go back to the queue; finished ones are kept."""
    require_channel(channel_id, "editor")
    run = _run_or_404(channel_id, run_id)
    try:
        with transaction() as cur:
            store.check_user_limits(cur, current_user.id, 0, current_app.config)  # a retry spends tokens too
        with transaction() as cur:
            requeued = runs.requeue_failed(
                cur, run_id, channel_id=channel_id, actor_id=current_user.id, actor_email=current_user.email
            )
        if not requeued:
            raise Conflict("This optimization has nothing to retry.")
        try:
            enqueue_optimization(get_redis(), run_id)
        except Exception as exc:  # Redis down: the run must not wait for a job that was never queued
            with transaction() as cur:
                runs.undo_requeue(cur, run_id, run["status"])
            raise ServiceUnavailable("The job queue is unavailable. Try again shortly.") from exc
    except AppError as exc:
        return refused(exc, _to_run(channel_id, run_id))
    flash("Trying the failed videos again.", "info")
    return _to_run(channel_id, run_id)
