"""The API's pydantic models for channels, videos, runs and usage: what each
request may carry and what each response holds. They are the contract the
OpenAPI document is generated from (webapp/api/spec.py), so every field says
what it is and the main ones carry an example. Suggestions, experiments and
history are in suggestion_models.py.

Requests forbid unknown fields (a typo is a 422, not silently ignored);
responses are built from store rows with ``from_attributes`` off: the views
pick the fields, so a new column never leaks by itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from optimizer import runs
from optimizer.youtube import sync_runs
from webapp.inputs import ID_MAX


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code.", examples=["not_found"])
    message: str = Field(description="Safe to show to a person.", examples=["We could not find that page."])
    request_id: str | None = Field(description="Quote it when reporting a problem; it is in our logs.")
    details: dict[str, Any] | None = Field(
        default=None,
        description="null, or for 422 `fields`: each bad field's dotted `path` and `message`.",
        examples=[{"fields": [{"path": "body.video_ids", "message": "List should have at least 1 item"}]}],
    )


class Error(BaseModel):
    """Every error answer of the API."""

    error: ErrorBody


# -- channels ----------------------------------------------------------------------


class SyncRun(BaseModel):
    id: int
    status: str = Field(description=f"One of {', '.join(sync_runs.STATES)}.", examples=["queued"])
    kind: str = Field(examples=["full"])
    videos_seen: int
    videos_total: int | None
    units_used: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class Channel(BaseModel):
    id: int = Field(examples=[7])
    title: str = Field(examples=["Cooking with Ada"])
    youtube_channel_id: str = Field(examples=["UC1234567890abcdefghijkl"])
    thumbnail_url: str | None
    status: str = Field(description="connected, disconnected or demo.", examples=["connected"])
    is_demo: bool
    video_count: int
    last_synced_at: datetime | None
    my_role: str = Field(description="owner, editor or viewer (admins act as owner).", examples=["owner"])
    url: str = Field(description="This channel in the API.", examples=["/api/v1/channels/7"])
    videos_url: str = Field(examples=["/api/v1/channels/7/videos"])


class ChannelDetail(Channel):
    latest_sync: SyncRun | None


class ChannelList(BaseModel):
    channels: list[Channel]


class SyncStarted(BaseModel):
    sync: SyncRun
    status_url: str = Field(description="Poll it: the channel with its latest sync.", examples=["/api/v1/channels/7"])


# -- videos ------------------------------------------------------------------------


class VideoListQuery(Request):
    q: str = Field(default="", max_length=200, description="Words of the title, or a YouTube video id.")
    sort: str = Field(
        default="newest",
        pattern="^(newest|oldest|views|least_views|title|seo)$",
        description="newest, oldest, views, least_views, title or seo (lowest score first).",
    )
    filter: str = Field(
        default="all",
        pattern="^(all|public|unlisted|private|removed|attention)$",
        description="all, public, unlisted, private, removed, or attention (SEO score below 60).",
    )
    limit: int = Field(default=50, ge=1, le=100, description="Videos per page.")
    cursor: str = Field(
        default="", max_length=200, description="`next_cursor` of the previous page, with the same q, sort, filter."
    )


class VideoSummary(BaseModel):
    id: int = Field(examples=[42])
    youtube_video_id: str = Field(examples=["dQw4w9WgXcQ"])
    title: str = Field(examples=["How to make bread at home"])
    thumbnail_url: str | None
    published_at: datetime | None
    view_count: int
    like_count: int
    comment_count: int
    duration_seconds: int | None
    privacy_status: str | None = Field(examples=["public"])
    removed: bool
    seo_score: int | None = Field(description="0-100; below 60 is worth optimizing first.", examples=[54])
    url: str = Field(examples=["/api/v1/videos/42"])


class VideoPage(BaseModel):
    videos: list[VideoSummary]
    total: int = Field(description="Videos matching q and filter, on every page.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class SeoReason(BaseModel):
    criterion: str = Field(examples=["title_length"])
    points: int
    max_points: int
    ok: bool
    message: str


class SeoScore(BaseModel):
    score: int = Field(examples=[54])
    keyword: str | None = Field(description="The keyword the metadata seems to aim at.")
    reasons: list[SeoReason]


class Metadata(BaseModel):
    title: str
    description: str
    tags: list[str]


class Version(BaseModel):
    id: int
    number: int = Field(description="1 is the oldest.")
    source: str = Field(description="sync, apply, restore or demo.", examples=["apply"])
    title: str
    created_at: datetime
    author: str | None = Field(description="Who applied it; null for a sync.")
    is_current: bool
    restore_url: str = Field(examples=["/api/v1/videos/42/versions/3/restore"])


class Video(VideoSummary):
    channel_id: int
    metadata: Metadata
    seo: SeoScore
    history: list[Version] = Field(description="Every stored version, newest first.")
    suggestions_url: str = Field(examples=["/api/v1/videos/42/suggestions"])


# -- optimizing ----------------------------------------------------------------------


class OptimizeRequest(Request):
    without_transcripts: bool = Field(
        default=False, description="Spend no YouTube quota on transcripts (captions cost 250 units a video)."
    )


class BatchRequest(Request):
    video_ids: list[Annotated[int, Field(ge=1, le=ID_MAX)]] = Field(
        min_length=1, description="Ids of videos of one channel (at most BATCH_MAX_VIDEOS).", examples=[[42, 43, 44]]
    )
    without_transcripts: bool = False


class RunVideo(BaseModel):
    video_id: int
    title: str = Field(description="The video's current title.")
    status: str = Field(description="pending, done or failed.", examples=["done"])
    stage: str | None = Field(description="What the worker is doing for it now.", examples=["claude"])
    stage_label: str
    error: str | None
    suggestion_id: int | None
    suggestion_status: str | None = Field(examples=["pending"])
    suggested_title: str | None
    cost_usd: float
    suggestion_url: str | None = Field(examples=["/api/v1/suggestions/9"])


class Run(BaseModel):
    id: int = Field(examples=[12])
    channel_id: int
    status: str = Field(description=f"One of {', '.join(runs.STATES)}.", examples=["running"])
    video_count: int
    done: int
    failed: int
    without_transcripts: bool
    cost_usd: float
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    url: str = Field(examples=["/api/v1/runs/12"])


class RunDetail(Run):
    videos: list[RunVideo]


class RunStarted(BaseModel):
    run: Run
    status_url: str = Field(description="Poll it until the status is not queued or running.")


class Count(BaseModel):
    count: int = Field(description="How many suggestions changed.", examples=[5])


class Applying(BaseModel):
    suggestion_ids: list[int] = Field(description="Queued for the apply job.")


# -- usage ---------------------------------------------------------------------------


class ServiceUsage(BaseModel):
    service: str = Field(examples=["anthropic"])
    calls: int
    cost_usd: float
    input_tokens: int
    output_tokens: int


class Usage(BaseModel):
    month_videos: int = Field(description="Videos optimized this calendar month (UTC).")
    month_cost_usd: float
    services: list[ServiceUsage]
    limit_videos: int = Field(description="Your monthly optimization quota.")
    limit_cost_usd: float = Field(description="Your monthly AI spending cap.")
    quota_used_today: int = Field(description="YouTube Data API units spent today (Pacific day), all users.")
    quota_left_today: int
    quota_budget: int
