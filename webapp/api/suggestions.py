"""Suggestions: read one, edit its draft, accept, reject or apply it. Each
action is the review page's use case (webapp/optimize/decisions.py) under
the same access rule: viewers read, editors and owners decide."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from flask_login import current_user

from optimizer.suggestions import saved_draft
from reliability.errors import Conflict
from webapp.api.access import API, channel_of
from webapp.api.spec import invalid, operation
from webapp.api.suggestion_models import Suggestion, SuggestionEdit
from webapp.optimize import decisions
from webapp.redis_client import get_redis

bp = Blueprint("suggestions", __name__)

EDIT_EXAMPLE = {"title_index": 1, "tags": ["bread", "baking", "homemade bread"], "accept": True}


def suggested_title(row: dict[str, Any]) -> str:
    """The title Apply would write: the creator's, else the chosen ranked one."""
    return row["approved_title"] or row["titles"][row["chosen_title"]]["title"]


def summary_model(row: dict[str, Any], video_id: int) -> dict[str, Any]:
    return {
        **{name: row[name] for name in ("id", "run_id", "status", "engine", "created_at")},
        "video_id": video_id,
        "title": suggested_title(row),
        "url": f"{API}/suggestions/{row['id']}",
    }


def _load(suggestion_id: int, min_role: str = "viewer") -> tuple[dict[str, Any], dict[str, Any]]:
    channel = channel_of("suggestion", suggestion_id, min_role)
    return channel, decisions.get_suggestion(channel["id"], suggestion_id)


def _model(suggestion: dict[str, Any]) -> Suggestion:
    draft = saved_draft(suggestion)
    return Suggestion.model_validate(
        {
            **summary_model(suggestion, suggestion["video_id"]),
            **{name: suggestion[name] for name in ("model", "titles", "primary_keyword", "apply_error", "cost_usd")},
            "notes": list(suggestion["notes"] or []),
            "draft": {"title": draft.title, "description": draft.description, "tags": list(draft.tags)},
            "title_index": draft.title_index,
            "current": {
                "title": suggestion["current_title"],
                "description": suggestion["current_description"],
                "tags": list(suggestion["current_tags"]),
            },
            "problems": [{"field": p.field, "code": p.code, "message": p.message} for p in draft.problems()],
        }
    )


def _fresh(channel: dict[str, Any], suggestion_id: int) -> Suggestion:
    return _model(decisions.get_suggestion(channel["id"], suggestion_id))


@operation(bp, "GET", "/suggestions/<int:suggestion_id>", summary="One suggestion and its draft", response=Suggestion)
def get_suggestion(suggestion_id: int) -> Suggestion:
    """The suggestion: its ranked titles, the draft Apply would write (your
    edits, else the suggestion), what the video has now, and any reason
    YouTube would refuse the draft."""
    _, suggestion = _load(suggestion_id)
    return _model(suggestion)


@operation(
    bp,
    "PATCH",
    "/suggestions/<int:suggestion_id>",
    summary="Edit the draft (and accept it)",
    response=Suggestion,
    body=SuggestionEdit,
    body_example=EDIT_EXAMPLE,
)
def edit_suggestion(suggestion_id: int, body: SuggestionEdit) -> Suggestion:
    """Change the draft of an open suggestion: pick a ranked title
    (`title_index`) or write one (`title`), replace the description or tags;
    fields left out keep the saved draft. With `accept` it is accepted too.
    422 youtube_limits when YouTube would refuse the result; 409 when it was
    decided meanwhile."""
    channel, suggestion = _load(suggestion_id, "editor")
    if body.title_index is not None and body.title_index >= len(suggestion["titles"]):
        raise invalid("body.title_index", f"There are {len(suggestion['titles'])} ranked titles, counted from 0.")
    form: dict[str, str] = {}
    if body.title is not None:
        form.update(title_index="custom", title=body.title)
    elif body.title_index is not None:
        form["title_index"] = str(body.title_index)
    if body.description is not None:
        form["description"] = body.description
    if body.tags is not None:
        form["tags"] = "\n".join(body.tags)
    draft = decisions.draft_from_form(form, suggestion)
    decisions.save(suggestion, draft, current_user, accept=body.accept)
    return _fresh(channel, suggestion_id)


@operation(bp, "POST", "/suggestions/<int:suggestion_id>/accept", summary="Accept as it stands", response=Suggestion)
def accept_suggestion(suggestion_id: int) -> Suggestion:
    """Accept a pending suggestion with its saved draft; Apply sends it later. 409 if it is not pending."""
    channel, suggestion = _load(suggestion_id, "editor")
    if not decisions.accept_pending(suggestion["run_id"], current_user, [suggestion_id]):
        raise Conflict("Only a pending suggestion can be accepted; this one is " + suggestion["status"] + ".")
    return _fresh(channel, suggestion_id)


@operation(bp, "POST", "/suggestions/<int:suggestion_id>/reject", summary="Reject it", response=Suggestion)
def reject_suggestion(suggestion_id: int) -> Suggestion:
    """Reject a suggestion still open; nothing is changed on YouTube. 409 if it was already decided."""
    channel, suggestion = _load(suggestion_id, "editor")
    if not decisions.reject(suggestion["run_id"], current_user, [suggestion_id]):
        raise Conflict("This suggestion was already decided (" + suggestion["status"] + ").")
    return _fresh(channel, suggestion_id)


@operation(
    bp, "POST", "/suggestions/<int:suggestion_id>/apply", summary="Apply it to YouTube", response=Suggestion, status=202
)
def apply_suggestion(suggestion_id: int) -> Suggestion:
    """Send the saved draft to YouTube (accepting it first if pending): the
    apply job reads the live metadata, keeps it as a version, writes only the
    approved fields and opens an experiment. Poll the suggestion until its
    status leaves 'applying'. 409 when it was decided meanwhile or the video
    was removed; 429 youtube_quota_budget when today's quota cannot cover it."""
    channel, suggestion = _load(suggestion_id, "editor")
    decisions.apply_draft(
        channel,
        suggestion,
        saved_draft(suggestion),
        current_user,
        get_redis(),
        current_app.config["YOUTUBE_DAILY_QUOTA"],
    )
    return _fresh(channel, suggestion_id)
