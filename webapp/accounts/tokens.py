"""One-time links: confirm an address, reset a password, accept an invitation.

A link carries a random secret, signed and timestamped by itsdangerous (a
link for one purpose is refused by another's page, a forged or stale one
without touching the database). Signing cannot make a link work once, so
the server keeps a row per link with a SHA-256 of the secret (a leaked
table opens nothing), its expiry and when it was used; using a link is one
guarded UPDATE, so two clicks at once succeed once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from reliability.db import Cursor

# How long each kind of link works (the one place these are said).
LIFETIMES = {
    "verify_email": timedelta(hours=48),
    "reset_password": timedelta(hours=1),
    "invitation": timedelta(days=7),
}

INVALID_LINK = "This link does not work: it was already used, it expired, or it is incomplete. Ask for a new one."


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"one-time-link:{purpose}")


def new_secret(purpose: str) -> tuple[str, str]:
    """(the link token for the mail, the hash to store)."""
    secret = secrets.token_urlsafe(32)
    return _serializer(purpose).dumps(secret), hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_of_link(purpose: str, token: str) -> str | None:
    """The stored hash a link token stands for, or None when the signature
    is wrong or the link is older than its purpose allows."""
    try:
        secret = _serializer(purpose).loads(token, max_age=int(LIFETIMES[purpose].total_seconds()))
    except BadSignature:  # SignatureExpired is a BadSignature
        return None
    return hash_secret(secret) if isinstance(secret, str) else None


# -- account links (verify_email, reset_password) --------------------------------------------


def issue(cur: Cursor, user: dict[str, Any], purpose: str) -> str:
    """A new link for ``user`` in the caller's transaction; earlier unused
    links of the same purpose stop working (only the newest mail counts)."""
    token, token_hash = new_secret(purpose)
    cur.execute(
        "UPDATE account_tokens SET used_at = now() WHERE user_id = %s AND purpose = %s AND used_at IS NULL",
        (user["id"], purpose),
    )
    cur.execute(
        """INSERT INTO account_tokens (user_id, purpose, token_hash, email, expires_at)
           VALUES (%s, %s, %s, %s, now() + %s)""",
        (user["id"], purpose, token_hash, user["email"], LIFETIMES[purpose]),
    )
    return token


def peek(cur: Cursor, purpose: str, token: str) -> dict[str, Any] | None:
    """The user a still-usable link belongs to (for showing its form), or None."""
    token_hash = hash_of_link(purpose, token)
    if token_hash is None:
        return None
    cur.execute(
        """SELECT u.id, u.email FROM account_tokens t JOIN users u ON u.id = t.user_id
           WHERE t.token_hash = %s AND t.purpose = %s AND t.used_at IS NULL AND t.expires_at > now()
             AND lower(u.email) = lower(t.email)""",
        (token_hash, purpose),
    )
    return cur.fetchone()


def consume(cur: Cursor, purpose: str, token: str) -> dict[str, Any] | None:
    """Use a link once, in the caller's transaction: the user row it was
    for, or None when it is unknown, used, expired or for an old address."""
    token_hash = hash_of_link(purpose, token)
    if token_hash is None:
        return None
    cur.execute(
        """UPDATE account_tokens t SET used_at = now() FROM users u
           WHERE u.id = t.user_id AND t.token_hash = %s AND t.purpose = %s AND t.used_at IS NULL
             AND t.expires_at > now() AND lower(u.email) = lower(t.email)
           RETURNING u.id, u.email, u.session_version""",
        (token_hash, purpose),
    )
    return cur.fetchone()
