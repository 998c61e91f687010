-- YouTube channels, who may use them, their videos, sync runs and quota.

CREATE TABLE channels (
    id                   bigserial PRIMARY KEY,
    youtube_channel_id   text        NOT NULL,
    title                text        NOT NULL,
    description          text        NOT NULL DEFAULT '',
    custom_url           text,
    thumbnail_url        text,
    uploads_playlist_id  text,
    -- connected: tokens work; disconnected: reconnect needed; demo: bundled sample
    status               text        NOT NULL DEFAULT 'connected'
                         CHECK (status IN ('connected', 'disconnected', 'demo')),
    is_demo              boolean     NOT NULL DEFAULT false,
    subscriber_count     bigint,
    video_count          integer     NOT NULL DEFAULT 0,
    last_synced_at       timestamptz,
    last_sync_status     text,
    created_by           bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- A real channel is connected once; each demo copy belongs to one user.
CREATE UNIQUE INDEX channels_youtube_id_key ON channels (youtube_channel_id) WHERE NOT is_demo;

CREATE TABLE channel_members (
    channel_id  bigint      NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text        NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    added_by    bigint REFERENCES users (id) ON DELETE SET NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX channel_members_user_idx ON channel_members (user_id);

-- OAuth tokens, Fernet-encrypted (TOKEN_ENCRYPTION_KEY); never stored in clear.
CREATE TABLE oauth_tokens (
    channel_id         bigint PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    access_token_enc   text        NOT NULL,
    refresh_token_enc  text,
    expires_at         timestamptz NOT NULL,
    scopes             text        NOT NULL DEFAULT '',
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE videos (
    id                      bigserial PRIMARY KEY,
    channel_id              bigint      NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    youtube_video_id        text        NOT NULL,
    title                   text        NOT NULL DEFAULT '',
    description             text        NOT NULL DEFAULT '',
    tags                    text[]      NOT NULL DEFAULT '{}',
    category_id             text,
    default_language        text,
    default_audio_language  text,
    published_at            timestamptz,
    duration_seconds        integer,
    thumbnail_url           text,
    privacy_status          text,
    view_count              bigint      NOT NULL DEFAULT 0,
    like_count              bigint      NOT NULL DEFAULT 0,
    comment_count           bigint      NOT NULL DEFAULT 0,
    etag                    text,
    removed_at              timestamptz,
    synced_at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel_id, youtube_video_id)
);
CREATE INDEX videos_channel_published_idx ON videos (channel_id, published_at DESC);
CREATE INDEX videos_channel_views_idx ON videos (channel_id, view_count DESC);

-- Every version of a video's metadata, newest last: from sync, an applied
-- suggestion or a restore. Nothing the creator had is ever lost.
CREATE TABLE metadata_versions (
    id                      bigserial PRIMARY KEY,
    video_id                bigint      NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    source                  text        NOT NULL CHECK (source IN ('sync', 'apply', 'restore', 'demo')),
    title                   text        NOT NULL,
    description             text        NOT NULL,
    tags                    text[]      NOT NULL,
    category_id             text,
    default_language        text,
    default_audio_language  text,
    content_hash            text        NOT NULL,
    created_by              bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX metadata_versions_video_idx ON metadata_versions (video_id, id DESC);

CREATE TABLE transcripts (
    video_id     bigint PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
    language     text,
    -- 'none': the video has no caption track we may download (remembered so
    -- that captions.list, 50 units, is not paid again for nothing).
    source       text        NOT NULL CHECK (source IN ('manual', 'asr', 'demo', 'none')),
    -- Plain text, one cue per line, each starting with its [h:mm:ss] time.
    text         text        NOT NULL,
    fetched_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sync_runs (
    id              bigserial PRIMARY KEY,
    channel_id      bigint      NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    requested_by    bigint REFERENCES users (id) ON DELETE SET NULL,
    kind            text        NOT NULL CHECK (kind IN ('full', 'incremental')),
    status          text        NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'quota_exceeded')),
    -- Where a stopped sync resumes: the next playlist page to read, and when
    -- the pass over the playlist began (videos not seen since are removed).
    resume_page_token  text,
    pass_started_at    timestamptz,
    pages_done      integer     NOT NULL DEFAULT 0,
    videos_seen     integer     NOT NULL DEFAULT 0,
    videos_total    integer,
    units_used      integer     NOT NULL DEFAULT 0,
    error           text,
    started_at      timestamptz,
    finished_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- One sync per channel at a time.
CREATE UNIQUE INDEX sync_runs_one_active_idx ON sync_runs (channel_id) WHERE status IN ('queued', 'running');
CREATE INDEX sync_runs_channel_idx ON sync_runs (channel_id, id DESC);

-- Every YouTube API call's quota cost, counted per Pacific day (when the
-- quota resets).
CREATE TABLE quota_ledger (
    id           bigserial PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    pacific_day  date        NOT NULL DEFAULT (now() AT TIME ZONE 'America/Los_Angeles')::date,
    api          text        NOT NULL,
    method       text        NOT NULL,
    units        integer     NOT NULL CHECK (units >= 0),
    channel_id   bigint REFERENCES channels (id) ON DELETE SET NULL,
    user_id      bigint REFERENCES users (id) ON DELETE SET NULL,
    sync_run_id  bigint REFERENCES sync_runs (id) ON DELETE SET NULL
);
CREATE INDEX quota_ledger_day_idx ON quota_ledger (api, pacific_day);

-- Daily analytics per video (YouTube Analytics API v2, or the demo data).
CREATE TABLE video_daily_stats (
    video_id                  bigint  NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    day                       date    NOT NULL,
    views                     integer NOT NULL DEFAULT 0,
    engaged_views             integer,
    estimated_minutes_watched integer NOT NULL DEFAULT 0,
    average_view_duration     integer,
    likes                     integer NOT NULL DEFAULT 0,
    comments                  integer NOT NULL DEFAULT 0,
    shares                    integer NOT NULL DEFAULT 0,
    subscribers_gained        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (video_id, day)
);
