"""RQ job: apply one accepted suggestion (see optimizer.youtube.apply)."""

from __future__ import annotations

from jobs.runtime import current_settings
from jobs.sync import youtube_client_factory
from optimizer.youtube import quota
from optimizer.youtube.apply import apply_suggestion
from optimizer.youtube.oauth import GoogleOAuthConfig
from reliability.db import transaction


def apply(suggestion_id: int) -> str:
    settings = current_settings()
    return apply_suggestion(suggestion_id, client_for=_client_for(settings, suggestion_id),
                            cooling_days=settings["OPTIMIZATION_COOLING_PERIOD_DAYS"])


def _client_for(settings, suggestion_id: int):
    if GoogleOAuthConfig.from_config(settings) is None or not settings["TOKEN_ENCRYPTION_KEY"]:
        return None
    make = youtube_client_factory(settings)

    def record(call, channel_id: int) -> None:
        with transaction() as cur:
            quota.record(cur, call.method, channel_id=channel_id, units=call.units)

    return lambda channel_id: make(channel_id, lambda call: record(call, channel_id))
