"""Asking for optimizations (one video or a batch) and following a run."""

from __future__ import annotations

import hashlib
import re

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from jobs.queueing import queue_run
from optimizer import experiments, suggestions
from optimizer.youtube.quota import APPLY_UNITS
from reliability.db import transaction
from reliability.errors import AppError, NotFound, ValidationError
from webapp.channels.access import can, require_channel
from webapp.htmx import is_htmx, refused
from webapp.inputs import form_ids
from webapp.optimize import store
from webapp.redis_client import get_redis

bp = Blueprint("optimize", __name__)

_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _video_ids() -> list[int]:
    ids = form_ids("video_ids", "The list of videos was malformed. Reload the page and try again.")
    limit = current_app.config["BATCH_MAX_VIDEOS"]
    if not ids:
        raise ValidationError("Select at least one video to optimize.", code="no_videos")
    if len(ids) > limit:
        raise ValidationError(
            f"A batch can hold at most {limit} videos; you selected {len(ids)}. Select fewer and try again.",
            code="batch_too_large",
        )
    return ids


def _idempotency_key(video_ids: list[int]) -> str:
    """The page's one-time key plus the videos asked for: a double click on
    the same action makes one run, while another action from the same page
    (a different video, a different selection) makes its own."""
    key = request.form.get("idempotency_key", "")
    if not _KEY.match(key):
        raise ValidationError("This form is missing its one-time key. Reload the page and try again.")
    selection = hashlib.sha256(",".join(map(str, sorted(video_ids))).encode()).hexdigest()[:16]
    return f"{key}-{selection}"


@bp.post("/channels/<int:channel_id>/optimize")
@login_required
def start(channel_id: int) -> ResponseReturnValue:
    return _start(channel_id, None)


@bp.post("/channels/<int:channel_id>/videos/<int:video_id>/optimize")
@login_required
def start_one(channel_id: int, video_id: int) -> ResponseReturnValue:
    return _start(channel_id, video_id)


def _start(channel_id: int, video_id: int | None) -> ResponseReturnValue:
    channel = require_channel(channel_id, "editor")
    try:
        video_ids = [video_id] if video_id is not None else _video_ids()
        key = _idempotency_key(video_ids)
        with transaction() as cur:
            store.check_user_limits(cur, current_user.id, len(video_ids), current_app.config)
        with transaction() as cur:  # the run, its videos, its reservation and audit line, or none of them
            run, created = store.create_run(
                cur,
                channel_id,
                current_user.id,
                key,
                video_ids,
                without_transcripts=request.form.get("without_transcripts") == "1",
                daily_budget=current_app.config["YOUTUBE_DAILY_QUOTA"],
            )
    except AppError as exc:
        return refused(exc, redirect(url_for("channels.show", channel_id=channel_id), 303))
    # Redis down: 503 saying the run is kept and starts by itself (the sweep
    # or the same press again queues it); never a 500 and a run stuck 'queued'.
    queue_run(get_redis(), run["id"], created=created)
    target = url_for("optimize.show_run", channel_id=channel["id"], run_id=run["id"])
    if is_htmx():
        return "", 204, {"HX-Redirect": target}
    return redirect(target, 303)


@bp.get("/channels/<int:channel_id>/runs/<int:run_id>")
@login_required
def show_run(channel_id: int, run_id: int) -> ResponseReturnValue:
    channel = require_channel(channel_id)
    with transaction() as cur:
        run = store.get_run(cur, channel_id, run_id)
        if run is None:
            raise NotFound("No such optimization.")  # the shared error handler: a page, or JSON for htmx
        items = store.run_items(cur, run_id)
        suggested = {
            item["video_id"]: item["approved_title"] or item["titles"][item["chosen_title"]]["title"]
            for item in items
            if item["suggestion_id"] and item["suggestion_status"] in suggestions.OPEN
        }
        clashes = store.title_clashes(cur, channel_id, suggested)
        measured = experiments.videos_being_measured(cur, list(suggested))
    context = {
        "channel": channel,
        "run": run,
        "items": items,
        "shared_notes": store.split_notes(items),
        "clashes": clashes,
        "measured": measured,  # videos whose earlier change an apply here would stop measuring
        "can_edit": can(channel, "editor"),
        "apply_units": APPLY_UNITS,
    }
    if is_htmx() and request.headers.get("HX-Target") == "run-progress":
        return render_template("optimize/_run_progress.html", **context)
    return render_template("optimize/run.html", **context)


@bp.get("/usage")
@login_required
def usage() -> ResponseReturnValue:
    with transaction() as cur:
        mine = store.monthly_usage(cur, current_user.id)
        limits = store.user_limits(cur, current_user.id, current_app.config)
        everyone = store.usage_by_user(cur) if current_user.is_admin else None
    return render_template("optimize/usage.html", mine=mine, limits=limits, everyone=everyone)
