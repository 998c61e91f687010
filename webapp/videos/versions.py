"""Reading a video's metadata history and turning a restore into an apply:
the web side of optimizer/video_history.py (one transaction per use case)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from optimizer import video_history
from optimizer.suggestions import Actor
from reliability.db import transaction
from reliability.errors import Conflict, NotFound


def list_versions(video_id: int) -> list[dict[str, Any]]:
    """Every version, newest first (see video_history.list_versions)."""
    with transaction() as cur:
        return video_history.list_versions(cur, video_id)


def get_version(video_id: int, version_id: int) -> dict[str, Any]:
    """The version, if it belongs to the video (else 404: ids are not hints)."""
    with transaction() as cur:
        version = video_history.find_version(cur, video_id, version_id)
    if version is None:
        raise NotFound()
    return version


def create_restore(channel: dict[str, Any], video: dict[str, Any], version: dict[str, Any], user: Actor) -> int:
    """A 'restore' suggestion for ``version``, ready to queue for the apply job; returns its id."""
    with transaction() as cur:
        return video_history.create_restore(
            cur, channel, video, version, user, current_app.config["YOUTUBE_DAILY_QUOTA"]
        )


def check_restorable(video: dict[str, Any], version: dict[str, Any]) -> None:
    """Refuse a restore that cannot or need not be applied (the page and the API ask the same)."""
    if video["removed_at"] is not None:
        raise Conflict("This video was removed from YouTube, so it cannot be changed.")
    current = (video["title"], video["description"], list(video["tags"]))
    if current == (version["title"], version["description"], list(version["tags"])):
        # Applying it would write nothing and open a meaningless experiment.
        raise Conflict("The video already has this version's title, description and tags.")
