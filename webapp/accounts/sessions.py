"""Server-side login sessions (table ``user_sessions``).

Flask's session cookie is only signed: the server cannot take it back. So
the cookie (and the remember-me cookie, which carries the same value) holds
a random token, and a session is alive only while its row is: logout, "log
out everywhere" and a password change revoke rows, and every cookie that
carries a revoked token is refused from then on. Only the token's SHA-256 is
stored. All SQL for sessions lives here; each function runs on the caller's
cursor and never opens or commits a transaction (see reliability.db).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from reliability import audit
from reliability.db import Cursor
from reliability.prepared import Statement

# A session unused this long is dead (the cookie's own lifetime, too).
SESSION_LIFETIME = dt.timedelta(days=14)
# With "Keep me logged in", the remember-me cookie lives this long.
REMEMBER_LIFETIME = dt.timedelta(days=30)
# last_seen_at is written at most this often (or when the address changes),
# so an ordinary request costs one read and no write.
TOUCH_INTERVAL = dt.timedelta(minutes=5)

_USER_AGENT_MAX = 300
_IP_MAX = 64

# A live session: not ended, not expired, and begun under the user's current
# session_version (so anything that raises the version, such as a password
# reset, ends every earlier session without knowing about this table).
_LIVE = "s.revoked_at IS NULL AND s.expires_at > now() AND s.user_version = u.session_version"
_LOAD = Statement(
    "session_user",
    f"""SELECT u.id, u.email, u.role, u.session_version, u.created_at, u.last_login_at,
               s.id AS session_id, s.remember AS session_remember,
               s.last_seen_at AS session_last_seen_at, s.last_ip AS session_last_ip
        FROM user_sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = %s AND {_LIVE}""",
)


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _lifetime(remember: bool) -> dt.timedelta:
    return REMEMBER_LIFETIME if remember else SESSION_LIFETIME


def start(cur: Cursor, user_id: int, *, remember: bool, user_agent: str | None, ip: str | None) -> str:
    """A new session for ``user_id``; returns its token (never stored).
    Also forgets this user's sessions that expired or were revoked long ago."""
    token = secrets.token_urlsafe(32)
    _insert(cur, user_id, token, remember, user_agent, ip)
    return token


def _insert(cur: Cursor, user_id: int, token: str, remember: bool, user_agent: str | None, ip: str | None) -> None:
    cur.execute(
        """DELETE FROM user_sessions
           WHERE user_id = %s AND (expires_at < now() OR revoked_at < now() - interval '30 days')""",
        (user_id,),
    )
    cur.execute(
        """INSERT INTO user_sessions (user_id, user_version, token_hash, remember, expires_at, user_agent,
                                      created_ip, last_ip)
           SELECT id, session_version, %s, %s, now() + %s, %s, %s, %s FROM users WHERE id = %s""",
        (
            _hash(token),
            remember,
            _lifetime(remember),
            (user_agent or "")[:_USER_AGENT_MAX] or None,
            (ip or "")[:_IP_MAX] or None,
            (ip or "")[:_IP_MAX] or None,
            user_id,
        ),
    )


def load(cur: Cursor, token: str) -> dict[str, Any] | None:
    """The user of a live session, with the session's id, remember flag,
    last_seen_at and last_ip; None when the token is unknown, revoked or
    expired. One statement, prepared: the user loader runs it on every request."""
    _LOAD.execute(cur, (_hash(token),))
    return cur.fetchone()


def needs_touch(row: dict[str, Any], ip: str | None, now: dt.datetime) -> bool:
    return row["session_last_ip"] != (ip or "")[:_IP_MAX] or now - row["session_last_seen_at"] > TOUCH_INTERVAL


def touch(cur: Cursor, session_id: int, remember: bool, ip: str | None) -> None:
    """Record use: last seen, last address, and slide the idle expiry."""
    cur.execute(
        """UPDATE user_sessions SET last_seen_at = now(), last_ip = %s,
                  expires_at = greatest(expires_at, now() + %s)
           WHERE id = %s AND revoked_at IS NULL""",
        ((ip or "")[:_IP_MAX] or None, _lifetime(remember), session_id),
    )


def revoke(cur: Cursor, token: str) -> None:
    """End the session that carries ``token`` (logout)."""
    cur.execute(
        "UPDATE user_sessions SET revoked_at = now() WHERE token_hash = %s AND revoked_at IS NULL", (_hash(token),)
    )


def revoke_all(cur: Cursor, user_id: int) -> int:
    """End every session of ``user_id`` in the caller's transaction; how many."""
    cur.execute("UPDATE user_sessions SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL", (user_id,))
    return cur.rowcount


def end_all(cur: Cursor, user: dict[str, Any], *, ip: str | None) -> int:
    """ "Log out everywhere": every session and remember-me cookie of the user."""
    ended = revoke_all(cur, user["id"])
    audit.record(
        cur,
        "user.sessions_ended",
        actor_id=user["id"],
        actor_email=user["email"],
        target_type="user",
        target_id=user["id"],
        details={"sessions": ended},
        ip_address=ip,
    )
    return ended


def end_one(cur: Cursor, user: dict[str, Any], session_id: int, *, ip: str | None) -> bool:
    """End one live session of the user (the "End" button); False when the
    user has no live session with that id."""
    cur.execute(
        f"""UPDATE user_sessions s SET revoked_at = now() FROM users u
            WHERE u.id = s.user_id AND s.id = %s AND s.user_id = %s AND {_LIVE} RETURNING s.id""",
        (session_id, user["id"]),
    )
    if cur.fetchone() is None:
        return False
    audit.record(
        cur,
        "user.session_ended",
        actor_id=user["id"],
        actor_email=user["email"],
        target_type="user_session",
        target_id=session_id,
        ip_address=ip,
    )
    return True


def list_live(cur: Cursor, user_id: int) -> list[dict[str, Any]]:
    """The user's live sessions, most recently used first."""
    cur.execute(
        f"""SELECT s.id, s.remember, s.created_at, s.last_seen_at, s.user_agent, s.created_ip, s.last_ip
            FROM user_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.user_id = %s AND {_LIVE}
            ORDER BY s.last_seen_at DESC, s.id DESC""",
        (user_id,),
    )
    return cur.fetchall()
