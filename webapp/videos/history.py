"""A video's history: compare two versions, restore one.

Compare is a GET form (a link one can share or bookmark); without versions
chosen it compares the two newest. Restore is an editor's action that goes
through the apply job like any accepted suggestion (see versions.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from optimizer.diff import diff_version
from reliability.errors import AppError
from webapp.channels.access import require_channel
from webapp.errors import page_not_found
from webapp.htmx import is_htmx, refused
from webapp.inputs import arg_id
from webapp.optimize.decisions import enqueue_applies
from webapp.redis_client import get_redis
from webapp.videos import versions
from webapp.videos.routes import load_video

bp = Blueprint("history", __name__)


def _chosen(video_id: int, name: str, default: int) -> dict[str, Any]:
    # A malformed id is a 400; another video's version is a 404 (get_version).
    return versions.get_version(video_id, arg_id(name, default))


@bp.get("/channels/<int:channel_id>/videos/<int:video_id>/compare")
@login_required
def compare(channel_id: int, video_id: int) -> str:
    channel = require_channel(channel_id)
    video = load_video(channel_id, video_id)
    history = versions.list_versions(video_id)
    if not history:
        raise page_not_found()
    newest, older = history[0]["id"], history[min(1, len(history) - 1)]["id"]
    old, new = _chosen(video_id, "a", older), _chosen(video_id, "b", newest)
    context = {
        "channel": channel,
        "video": video,
        "history": history,
        "old": old,
        "new": new,
        "diff": diff_version(old, new),
    }
    if is_htmx():
        return render_template("videos/_compare.html", **context)
    return render_template("videos/compare.html", **context)


@bp.post("/channels/<int:channel_id>/videos/<int:video_id>/versions/<int:version_id>/restore")
@login_required
def restore(channel_id: int, video_id: int, version_id: int) -> ResponseReturnValue:
    channel = require_channel(channel_id, "editor")
    video = load_video(channel_id, video_id)
    version = versions.get_version(video_id, version_id)
    back = url_for("videos.show", channel_id=channel_id, video_id=video_id, _anchor="history")
    try:
        versions.check_restorable(video, version)
        suggestion_id = versions.create_restore(channel, video, version, current_user)
    except AppError as exc:
        return refused(exc, redirect(back, 303))
    enqueue_applies([suggestion_id], get_redis())
    flash(f"Restoring version {version['number']}. What the video has now is kept and can be restored too.", "info")
    return redirect(back, 303)
