-- Mail (issue 10, item 4): verified addresses, one-time links, channel
-- invitations by address, and the outbox the mail job sends from.

-- NULL: the owner of the address has not confirmed it yet. Accounts created
-- before this migration stay unverified (nothing proved their address); they
-- may log in and are asked to confirm it.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- One-time links for an account: confirm the address, reset the password.
-- Only a SHA-256 of the random secret is kept; the link itself exists only
-- in the mail. used_at makes a link work once.
CREATE TABLE account_tokens (
    id          bigserial PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text        NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    token_hash  text        NOT NULL UNIQUE,
    -- the address the link was sent to: a later change of address voids it
    email       text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

-- An owner invites an address (with or without an account). The role is
-- granted when a verified account with that address accepts the link.
CREATE TABLE channel_invitations (
    id           bigserial PRIMARY KEY,
    channel_id   bigint      NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    email        text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    role         text        NOT NULL CHECK (role IN ('editor', 'viewer')),
    invited_by   bigint REFERENCES users (id) ON DELETE SET NULL,
    token_hash   text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    accepted_by  bigint REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX channel_invitations_channel_idx ON channel_invitations (channel_id, created_at DESC);

-- Mail waiting for the mail job (jobs/mail.py). The body (which may hold a
-- one-time link) is erased once the mail is sent or given up; recipient, kind
-- and times stay for throttling and for the operator.
CREATE TABLE mail_outbox (
    id          bigserial PRIMARY KEY,
    kind        text        NOT NULL,
    recipient   text        NOT NULL,
    subject     text        NOT NULL,
    body        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    failed_at   timestamptz,
    attempts    integer     NOT NULL DEFAULT 0
);
CREATE INDEX mail_outbox_recipient_idx ON mail_outbox (lower(recipient), kind, created_at DESC);
CREATE INDEX mail_outbox_unsent_idx ON mail_outbox (created_at) WHERE sent_at IS NULL AND failed_at IS NULL;
