"""The logged-in user as Flask-Login sees it, and safe redirects."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from flask import g, request, session
from flask_login import UserMixin

from reliability.db import read, transaction
from webapp.accounts import sessions


class User(UserMixin):
    """A read-only view of a users row, logged in through one server-side
    session (webapp/accounts/sessions.py). Flask-Login keeps ``get_id()`` in
    the session cookie and the remember-me cookie: it is the session's
    random token, so ending the session row makes both cookies useless."""

    def __init__(self, row: dict[str, Any], token: str):
        self.id = row["id"]
        self.email = row["email"]
        self.role = row["role"]
        self.created_at = row.get("created_at")
        self.last_login_at = row.get("last_login_at")
        self.session_token = token
        self.session_id = row.get("session_id")
        self.session_remember = bool(row.get("session_remember"))

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        return self.session_token


def load_user(token: str) -> User | None:
    """Flask-Login's user_loader: None for a malformed, unknown, revoked or
    expired session token (the browser then sees the login page)."""
    if not token or len(token) > 100:
        return None
    # Flask-Login calls this again on every current_user access while no user
    # is loaded: the rate-limit key, the view and the error page each asked,
    # so with the database down one request paid the retries about nine
    # times (20-30 s for a 503 page). Fail once per request instead.
    failure = g.get("_user_load_failure")
    if failure is not None:
        raise failure
    try:
        row = read(sessions.load, token)
    except Exception as exc:
        g._user_load_failure = exc
        raise
    if row is None:
        return None
    if sessions.needs_touch(row, request.remote_addr, dt.datetime.now(dt.UTC)):
        with transaction() as cur:
            sessions.touch(cur, row["session_id"], row["session_remember"], request.remote_addr)
        # The row's expiry slid: send the cookie again so its expiry slides too
        # (it is not re-signed on other requests: SESSION_REFRESH_EACH_REQUEST off).
        session.modified = True
    return User(row, token)


def safe_next_url(target: str | None, default: str) -> str:
    """Only same-site relative paths are followed after login: no scheme, no
    host, no protocol-relative ``//host`` and no backslash tricks."""
    if not target:
        return default
    target = target.strip()
    if any(ch in target for ch in "\\\r\n\t") or not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
