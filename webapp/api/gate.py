"""Who is calling the API, and the CSRF rule that follows from it.

A request under /api/ is authenticated by exactly one of:

- ``Authorization: Bearer <token>``: a JWT access token or a personal API
  token (webapp/api/bearer.py). When the header is there it alone decides:
  the session cookie is ignored, and a bad token is 401 at once, with its
  code, before the rate limiter or any view runs. Such a request needs no
  CSRF token: a browser never adds the header by itself, so another site
  cannot forge it.
- the session cookie, as for pages. A cookie rides along with any cross-site
  request, so a cookie-authenticated write needs the CSRF token
  (``X-CSRFToken`` header), exactly as an htmx request does. An anonymous
  request (the token endpoint) needs none: it has no authority to abuse.

The bearer user is set as Flask-Login's user of this request, so views,
access checks and the limiter's keys read ``current_user`` as pages do.
Flask-Login's request_loader cannot do this: it runs only when the cookie
yields no user (a browser's cookie would win over the header), and when a
remember-me cookie is present it is never called at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask_login import current_user

from webapp.api.errors import ApiError
from webapp.extensions import csrf, login_manager

API_PREFIX = "/api/"
# The scheme that makes a client send credentials when a 401 invites it.
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}

_F = TypeVar("_F", bound=Callable[..., Any])


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def bearer_authenticated() -> bool:
    """True when this request's user came from its Authorization header."""
    return bool(g.get("api_credential"))


def public(view: _F) -> _F:
    """Mark an API view that needs no login (the token endpoint, say)."""
    view.api_public = True  # type: ignore[attr-defined]
    return view


def init_gate(app: Flask) -> None:
    """Bind the hooks. The bearer hook must be registered before the
    limiter's (its keys need the user); the CSRF hook replaces Flask-WTF's
    default one, which cannot tell a bearer request from a cookie one."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(_authenticate_bearer)
    app.before_request(_check_csrf)


def _authenticate_bearer() -> None:
    header = request.headers.get("Authorization")
    if header is None or not is_api_request():
        return
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("invalid_token", "The Authorization header must be 'Bearer <token>'.")
    from webapp.api.bearer import authenticate

    user, credential = authenticate(token.strip())
    g.api_credential = credential
    # Flask-Login's own per-request slot: current_user is this user until
    # the request ends, and nothing is written to the session cookie.
    login_manager._update_request_context_with_user(user)


def _check_csrf() -> None:
    """Pages: always, as Flask-WTF would. The API: only when the session
    cookie logs someone in; a bearer request, or an anonymous one (the
    token endpoint), carries no ambient authority a forged request could use."""
    if not current_app.config["WTF_CSRF_ENABLED"] or bearer_authenticated():
        return
    if is_api_request() and not current_user.is_authenticated:
        return
    csrf.protect(apply_exemptions=True)


def require_login() -> None:
    """The API blueprint's guard: 401 JSON (never a redirect to /login)
    unless the view is public or someone is logged in."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "api_public", False):
        return
    if not current_user.is_authenticated:
        raise unauthorized("authentication_required", "Send 'Authorization: Bearer <token>' or log in.")


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers=dict(CHALLENGE))
