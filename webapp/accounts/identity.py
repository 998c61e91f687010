"""The logged-in user as Flask-Login sees it, and safe redirects."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import g
from flask_login import UserMixin

from webapp.accounts import store


class User(UserMixin):
    """A read-only view of a users row. The session id includes the
    session_version, so a password change logs out every other session."""

    def __init__(self, row: dict[str, Any]):
        self.id = row["id"]
        self.email = row["email"]
        self.role = row["role"]
        self.session_version = row["session_version"]
        self.created_at = row.get("created_at")
        self.last_login_at = row.get("last_login_at")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


def load_user(session_id: str) -> User | None:
    """Flask-Login's user_loader: None for a malformed id, a deleted user or
    a stale session version."""
    user_part, _, version_part = (session_id or "").partition(":")
    if not (user_part.isdigit() and version_part.isdigit()):
        return None
    # Flask-Login calls this again on every current_user access while no user
    # is loaded: the rate-limit key, the view and the error page each asked,
    # so with the database down one request paid the retries about nine
    # times (20-30 s for a 503 page). Fail once per request instead.
    failure = g.get("_user_load_failure")
    if failure is not None:
        raise failure
    try:
        row = store.get_user(int(user_part))
    except Exception as exc:
        g._user_load_failure = exc
        raise
    if row is None or row["session_version"] != int(version_part):
        return None
    return User(row)


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
