"""SQL for the API's credentials: refresh-token families, refresh tokens and
personal API tokens (migration 0016). Every function runs on the caller's
cursor and never opens or commits a transaction (see reliability.db); the
states and the rules are webapp/api/credentials.py's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from reliability.db import Cursor
from reliability.prepared import Statement

_USER = "u.id, u.email, u.role, u.created_at, u.last_login_at"
# A family that can still be used: live, not past its end, and begun under
# the user's current session_version (a password change ends it).
_FAMILY_LIVE = "f.state = 'live' AND f.expires_at > now() AND f.user_version = u.session_version"
_PERSONAL_LIVE = "t.revoked_at IS NULL AND t.user_version = u.session_version"
_IP_MAX = 64
_USER_AGENT_MAX = 300
_FAMILY_USER = Statement(
    "api_family_user",
    f"""SELECT {_USER} FROM api_token_families f JOIN users u ON u.id = f.user_id
        WHERE f.id = %s AND f.user_id = %s AND {_FAMILY_LIVE}""",
)


def _clip(value: str | None, size: int) -> str | None:
    return (value or "")[:size] or None


# -- refresh-token families -------------------------------------------------


def create_family(cur: Cursor, user_id: int, lifetime: dt.timedelta, ip: str | None, user_agent: str | None) -> int:
    """A new live family for the user; also forgets the user's families that
    ended more than 30 days ago."""
    cur.execute(
        """DELETE FROM api_token_families
           WHERE user_id = %s
             AND (expires_at < now() - interval '30 days' OR revoked_at < now() - interval '30 days')""",
        (user_id,),
    )
    cur.execute(
        """INSERT INTO api_token_families (user_id, user_version, expires_at, created_ip, user_agent)
           SELECT id, session_version, now() + %s, %s, %s FROM users WHERE id = %s RETURNING id""",
        (lifetime, _clip(ip, _IP_MAX), _clip(user_agent, _USER_AGENT_MAX), user_id),
    )
    return int(cur.fetchone()["id"])


def add_refresh_token(cur: Cursor, family_id: int, token_hash: bytes) -> None:
    cur.execute("INSERT INTO api_refresh_tokens (family_id, token_hash) VALUES (%s, %s)", (family_id, token_hash))


def spend_refresh_token(cur: Cursor, token_hash: bytes) -> dict[str, Any] | None:
    """Mark the refresh token spent if it is unspent and its family usable;
    returns the family id and its user, or None (then see `refresh_token_state`).
    The row lock makes two concurrent uses of one token a winner and a reuse."""
    cur.execute(
        f"""UPDATE api_refresh_tokens r SET spent_at = now()
            FROM api_token_families f JOIN users u ON u.id = f.user_id
            WHERE r.token_hash = %s AND r.spent_at IS NULL AND f.id = r.family_id AND {_FAMILY_LIVE}
            RETURNING f.id AS family_id, {_USER}""",
        (token_hash,),
    )
    row = cur.fetchone()
    if row is not None:
        cur.execute("UPDATE api_token_families SET last_used_at = now() WHERE id = %s", (row["family_id"],))
    return row


def refresh_token_state(cur: Cursor, token_hash: bytes) -> dict[str, Any] | None:
    """Why a refresh token was not accepted: its family, whether it was
    spent, the family's state, whether it expired or predates a password
    change. None for a token never issued."""
    cur.execute(
        """SELECT f.id AS family_id, f.user_id, f.state, r.spent_at IS NOT NULL AS spent,
                  f.expires_at <= now() AS expired, f.user_version <> u.session_version AS outdated
           FROM api_refresh_tokens r JOIN api_token_families f ON f.id = r.family_id
                JOIN users u ON u.id = f.user_id
           WHERE r.token_hash = %s""",
        (token_hash,),
    )
    return cur.fetchone()


def revoke_family(cur: Cursor, family_id: int, state: str) -> bool:
    """End a live family with ``state``; False when it was not live."""
    cur.execute(
        "UPDATE api_token_families SET state = %s, revoked_at = now() WHERE id = %s AND state = 'live'",
        (state, family_id),
    )
    return cur.rowcount > 0


def revoke_families_of(cur: Cursor, user_id: int, state: str) -> int:
    cur.execute(
        "UPDATE api_token_families SET state = %s, revoked_at = now() WHERE user_id = %s AND state = 'live'",
        (state, user_id),
    )
    return cur.rowcount


def family_user(cur: Cursor, family_id: int, user_id: int) -> dict[str, Any] | None:
    """The user of an access token, while its family is usable. One
    statement, prepared: every bearer request with an access token runs it."""
    _FAMILY_USER.execute(cur, (family_id, user_id))
    return cur.fetchone()


# -- personal API tokens -------------------------------------------------------


def create_personal(cur: Cursor, user_id: int, name: str, token_hash: bytes, hint: str) -> int:
    cur.execute(
        """INSERT INTO api_personal_tokens (user_id, user_version, name, token_hash, hint)
           SELECT id, session_version, %s, %s, %s FROM users WHERE id = %s RETURNING id""",
        (name, token_hash, hint, user_id),
    )
    return int(cur.fetchone()["id"])


def list_personal(cur: Cursor, user_id: int) -> list[dict[str, Any]]:
    """The user's usable personal tokens, newest first."""
    cur.execute(
        f"""SELECT t.id, t.name, t.hint, t.created_at, t.last_used_at, t.last_used_ip
            FROM api_personal_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.user_id = %s AND {_PERSONAL_LIVE}
            ORDER BY t.created_at DESC, t.id DESC""",
        (user_id,),
    )
    return cur.fetchall()


def revoke_personal(cur: Cursor, user_id: int, token_id: int) -> dict[str, Any] | None:
    """Revoke one of the user's usable tokens; its name, or None when the
    user has no such usable token."""
    cur.execute(
        f"""UPDATE api_personal_tokens t SET revoked_at = now() FROM users u
            WHERE u.id = t.user_id AND t.id = %s AND t.user_id = %s AND {_PERSONAL_LIVE}
            RETURNING t.id, t.name""",
        (token_id, user_id),
    )
    return cur.fetchone()


def revoke_personal_of(cur: Cursor, user_id: int) -> int:
    cur.execute(
        "UPDATE api_personal_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL", (user_id,)
    )
    return cur.rowcount


def personal_user(cur: Cursor, token_hash: bytes) -> dict[str, Any] | None:
    """The token's id, last use and user, with ``usable`` false for a revoked
    or outdated token; None for a token never issued."""
    cur.execute(
        f"""SELECT t.id AS token_id, t.last_used_at AS token_last_used_at, t.last_used_ip AS token_last_used_ip,
                   ({_PERSONAL_LIVE}) AS usable, {_USER}
            FROM api_personal_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = %s""",
        (token_hash,),
    )
    return cur.fetchone()


def touch_personal(cur: Cursor, token_id: int, ip: str | None) -> None:
    cur.execute(
        "UPDATE api_personal_tokens SET last_used_at = now(), last_used_ip = %s WHERE id = %s",
        (_clip(ip, _IP_MAX), token_id),
    )
