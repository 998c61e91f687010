-- Optimization runs (one video or a batch), their suggestions, and the
-- usage ledger of Claude and SerpAPI calls.

CREATE TABLE optimization_runs (
    id               bigserial PRIMARY KEY,
    channel_id       bigint      NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    requested_by     bigint REFERENCES users (id) ON DELETE SET NULL,
    -- The same click sent twice (double submit, retry) makes one run.
    idempotency_key  text        NOT NULL UNIQUE,
    status           text        NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'partial', 'failed')),
    video_count      integer     NOT NULL CHECK (video_count > 0),
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX optimization_runs_channel_idx ON optimization_runs (channel_id, id DESC);

CREATE TABLE optimization_run_videos (
    run_id    bigint  NOT NULL REFERENCES optimization_runs (id) ON DELETE CASCADE,
    video_id  bigint  NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    position  integer NOT NULL,
    status    text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    error     text,
    PRIMARY KEY (run_id, video_id)
);

CREATE TABLE suggestions (
    id                  bigserial PRIMARY KEY,
    run_id              bigint      NOT NULL REFERENCES optimization_runs (id) ON DELETE CASCADE,
    video_id            bigint      NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    -- The metadata version the suggestion was made from (apply checks it).
    base_version_id     bigint REFERENCES metadata_versions (id) ON DELETE SET NULL,
    status              text        NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'accepted', 'rejected', 'applying', 'applied',
                                          'failed', 'reverted', 'superseded')),
    engine              text        NOT NULL CHECK (engine IN ('claude', 'heuristic')),
    model               text,
    prompt_version      text        NOT NULL,
    titles              jsonb       NOT NULL,
    chosen_title        integer     NOT NULL DEFAULT 0,
    description         text        NOT NULL,
    tags                text[]      NOT NULL,
    primary_keyword     text,
    chapters            jsonb       NOT NULL DEFAULT '[]'::jsonb,
    rationale           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    keyword_evidence    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    notes               text[]      NOT NULL DEFAULT '{}',
    input_tokens        integer     NOT NULL DEFAULT 0,
    output_tokens       integer     NOT NULL DEFAULT 0,
    cache_read_tokens   integer     NOT NULL DEFAULT 0,
    cache_write_tokens  integer     NOT NULL DEFAULT 0,
    cost_usd            numeric(12, 6) NOT NULL DEFAULT 0,
    -- video version + prompt version + model: the same inputs reuse the answer.
    cache_key           text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, video_id)
);
CREATE INDEX suggestions_video_idx ON suggestions (video_id, id DESC);
CREATE INDEX suggestions_cache_idx ON suggestions (cache_key);

-- Every Claude and SerpAPI call: tokens, cost, outcome.
CREATE TABLE usage_ledger (
    id                  bigserial PRIMARY KEY,
    occurred_at         timestamptz NOT NULL DEFAULT now(),
    service             text        NOT NULL CHECK (service IN ('anthropic', 'serpapi')),
    model               text,
    outcome             text        NOT NULL,
    input_tokens        integer     NOT NULL DEFAULT 0,
    output_tokens       integer     NOT NULL DEFAULT 0,
    cache_read_tokens   integer     NOT NULL DEFAULT 0,
    cache_write_tokens  integer     NOT NULL DEFAULT 0,
    cost_usd            numeric(12, 6) NOT NULL DEFAULT 0,
    user_id             bigint REFERENCES users (id) ON DELETE SET NULL,
    channel_id          bigint REFERENCES channels (id) ON DELETE SET NULL,
    run_id              bigint REFERENCES optimization_runs (id) ON DELETE SET NULL,
    video_id            bigint REFERENCES videos (id) ON DELETE SET NULL
);
CREATE INDEX usage_ledger_user_month_idx ON usage_ledger (user_id, occurred_at);
CREATE INDEX usage_ledger_run_idx ON usage_ledger (run_id);

-- Per-user overrides of the monthly limits (NULL: the configured default).
ALTER TABLE users
    ADD COLUMN monthly_optimization_quota integer CHECK (monthly_optimization_quota >= 0),
    ADD COLUMN monthly_cost_cap_usd numeric(10, 2) CHECK (monthly_cost_cap_usd >= 0);

-- The SEO score (0-100) of each video's current metadata, kept so the video
-- table can sort and filter on it. Recomputed whenever the metadata changes.
ALTER TABLE videos ADD COLUMN seo_score smallint CHECK (seo_score BETWEEN 0 AND 100);
CREATE INDEX videos_channel_seo_idx ON videos (channel_id, seo_score);
