"""Runs: one optimization run with each video's progress, and deciding for
the whole batch (accept every pending suggestion, apply every accepted one),
as the run page does (webapp/optimize/routes.py, webapp/optimize/batch.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from flask_login import current_user

from optimizer import suggestions
from reliability.db import transaction
from reliability.errors import Conflict
from webapp.api.access import API, channel_of
from webapp.api.models import Applying, Count, Run, RunDetail
from webapp.api.spec import operation
from webapp.errors import page_not_found
from webapp.optimize import decisions, store
from webapp.redis_client import get_redis

bp = Blueprint("runs", __name__)

_RUN_FIELDS = (
    "id",
    "channel_id",
    "status",
    "video_count",
    "done",
    "failed",
    "without_transcripts",
    "cost_usd",
    "error",
    "created_at",
    "finished_at",
)


def run_model(row: dict[str, Any]) -> Run:
    return Run.model_validate({**{name: row[name] for name in _RUN_FIELDS}, "url": f"{API}/runs/{row['id']}"})


def _item(item: dict[str, Any]) -> dict[str, Any]:
    suggestion_id = item["suggestion_id"]
    return {
        "video_id": item["video_id"],
        "title": item["current_title"],
        **{name: item[name] for name in ("status", "stage", "stage_label", "error", "suggestion_status", "cost_usd")},
        "suggestion_id": suggestion_id,
        "suggested_title": (item["approved_title"] or item["titles"][item["chosen_title"]]["title"])
        if suggestion_id
        else None,
        "suggestion_url": f"{API}/suggestions/{suggestion_id}" if suggestion_id else None,
    }


def _load(run_id: int, min_role: str = "viewer") -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    channel = channel_of("run", run_id, min_role)
    with transaction() as cur:
        run = store.get_run(cur, channel["id"], run_id)
        if run is None:
            raise page_not_found()
        items = store.run_items(cur, run_id)
    return channel, run, items


@operation(bp, "GET", "/runs/<int:run_id>", summary="A run with each video's progress", response=RunDetail)
def get_run(run_id: int) -> RunDetail:
    """The run's state and, per video, its stage, outcome and suggestion.
    Poll it until `status` is succeeded, partial or failed."""
    _, run, items = _load(run_id)
    return RunDetail.model_validate({**run_model(run).model_dump(), "videos": [_item(item) for item in items]})


@operation(bp, "POST", "/runs/<int:run_id>/accept-all", summary="Accept every pending suggestion", response=Count)
def accept_all(run_id: int) -> Count:
    """Accept the run's pending suggestions as they stand (editors); returns how many."""
    _load(run_id, "editor")
    return Count(count=decisions.accept_pending(run_id, current_user))


@operation(bp, "POST", "/runs/<int:run_id>/reject-all", summary="Reject every undecided suggestion", response=Count)
def reject_all(run_id: int) -> Count:
    """Reject the run's pending and accepted suggestions (editors); returns how many."""
    _load(run_id, "editor")
    return Count(count=decisions.reject(run_id, current_user))


@operation(
    bp,
    "POST",
    "/runs/<int:run_id>/apply-accepted",
    summary="Apply every accepted suggestion",
    response=Applying,
    status=202,
)
def apply_accepted(run_id: int) -> Applying:
    """Send the run's accepted suggestions to YouTube together (editors), the
    quota checked for all of them first. 409 when none is accepted."""
    channel, _, items = _load(run_id, "editor")
    ids = [item["suggestion_id"] for item in items if item["suggestion_status"] == suggestions.ACCEPTED]
    if not ids:
        raise Conflict("No accepted suggestions to apply. Accept some first.")
    sent = decisions.send_to_apply(channel, ids, current_user, get_redis(), current_app.config["YOUTUBE_DAILY_QUOTA"])
    if not sent:
        raise Conflict("None of the accepted suggestions can be applied (their videos were removed from YouTube).")
    return Applying(suggestion_ids=sent)
