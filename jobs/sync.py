"""RQ job: sync one channel's videos (see optimizer.youtube.sync)."""

from __future__ import annotations

import logging

import redis

from jobs.enqueue import enqueue_analytics
from jobs.runtime import current_settings
from optimizer.scores import score_missing
from optimizer.youtube import sync_runs
from optimizer.youtube.factory import youtube_client_factory
from optimizer.youtube.sync import run_sync
from reliability.db import transaction
from reliability.redis_clients import rq_client

log = logging.getLogger(__name__)


def sync_channel(run_id: int) -> str:
    status = run_sync(run_id, youtube_client_factory(current_settings()))
    _score_new_metadata(run_id)
    if status == sync_runs.SUCCEEDED:
        _queue_analytics(run_id)
    return status


def _queue_analytics(run_id: int) -> None:
    """The synced videos' daily stats (the first after connecting also
    creates the channel's reporting job). Not worth failing the sync over:
    the daily cron fetches them anyway."""
    with transaction() as cur:
        channel_id = sync_runs.channel_of(cur, run_id)
    if channel_id is None:
        return
    try:
        enqueue_analytics(rq_client(current_settings()["REDIS_URL"]), channel_id)
    except redis.RedisError as exc:
        log.warning("analytics not queued after sync", extra={"channel_id": channel_id, "error": str(exc)})


def _score_new_metadata(run_id: int) -> None:
    """SEO scores for what this sync stored, after the sync (even a
    partial one: what was stored is worth scoring)."""
    with transaction() as cur:
        channel_id = sync_runs.channel_of(cur, run_id)
    if channel_id is not None:
        score_missing(channel_id)
