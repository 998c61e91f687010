"""RQ job: sync one channel's videos (see optimizer.youtube.sync)."""

from __future__ import annotations

from jobs.runtime import current_settings
from optimizer.youtube.client import Call, YouTubeClient
from optimizer.youtube.oauth import GoogleOAuthConfig
from optimizer.youtube.sync import run_sync
from optimizer.youtube.tokens import ChannelTokenSource
from reliability.crypto import TokenCipher


def sync_channel(run_id: int) -> str:
    return run_sync(run_id, youtube_client_factory(current_settings()))


def youtube_client_factory(settings):
    """Build a client for a channel with its own token source and the
    given quota callback."""
    oauth_config = GoogleOAuthConfig.from_config(settings)

    def make(channel_id: int, on_call) -> YouTubeClient:
        tokens = ChannelTokenSource(channel_id, TokenCipher(settings["TOKEN_ENCRYPTION_KEY"]), oauth_config)
        return YouTubeClient(settings["YOUTUBE_API_BASE_URL"], tokens, timeout_s=settings["YOUTUBE_TIMEOUT_S"], on_call=on_call)

    return make


__all__ = ["sync_channel", "youtube_client_factory", "Call"]
