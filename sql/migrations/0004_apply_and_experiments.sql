-- Applying suggestions to YouTube, and the experiments that judge them.

ALTER TABLE suggestions
    ADD COLUMN approved_title        text,
    ADD COLUMN approved_description  text,
    ADD COLUMN approved_tags         text[],
    ADD COLUMN prior_version_id      bigint REFERENCES metadata_versions (id) ON DELETE SET NULL,
    ADD COLUMN applied_version_id    bigint REFERENCES metadata_versions (id) ON DELETE SET NULL,
    ADD COLUMN apply_error           text,
    -- What YouTube held when it differed from the version the suggestion
    -- was made from: shown to the creator to resolve.
    ADD COLUMN conflict              jsonb,
    ADD COLUMN decided_by            bigint REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN decided_at            timestamptz,
    ADD COLUMN applied_at            timestamptz;

ALTER TABLE metadata_versions
    ADD COLUMN suggestion_id bigint REFERENCES suggestions (id) ON DELETE SET NULL;

CREATE TABLE experiments (
    id             bigserial PRIMARY KEY,
    video_id       bigint      NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    suggestion_id  bigint      UNIQUE REFERENCES suggestions (id) ON DELETE SET NULL,
    applied_at     timestamptz NOT NULL,
    cooling_until  date        NOT NULL,
    status         text        NOT NULL DEFAULT 'cooling'
                   CHECK (status IN ('cooling', 'measuring', 'helped', 'hurt', 'inconclusive', 'not_enough_data')),
    metric         text        NOT NULL DEFAULT 'engaged_views',
    lift           numeric(8, 4),
    confidence     numeric(5, 4),
    details        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    evaluated_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX experiments_video_idx ON experiments (video_id, applied_at DESC);
CREATE INDEX experiments_status_idx ON experiments (status, cooling_until);
