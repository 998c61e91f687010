"""Channels: the caller's channels, one channel with its latest sync, and
starting a sync. The same store calls and access rule as the channel pages
(webapp/channels/routes.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from flask_login import current_user

from jobs.queueing import queue_sync
from reliability.db import read
from webapp.api.access import API
from webapp.api.models import Channel, ChannelDetail, ChannelList, SyncRun, SyncStarted
from webapp.api.spec import operation
from webapp.channels import store
from webapp.channels.access import require_channel
from webapp.channels.syncing import create_sync_run
from webapp.redis_client import get_redis

bp = Blueprint("channels", __name__)


def channel_model(row: dict[str, Any]) -> dict[str, Any]:
    url = f"{API}/channels/{row['id']}"
    fields = ("id", "title", "youtube_channel_id", "thumbnail_url", "status", "is_demo", "video_count")
    return {
        **{name: row[name] for name in fields},
        "last_synced_at": row["last_synced_at"],
        "my_role": row["my_role"] or "owner",  # an admin's view of a channel they are not in
        "url": url,
        "videos_url": f"{url}/videos",
    }


def sync_model(row: dict[str, Any]) -> SyncRun:
    return SyncRun.model_validate(
        {
            name: row[name]
            for name in SyncRun.model_fields  # the sync_runs row's own columns
        }
    )


@operation(bp, "GET", "/channels", summary="The channels you are a member of", response=ChannelList)
def list_channels() -> ChannelList:
    """Every channel you are a member of, with your role (an admin sees every channel)."""
    rows = read(store.channels_for, current_user.id, admin=current_user.is_admin)
    return ChannelList(channels=[Channel.model_validate(channel_model(row)) for row in rows])


@operation(bp, "GET", "/channels/<int:channel_id>", summary="One channel and its latest sync", response=ChannelDetail)
def get_channel(channel_id: int) -> ChannelDetail:
    """The channel with your role and its latest sync run (poll it after starting a sync)."""
    channel = require_channel(channel_id)
    sync = read(store.latest_sync, channel_id)
    return ChannelDetail.model_validate({**channel_model(channel), "latest_sync": sync_model(sync) if sync else None})


@operation(
    bp, "POST", "/channels/<int:channel_id>/sync", summary="Start a sync from YouTube", response=SyncStarted, status=202
)
def sync_channel(channel_id: int) -> SyncStarted:
    """Queue a sync of the channel's videos (editors and owners). One runs at a
    time per channel: while one is active, it is the one returned. A demo
    channel has nothing to sync (409 demo_channel); a disconnected one must be
    reconnected on the site first (409 channel_disconnected); the day's
    YouTube quota is checked first (429 with the numbers)."""
    channel = require_channel(channel_id, "editor")
    run = create_sync_run(channel, current_user.id, current_app.config["YOUTUBE_DAILY_QUOTA"])
    queue_sync(get_redis(), run["id"])  # Redis down: 503, the run is kept and queued by the sweep
    return SyncStarted(sync=sync_model(run), status_url=f"{API}/channels/{channel_id}")
