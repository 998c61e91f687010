"""RQ job: apply one accepted suggestion (see optimizer.youtube.apply).

Its YouTube calls are spent against the reservation the web took when the
creator pressed Apply; when the job ends, whatever it did not spend is
released (a job that raises keeps it: RQ retries, and the reservation
expires if the job is never seen again)."""

from __future__ import annotations

from jobs.runtime import current_settings
from jobs.sync import youtube_client_factory
from optimizer.youtube import quota
from optimizer.youtube.apply import apply_suggestion
from optimizer.youtube.oauth import GoogleOAuthConfig
from reliability.db import transaction


def apply(suggestion_id: int) -> str:
    settings = current_settings()
    status = apply_suggestion(suggestion_id, client_for=_client_for(settings, suggestion_id),
                              cooling_days=settings["OPTIMIZATION_COOLING_PERIOD_DAYS"])
    with transaction() as cur:
        quota.release(cur, suggestion_ids=[suggestion_id])
    return status


def _client_for(settings, suggestion_id: int):
    if GoogleOAuthConfig.from_config(settings) is None or not settings["TOKEN_ENCRYPTION_KEY"]:
        return None
    make = youtube_client_factory(settings)
    with transaction() as cur:
        reservation_id = quota.open_reservation(cur, suggestion_id=suggestion_id)

    def record(call, channel_id: int) -> None:
        with transaction() as cur:
            quota.record(cur, call.method, channel_id=channel_id, units=call.units, reservation_id=reservation_id)

    return lambda channel_id: make(channel_id, lambda call: record(call, channel_id))
