"""The API's credentials: the states of a refresh-token family, rotation
with reuse detection, and personal API tokens.

A family (one API login) moves only from 'live' to one of its ends:

    live --logout--------------------------> logged_out
    live --a spent refresh token used again-> reuse_detected
    live --"log out everywhere"------------> ended_everywhere

A password change or reset needs no move: it raises users.session_version,
and a family or personal token begun under an older version is dead (the
store's liveness test), as server-side sessions are. Account deletion
deletes the rows (ON DELETE CASCADE).

Refresh tokens and personal tokens are 256-bit random values; only their
SHA-256 is stored. A slow hash (bcrypt) protects guessable secrets such as
passwords; nobody can enumerate 2^256 values, so a fast hash loses nothing
and keeps each bearer request to one indexed lookup instead of ~100 ms of
bcrypt. Every function runs on the caller's cursor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from reliability import audit
from reliability.db import Cursor
from webapp.api import token_store
from webapp.api.errors import ApiError
from webapp.api.gate import unauthorized

LIVE = "live"
LOGGED_OUT = "logged_out"
REUSE_DETECTED = "reuse_detected"
ENDED_EVERYWHERE = "ended_everywhere"
FAMILY_STATES = (LIVE, LOGGED_OUT, REUSE_DETECTED, ENDED_EVERYWHERE)

# An API login lasts at most this long, however often it is refreshed.
FAMILY_LIFETIME = dt.timedelta(days=30)
REFRESH_PREFIX = "ycort_"
PERSONAL_PREFIX = "ycopat_"
HINT_LENGTH = len(PERSONAL_PREFIX) + 4
# last_used_at of a personal token is written at most this often.
TOUCH_INTERVAL = dt.timedelta(minutes=1)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def start_family(cur: Cursor, user: dict[str, Any], ip: str | None, user_agent: str | None) -> tuple[int, str]:
    """A new API login: its family id and first refresh token."""
    family_id = token_store.create_family(cur, user["id"], FAMILY_LIFETIME, ip, user_agent)
    refresh_token = _new_token(REFRESH_PREFIX)
    token_store.add_refresh_token(cur, family_id, token_hash(refresh_token))
    return family_id, refresh_token


def rotate(cur: Cursor, refresh_token: str, ip: str | None) -> tuple[dict[str, Any], int, str] | ApiError:
    """Spend ``refresh_token`` and issue the next of its family: the user,
    the family id and the new refresh token. A spent token used again
    revokes its family (it was copied: the thief or the owner holds the
    newer one, and we cannot tell which). A refusal is returned, not
    raised, so that the caller's transaction commits that revocation; the
    caller raises it after the commit."""
    hashed = token_hash(refresh_token)
    row = token_store.spend_refresh_token(cur, hashed)
    if row is not None:
        next_token = _new_token(REFRESH_PREFIX)
        token_store.add_refresh_token(cur, row["family_id"], token_hash(next_token))
        return row, row["family_id"], next_token
    return _refused(cur, hashed, ip)


def _refused(cur: Cursor, hashed: bytes, ip: str | None) -> ApiError:
    state = token_store.refresh_token_state(cur, hashed)
    if state is None:
        return unauthorized("invalid_token", "That refresh token is not valid.")
    if state["state"] == LIVE and state["spent"] and not state["outdated"] and not state["expired"]:
        token_store.revoke_family(cur, state["family_id"], REUSE_DETECTED)
        audit.record(
            cur,
            "api.refresh_token_reused",
            actor_id=state["user_id"],
            target_type="api_token_family",
            target_id=state["family_id"],
            ip_address=ip,
        )
        return unauthorized(
            "refresh_token_reused",
            "That refresh token was already used. Every token of this login is now revoked: log in again.",
        )
    if state["state"] == REUSE_DETECTED and state["spent"]:
        return unauthorized("refresh_token_reused", "That refresh token was already used; this login is revoked.")
    if state["expired"]:
        return unauthorized("token_expired", "That login has expired: get a new token with /auth/token.")
    return unauthorized("token_revoked", "That refresh token was revoked: get a new token with /auth/token.")


def logout_family(cur: Cursor, family_id: int) -> bool:
    return token_store.revoke_family(cur, family_id, LOGGED_OUT)


def family_of_refresh_token(cur: Cursor, refresh_token: str, user_id: int | None) -> int | None:
    """The family of a refresh token (of ``user_id`` when given), or None."""
    state = token_store.refresh_token_state(cur, token_hash(refresh_token))
    if state is None or (user_id is not None and state["user_id"] != user_id):
        return None
    return int(state["family_id"])


def revoke_everything(cur: Cursor, user_id: int) -> dict[str, int]:
    """ "Log out everywhere" for the API: every family and personal token."""
    return {
        "api_logins": token_store.revoke_families_of(cur, user_id, ENDED_EVERYWHERE),
        "personal_tokens": token_store.revoke_personal_of(cur, user_id),
    }


# -- personal API tokens -------------------------------------------------------


def create_personal(cur: Cursor, user: dict[str, Any], name: str, ip: str | None) -> str:
    """A new personal token; returned once, only its hash is kept."""
    token = _new_token(PERSONAL_PREFIX)
    token_id = token_store.create_personal(cur, user["id"], name, token_hash(token), token[:HINT_LENGTH])
    audit.record(
        cur,
        "api.personal_token_created",
        actor_id=user["id"],
        actor_email=user["email"],
        target_type="api_personal_token",
        target_id=token_id,
        details={"name": name},
        ip_address=ip,
    )
    return token


def revoke_personal(cur: Cursor, user: dict[str, Any], token_id: int, ip: str | None) -> bool:
    row = token_store.revoke_personal(cur, user["id"], token_id)
    if row is None:
        return False
    audit.record(
        cur,
        "api.personal_token_revoked",
        actor_id=user["id"],
        actor_email=user["email"],
        target_type="api_personal_token",
        target_id=token_id,
        details={"name": row["name"]},
        ip_address=ip,
    )
    return True


def personal_user(cur: Cursor, token: str, ip: str | None, now: dt.datetime) -> dict[str, Any]:
    """The user of a personal token (its id as ``token_id``); 401 otherwise.
    Records the use, at most once a minute per token (or on a new address)."""
    row = token_store.personal_user(cur, token_hash(token))
    if row is None:
        raise unauthorized("invalid_token", "That API token is not valid.")
    if not row["usable"]:
        raise unauthorized("token_revoked", "That API token was revoked.")
    last = row["token_last_used_at"]
    if last is None or now - last > TOUCH_INTERVAL or row["token_last_used_ip"] != (ip or "")[:64]:
        token_store.touch_personal(cur, row["token_id"], ip)
    return row
