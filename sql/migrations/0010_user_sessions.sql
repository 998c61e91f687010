-- Server-side login sessions. The browser's cookies (the session cookie and
-- the remember-me cookie) carry a random token; only its SHA-256 is stored,
-- so a copy of this table logs nobody in. Logging out, "log out everywhere"
-- and a password change set revoked_at: every cookie that carries a revoked
-- token is dead, whatever its signature says, even after Redis restarts.
-- Addresses are text, not inet: they come from the client (through a trusted
-- proxy) and must never make a request fail.
CREATE TABLE user_sessions (
    id            bigserial   PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- users.session_version when the session began: raising the version
    -- (a password change or reset) ends every session begun before.
    user_version  integer     NOT NULL,
    token_hash    bytea       NOT NULL UNIQUE,
    remember      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    user_agent    text,
    created_ip    text,
    last_ip       text,
    revoked_at    timestamptz
);

-- The settings page lists a user's live sessions; "log out everywhere"
-- revokes them.
CREATE INDEX user_sessions_user_live_idx ON user_sessions (user_id) WHERE revoked_at IS NULL;
