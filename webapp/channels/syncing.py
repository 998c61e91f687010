"""Starting a sync run: shared by the Sync button and the OAuth callback."""

from __future__ import annotations

from typing import Any

from optimizer.youtube import quota, sync_runs
from reliability.db import transaction
from reliability.errors import Conflict


def create_sync_run(channel: dict[str, Any], requested_by: int, daily_budget: int) -> dict[str, Any]:
    """A sync run for the channel (or the one already active), after the
    checks a creator must hear about: demo, disconnected, daily budget."""
    if channel["is_demo"]:
        raise Conflict(
            "The demo channel is already complete: there is nothing to sync from YouTube.", code="demo_channel"
        )
    if channel["status"] != "connected":
        raise Conflict("This channel is disconnected. Reconnect it to YouTube first.", code="channel_disconnected")
    with transaction() as cur:
        quota.check_budget(cur, quota.full_sync_minimum(channel["video_count"]), daily_budget)
        return sync_runs.create(cur, channel, requested_by)
