"""Local HTTP fakes of Google OAuth 2.0 and the YouTube Data API v3.

Modules: fake (FakeGoogle, the fixture), oauth / oauth_routes (the OAuth
server), youtube_api (the API routes), world / generate (the in-memory
accounts, channels, videos and captions), resources (JSON shapes), limits
(snippet validation), quota (costs, daily quota, injected faults), errors
(Google's error envelope).
"""

from .fake import FakeGoogle, RecordedRequest, fake_google_fixture
from .oauth import (
    ALL_CHANNELS,
    APP_SCOPES,
    YOUTUBE,
    YOUTUBE_FORCE_SSL,
    YOUTUBE_READONLY,
    YT_ANALYTICS_READONLY,
    s256,
)
from .quota import COSTS
from .world import CaptionTrack, Channel, Video, World

__all__ = [
    "ALL_CHANNELS",
    "APP_SCOPES",
    "COSTS",
    "YOUTUBE",
    "YOUTUBE_FORCE_SSL",
    "YOUTUBE_READONLY",
    "YT_ANALYTICS_READONLY",
    "CaptionTrack",
    "Channel",
    "FakeGoogle",
    "RecordedRequest",
    "Video",
    "World",
    "fake_google_fixture",
    "s256",
]
