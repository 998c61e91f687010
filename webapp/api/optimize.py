"""Asking for optimizations: one video, or a batch of a channel's videos.

The run is created by the same store call as the page's Optimize button
(webapp/optimize/routes.py: the monthly limits, the transcripts' quota
reservation, the audit line) and queued the same way. A batch may carry an
``Idempotency-Key`` header: the same key with the same body returns the run
it made the first time; the same key with another body is refused (422),
since answering with a run for other videos would mislead the client.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Blueprint, current_app, request
from flask_login import current_user

from jobs.queueing import queue_run
from reliability.db import transaction
from webapp.api import lookup_store
from webapp.api.access import channel_of
from webapp.api.limits import batch
from webapp.api.models import BatchRequest, OptimizeRequest, Run, RunStarted
from webapp.api.runs import run_model
from webapp.api.spec import invalid, operation
from webapp.channels.access import require_channel
from webapp.errors import page_not_found
from webapp.optimize import store
from webapp.redis_client import get_redis

bp = Blueprint("optimize", __name__)

_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
IDEMPOTENCY_HEADER = {
    "Idempotency-Key": {
        "required": False,
        "description": "8-64 letters, digits, '-' or '_'. Retrying with the same key and body returns the same run.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
        "example": "batch-2026-12-01-a",
    }
}


def _idempotency_key() -> str:
    """The run's stored key: the client's, scoped to the caller (two accounts
    may pick the same words), or a fresh one when none was sent."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return f"api-{uuid.uuid4().hex}"
    if not _KEY.fullmatch(key):
        raise invalid("header.Idempotency-Key", "The Idempotency-Key must be 8-64 letters, digits, '-' or '_'.")
    return f"api-{current_user.id}-{key}"


def _start(channel: dict[str, Any], video_ids: list[int], without_transcripts: bool) -> RunStarted:
    key = _idempotency_key()
    with transaction() as cur:
        earlier = lookup_store.run_request(cur, key)
    if earlier is not None and (
        earlier["channel_id"] != channel["id"]
        or list(earlier["video_ids"]) != video_ids
        or earlier["without_transcripts"] != without_transcripts
    ):
        raise invalid(
            "header.Idempotency-Key",
            "This Idempotency-Key was already used for another request; use a new key for new work.",
        )
    if earlier is None:
        with transaction() as cur:
            store.check_user_limits(cur, current_user.id, len(video_ids), current_app.config)
    with transaction() as cur:  # the run, its videos, its reservation and audit line, or none of them
        run, created = store.create_run(
            cur,
            channel["id"],
            current_user.id,
            key,
            video_ids,
            without_transcripts=without_transcripts,
            daily_budget=current_app.config["YOUTUBE_DAILY_QUOTA"],
        )
    # Redis down: 503 saying the run is kept and starts by itself (the sweep,
    # or the same request again, queues it).
    queue_run(get_redis(), run["id"], created=created)
    with transaction() as cur:
        shown = store.get_run(cur, channel["id"], run["id"])
    model: Run = run_model(shown or run)  # shown: the run with its counts and cost
    return RunStarted(run=model, status_url=model.url)


@operation(
    bp,
    "POST",
    "/videos/<int:video_id>/optimize",
    summary="Optimize one video",
    response=RunStarted,
    status=202,
    body=OptimizeRequest,
    headers=IDEMPOTENCY_HEADER,
    body_example={"without_transcripts": False},
)
def optimize_video(video_id: int, body: OptimizeRequest) -> RunStarted:
    """Queue an optimization of one video (editors and owners); poll the run's
    `status_url`. 429 monthly_limit_reached or youtube_quota_budget with the numbers."""
    channel = channel_of("video", video_id, "editor")
    return _start(channel, [video_id], body.without_transcripts)


@operation(
    bp,
    "POST",
    "/videos/batch-optimize",
    summary="Optimize a batch of one channel's videos",
    response=RunStarted,
    status=202,
    body=BatchRequest,
    headers=IDEMPOTENCY_HEADER,
    body_example={"video_ids": [42, 43, 44, 45, 46], "without_transcripts": False},
)
@batch  # API_BATCH_RATE_LIMIT on top of the API's own limit (webapp/api/limits.py)
def batch_optimize(body: BatchRequest) -> RunStarted:
    """Queue one run for up to BATCH_MAX_VIDEOS videos of one channel (editors
    and owners). Send an `Idempotency-Key` to retry safely: the same key and
    body return the same run; the same key with another body is 422."""
    limit = current_app.config["BATCH_MAX_VIDEOS"]
    if len(body.video_ids) > limit:
        raise invalid("body.video_ids", f"A batch holds at most {limit} videos; this one has {len(body.video_ids)}.")
    if len(set(body.video_ids)) != len(body.video_ids):
        raise invalid("body.video_ids", "A video is listed twice.")
    with transaction() as cur:
        channels = lookup_store.channels_of_videos(cur, body.video_ids)
    if not channels:
        raise page_not_found()
    # Every channel named is checked first: a 422 naming "two channels" must
    # not tell a stranger that someone else's video ids exist.
    checked = [require_channel(channel_id, "editor") for channel_id in sorted(channels)]
    if len(checked) > 1:
        raise invalid("body.video_ids", "The videos of a batch must all belong to one channel.")
    channel = checked[0]
    return _start(channel, body.video_ids, body.without_transcripts)
