-- Credentials of the JSON API (webapp/api/credentials.py owns their states).
--
-- A login through POST /api/v1/auth/token starts a refresh-token family.
-- Each refresh token works once: using it marks it spent and issues the
-- next one in the same family; using a spent one again means a copy was
-- stolen, so the whole family is revoked. Access tokens (15-minute JWTs)
-- name their family, and a request is accepted only while the family is
-- live, so logout, a reuse, "log out everywhere", a password change (the
-- user_version check, as for user_sessions) and account deletion (cascade)
-- end its access tokens at once too.
CREATE TABLE api_token_families (
    id             bigserial   PRIMARY KEY,
    user_id        bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- users.session_version at login: raising it ends the family.
    user_version   integer     NOT NULL,
    state          text        NOT NULL DEFAULT 'live'
                   CHECK (state IN ('live', 'logged_out', 'reuse_detected', 'ended_everywhere')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- The family's absolute end: refreshing never extends it past this.
    expires_at     timestamptz NOT NULL,
    last_used_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    created_ip     text,
    user_agent     text,
    CHECK ((state = 'live') = (revoked_at IS NULL))
);
CREATE INDEX api_token_families_user_live_idx ON api_token_families (user_id) WHERE state = 'live';

-- Only the SHA-256 of each refresh token is kept (a 256-bit random value:
-- nothing to brute-force, so no slow hash is needed).
CREATE TABLE api_refresh_tokens (
    id          bigserial   PRIMARY KEY,
    family_id   bigint      NOT NULL REFERENCES api_token_families (id) ON DELETE CASCADE,
    token_hash  bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    spent_at    timestamptz
);
CREATE INDEX api_refresh_tokens_family_idx ON api_refresh_tokens (family_id);

-- Personal API tokens, made and revoked on the settings page; shown once.
CREATE TABLE api_personal_tokens (
    id            bigserial   PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_version  integer     NOT NULL,
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash    bytea       NOT NULL UNIQUE,
    -- The first characters of the token, so its owner can tell which it is.
    hint          text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    last_used_ip  text,
    revoked_at    timestamptz
);
CREATE INDEX api_personal_tokens_user_idx ON api_personal_tokens (user_id) WHERE revoked_at IS NULL;
