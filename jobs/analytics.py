"""RQ jobs: the daily analytics ingest (see optimizer.youtube.ingest).

The cron enqueues ``ingest_all`` once a day; it queues one job per connected
channel, so a channel's failure never holds up another's. A finished sync
queues its channel's job too."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from jobs.enqueue import enqueue_analytics
from jobs.runtime import current_settings
from optimizer.youtube import analytics_store
from optimizer.youtube.factory import analytics_clients_factory
from optimizer.youtube.ingest import ingest_channel as ingest
from reliability.db import transaction
from reliability.redis_clients import rq_client

log = logging.getLogger(__name__)


def ingest_all() -> list[int]:
    """Cron: one ingest job per connected channel."""
    with transaction() as cur:
        channel_ids = analytics_store.connected_channel_ids(cur)
    connection = rq_client(current_settings()["REDIS_URL"])
    for channel_id in channel_ids:
        enqueue_analytics(connection, channel_id)
    return channel_ids


def ingest_channel(channel_id: int, today: str | None = None) -> dict[str, Any]:
    """One channel's ingest up to yesterday. ``today`` (ISO date) is for
    tests and catching up by hand; the cron leaves it to the real UTC date."""
    day = date.fromisoformat(today) if today else datetime.now(tz=UTC).date()
    settings = current_settings()
    result = ingest(channel_id, analytics_clients_factory(settings), day, settings["DATA_RETENTION_DAYS"]).as_json()
    log.info("analytics ingested", extra={"ingest": result})
    return result
