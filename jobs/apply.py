"""RQ job: apply one accepted suggestion (see optimizer.youtube.apply).

Its YouTube calls are spent against the reservation the web took when the
creator pressed Apply; when the job ends, whatever it did not spend is
released (a job that raises keeps it: RQ retries, and the reservation
expires if the job is never seen again)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jobs.runtime import current_settings
from optimizer.youtube import quota
from optimizer.youtube.apply import apply_suggestion
from optimizer.youtube.client import Call, YouTubeClient
from optimizer.youtube.factory import youtube_client_factory
from optimizer.youtube.oauth import GoogleOAuthConfig
from reliability import metrics
from reliability.db import transaction


def apply(suggestion_id: int) -> str:
    settings = current_settings()
    status = apply_suggestion(
        suggestion_id,
        client_for=_client_for(settings, suggestion_id),
        cooling_days=settings["OPTIMIZATION_COOLING_PERIOD_DAYS"],
    )
    with transaction() as cur:
        quota.release(cur, suggestion_ids=[suggestion_id])
    if status in ("applied", "failed"):
        metrics.optimization_event("applied" if status == "applied" else "apply_failed")
    return status


def _client_for(settings: Mapping[str, Any], suggestion_id: int) -> Callable[[int], YouTubeClient] | None:
    if GoogleOAuthConfig.from_config(settings) is None or not settings["TOKEN_ENCRYPTION_KEY"]:
        return None
    make = youtube_client_factory(settings)
    with transaction() as cur:
        reservation_id = quota.open_reservation(cur, suggestion_id=suggestion_id)

    def record(call: Call, channel_id: int) -> None:
        with transaction() as cur:
            quota.record(cur, call.method, channel_id=channel_id, units=call.units, reservation_id=reservation_id)

    return lambda channel_id: make(channel_id, lambda call: record(call, channel_id))
