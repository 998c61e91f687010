-- Accounts and the audit trail.

CREATE TABLE users (
    id               bigserial PRIMARY KEY,
    email            text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash    text        NOT NULL,
    role             text        NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    -- Part of the session identity: raising it logs out every other session
    -- (password change, "log out everywhere").
    session_version  integer     NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    last_login_at    timestamptz
);

-- One account per address, whatever its case.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- Who did what, when. Rows outlive the user who made them (actor_id is
-- cleared, actor_email kept) so a deleted account leaves its trail.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    actor_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    actor_email  text,
    action       text        NOT NULL,
    target_type  text,
    target_id    text,
    details      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    request_id   text,
    ip_address   inet
);

CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, occurred_at DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, occurred_at DESC);
