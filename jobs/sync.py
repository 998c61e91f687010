"""RQ job: sync one channel's videos (see optimizer.youtube.sync)."""

from __future__ import annotations

import redis

from jobs.runtime import current_settings
from optimizer.scores import score_missing
from optimizer.youtube.client import Call, YouTubeClient, counts_as_failure
from optimizer.youtube.oauth import GoogleOAuthConfig
from optimizer.youtube.sync import run_sync
from optimizer.youtube.tokens import ChannelTokenSource
from reliability.breaker import CircuitBreaker
from reliability.crypto import TokenCipher
from reliability.db import transaction


def sync_channel(run_id: int) -> str:
    status = run_sync(run_id, youtube_client_factory(current_settings()))
    _score_new_metadata(run_id)
    return status


def _score_new_metadata(run_id: int) -> None:
    """SEO scores for what this sync stored, after the sync (even a
    partial one: what was stored is worth scoring)."""
    with transaction() as cur:
        cur.execute("SELECT channel_id FROM sync_runs WHERE id = %s", (run_id,))
        row = cur.fetchone()
    if row:
        score_missing(row["channel_id"])


def youtube_breaker(client: redis.Redis) -> CircuitBreaker:
    """Shared by every worker: a YouTube outage pauses syncs and applies
    everywhere instead of each job hammering it through its retries."""
    return CircuitBreaker(client, "youtube", window_s=60, min_calls=10, failure_rate=0.5, reset_timeout_s=60,
                          half_open_permits=2, lease_ttl_s=120, counts_as_failure=counts_as_failure)


def youtube_client_factory(settings):
    """Build a client for a channel with its own token source and the
    given quota callback."""
    oauth_config = GoogleOAuthConfig.from_config(settings)
    breaker = youtube_breaker(redis.Redis.from_url(settings["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5))

    def make(channel_id: int, on_call) -> YouTubeClient:
        tokens = ChannelTokenSource(channel_id, TokenCipher(settings["TOKEN_ENCRYPTION_KEY"]), oauth_config)
        return YouTubeClient(settings["YOUTUBE_API_BASE_URL"], tokens, timeout_s=settings["YOUTUBE_TIMEOUT_S"],
                             on_call=on_call, breaker=breaker)

    return make


__all__ = ["sync_channel", "youtube_client_factory", "Call"]
