"""The YouTube clients jobs build: one per channel, with that channel's
token source, the given quota callback, and the breaker all workers share
(the Data API's client, and the Analytics and Reporting APIs' pair)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from optimizer.youtube.analytics import AnalyticsClient, ReportingClient
from optimizer.youtube.client import Call, YouTubeClient, counts_as_failure
from optimizer.youtube.oauth import GoogleOAuthConfig
from optimizer.youtube.quota import ANALYTICS_API, REPORTING_API
from optimizer.youtube.tokens import ChannelTokenSource
from reliability.breaker import CircuitBreaker
from reliability.crypto import TokenCipher
from reliability.redis_clients import job_client

ClientFactory = Callable[[int, Callable[[Call], None]], YouTubeClient]


def youtube_breaker(client: redis.Redis) -> CircuitBreaker:
    """Shared by every worker: a YouTube outage pauses syncs and applies
    everywhere instead of each job hammering it through its retries."""
    return CircuitBreaker(
        client,
        "youtube",
        window_s=60,
        min_calls=10,
        failure_rate=0.5,
        reset_timeout_s=60,
        half_open_permits=2,
        lease_ttl_s=120,
        counts_as_failure=counts_as_failure,
    )


def youtube_client_factory(settings: Mapping[str, Any]) -> ClientFactory:
    """Build a client for a channel with its own token source and the
    given quota callback."""
    oauth_config = GoogleOAuthConfig.from_config(settings)
    breaker = youtube_breaker(job_client(settings["REDIS_URL"]))

    def make(channel_id: int, on_call: Callable[[Call], None]) -> YouTubeClient:
        tokens = ChannelTokenSource(channel_id, TokenCipher(settings["TOKEN_ENCRYPTION_KEY"]), oauth_config)
        return YouTubeClient(
            settings["YOUTUBE_API_BASE_URL"],
            tokens,
            timeout_s=settings["YOUTUBE_TIMEOUT_S"],
            on_call=on_call,
            breaker=breaker,
        )

    return make


@dataclass(frozen=True)
class AnalyticsClients:
    """The two analytics APIs for one channel, sharing its token source."""

    analytics: AnalyticsClient
    reporting: ReportingClient


AnalyticsFactory = Callable[[int, Callable[[str, Call], None]], AnalyticsClients]
# Quota and 5xx answers are tried once more, then the ingest records them and
# moves on: tomorrow's run fetches the missing days anyway.
ANALYTICS_RETRIES = 1


def analytics_clients_factory(settings: Mapping[str, Any]) -> AnalyticsFactory:
    """Build a channel's Analytics and Reporting clients; ``on_call`` gets
    each call with the name of the API it went to (quota.ANALYTICS_API or
    quota.REPORTING_API)."""
    oauth_config = GoogleOAuthConfig.from_config(settings)
    breaker = youtube_breaker(job_client(settings["REDIS_URL"]))

    def make(channel_id: int, on_call: Callable[[str, Call], None]) -> AnalyticsClients:
        tokens = ChannelTokenSource(channel_id, TokenCipher(settings["TOKEN_ENCRYPTION_KEY"]), oauth_config)
        common: dict[str, Any] = {
            "timeout_s": settings["YOUTUBE_TIMEOUT_S"],
            "max_retries": ANALYTICS_RETRIES,
            "retry_quota": True,
            "breaker": breaker,
        }
        return AnalyticsClients(
            AnalyticsClient(
                settings["YOUTUBE_ANALYTICS_BASE_URL"],
                tokens,
                on_call=lambda call: on_call(ANALYTICS_API, call),
                **common,
            ),
            ReportingClient(
                settings["YOUTUBE_REPORTING_BASE_URL"],
                tokens,
                on_call=lambda call: on_call(REPORTING_API, call),
                **common,
            ),
        )

    return make
