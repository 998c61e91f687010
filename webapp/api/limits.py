"""The API's rate limits and their headers, for one Redis call a request.

Every API endpoint is limited on its own by API_RATE_LIMIT, per token: a
personal token, or one API login (its access tokens, whatever refresh made
them), so one script cannot starve another script of the same account;
cookie callers count per user, anonymous ones (the refresh endpoint) per
address. `batch` adds the tighter API_BATCH_RATE_LIMIT to the batch
endpoint. The token endpoint is counted by the login page's per-address
limit (Flask-Limiter's `password_guess_limit`, webapp/accounts/routes.py)
and its per-account delays instead (`login_limited`).

Why not Flask-Limiter, which keeps the limits that guard passwords: the
X-RateLimit-* headers a script paces itself by would cost a second Redis
call with its moving window. These count in fixed windows instead
(webapp/fixed_window.py: one call a limit, and what a fixed window costs).
These limits pace scripts, they do not guard passwords (the token
endpoint's do), and GitHub's API counts the same way.

Headers, on every API response that was counted: X-RateLimit-Limit,
X-RateLimit-Remaining, X-RateLimit-Reset (epoch seconds), and Retry-After
(seconds) on a 429.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_login import current_user

from webapp.api.errors import ApiError
from webapp.api.gate import is_api_request
from webapp.extensions import client_address_key, limiter
from webapp.fixed_window import REFUSAL_MESSAGE, Window, counter, limit_items, write_headers

_EXTRA_LIMITS = "api_extra_limits"  # a view's own limits on top of API_RATE_LIMIT (settings' names)
_LOGIN_LIMITED = "api_login_limited"

_F = TypeVar("_F", bound=Callable[..., Any])


def api_key() -> str:
    """Who a request counts against: its token, else its user, else its address."""
    credential = g.get("api_credential")
    if credential:
        return f"api-token:{credential}"
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return client_address_key()


def batch(view: _F) -> _F:
    """The batch endpoint: API_BATCH_RATE_LIMIT on top of the API's own limit."""
    setattr(view, _EXTRA_LIMITS, ("API_BATCH_RATE_LIMIT",))
    return view


def login_limited(view: _F) -> _F:
    """A view counted by the login page's limits (Flask-Limiter), not by these."""
    setattr(view, _LOGIN_LIMITED, True)
    return view


def limit_blueprint(bp: Any) -> None:
    """Count every endpoint of ``bp`` (and its children) after its other
    before-request guards (so the login guard's 401 comes first)."""
    bp.before_request(count_request)


def init_limit_headers(app: Flask) -> None:
    """Register before the limiter is bound: after-request hooks run in
    reverse order, so this one sees the response last and its values stand.
    Flask-Limiter is not asked about the API's requests
    (webapp/default_limit.py), except the views that keep a limit of its
    (the token endpoint)."""
    app.after_request(_rate_limit_headers)


def count_request() -> None:
    """Count the request in each of its endpoint's limits, the tightest
    first, stopping at a breach: 429 with the breached limit's numbers."""
    view = current_app.view_functions.get(request.endpoint or "")
    config = current_app.config
    if view is None or getattr(view, _LOGIN_LIMITED, False) or not config.get("RATELIMIT_ENABLED", True):
        return  # RATELIMIT_ENABLED: Flask-Limiter's switch turns these off too
    names = (*getattr(view, _EXTRA_LIMITS, ()), "API_RATE_LIMIT")
    count = counter(current_app)
    scope = (config["RATELIMIT_KEY_PREFIX"], api_key(), request.endpoint or "")
    windows = []
    for item in (item for name in names for item in limit_items(str(config[name]))):
        window = count.hit(item, *scope)
        windows.append(window)
        if window.breached:
            g.api_limit_window = window
            raise ApiError(
                429,
                "rate_limited",
                REFUSAL_MESSAGE,
                details={"limit": str(window.item)},
            )
    # The headers tell of the limit the client will meet first.
    g.api_limit_window = min(windows, key=lambda w: w.remaining)


def _rate_limit_headers(response: Response) -> Response:
    if not is_api_request():
        return response
    window: Window | None = g.get("api_limit_window")
    if window is not None:
        write_headers(response, window.item.amount, window.remaining, window.reset_at)
        return response
    current = limiter.current_limit  # the token endpoint's, counted by Flask-Limiter
    if current is None:
        return response
    try:
        reset_at, remaining = current.reset_at, current.remaining
    except Exception:  # the storage is down: the limiter counted in memory or not at all
        return response
    write_headers(response, current.limit.amount, max(remaining, 0), reset_at)
    return response
