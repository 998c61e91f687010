"""The API's rate limits and their headers, for one Redis call a request.

Every API endpoint is limited on its own by API_RATE_LIMIT, per token: a
personal token, or one API login (its access tokens, whatever refresh made
them), so one script cannot starve another script of the same account;
cookie callers count per user, anonymous ones (the refresh endpoint) per
address. `batch` adds the tighter API_BATCH_RATE_LIMIT to the batch
endpoint. The token endpoint is counted by the login page's per-address
limit (Flask-Limiter's `password_guess_limit`, webapp/accounts/routes.py)
and its per-account delays instead (`login_limited`).

Why not Flask-Limiter, which the pages keep: its moving window answers a
hit with a yes or a no, so the X-RateLimit-* headers a script paces itself
by cost a second Lua call reading the window back, and its machinery
another ~0.3 ms of Python a request. Here the `limits` library under it
counts in fixed windows that start on the clock (a per-minute limit's window
is a calendar minute): one call, limits' own INCR-and-EXPIRE script, returns
the count, so what remains (limit - count) and when the window resets (its
end) are known without asking again. The price of a fixed window: a client
may spend up to twice its limit across a window's edge (the last seconds of
one minute and the first of the next). These limits pace scripts, they do
not guard passwords (the token endpoint's do), and GitHub's API counts the
same way.

While Redis is down, each process counts in its own memory, as
Flask-Limiter does for the pages, and tries Redis again after
REDIS_RETRY_S.

Headers, on every API response that was counted: X-RateLimit-Limit,
X-RateLimit-Remaining, X-RateLimit-Reset (epoch seconds), and Retry-After
(seconds) on a 429.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_login import current_user
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage

from webapp.api.errors import ApiError
from webapp.extensions import client_address_key, limiter

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
# How long a process counts in memory after Redis failed, before trying it again.
REDIS_RETRY_S = 5.0
_EXTRA_LIMITS = "api_extra_limits"  # a view's own limits on top of API_RATE_LIMIT (settings' names)
_LOGIN_LIMITED = "api_login_limited"

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Window:
    """One limit's fixed window after this request was counted in it."""

    item: RateLimitItem
    count: int
    reset_at: int  # epoch seconds: the window's end

    @property
    def remaining(self) -> int:
        return max(self.item.amount - self.count, 0)

    @property
    def breached(self) -> bool:
        return self.count > self.item.amount


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
    Flask-Limiter is told to leave the API's requests alone (a request
    filter short-cuts it before it resolves any limit), except the views
    that keep a limit of its (the token endpoint)."""
    app.after_request(_rate_limit_headers)
    if _left_to_this_module not in limiter._request_filters:
        limiter.request_filter(_left_to_this_module)


def _left_to_this_module() -> bool:
    if not request.path.startswith(API_PREFIX):
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return not getattr(view, _LOGIN_LIMITED, False)


def count_request() -> None:
    """Count the request in each of its endpoint's limits, the tightest
    first, stopping at a breach: 429 with the breached limit's numbers."""
    view = current_app.view_functions.get(request.endpoint or "")
    config = current_app.config
    if view is None or getattr(view, _LOGIN_LIMITED, False) or not config.get("RATELIMIT_ENABLED", True):
        return  # RATELIMIT_ENABLED: Flask-Limiter's switch turns these off too
    names = (*getattr(view, _EXTRA_LIMITS, ()), "API_RATE_LIMIT")
    counter = _counter(current_app)
    scope = (config["RATELIMIT_KEY_PREFIX"], api_key(), request.endpoint or "")
    windows = []
    for item in (item for name in names for item in _items(str(config[name]))):
        window = counter.hit(item, *scope)
        windows.append(window)
        if window.breached:
            g.api_limit_window = window
            raise ApiError(
                429,
                "rate_limited",
                "Too many attempts. Please wait a little and try again.",
                details={"limit": str(window.item)},
            )
    # The headers tell of the limit the client will meet first.
    g.api_limit_window = min(windows, key=lambda w: w.remaining)


@lru_cache(maxsize=32)
def _items(text: str) -> tuple[RateLimitItem, ...]:
    """ "5 per minute; 50 per day": each of its limits."""
    return tuple(parse_many(text))


class Counter:
    """Fixed-window counts in Redis, or in this process's memory for
    REDIS_RETRY_S after Redis failed."""

    def __init__(self, storage_uri: str, options: dict[str, Any]):
        self._redis = RedisStorage(storage_uri, wrap_exceptions=True, **options)
        self._memory: Storage | None = None  # made on first need: it runs a timer thread
        self._redis_down_until = 0.0

    def hit(self, item: RateLimitItem, *scope: str) -> Window:
        now = time.time()
        expiry = item.get_expiry()
        start = int(now // expiry) * expiry
        key = item.key_for(*scope, str(start))
        return Window(item, self._incr(key, expiry, now), start + expiry)

    def _incr(self, key: str, expiry: int, now: float) -> int:
        if now >= self._redis_down_until:
            try:
                return self._redis.incr(key, expiry)
            except StorageError:
                log.warning("API rate limit storage unreachable: counting in memory for %.0f s", REDIS_RETRY_S)
                self._redis_down_until = now + REDIS_RETRY_S
        if self._memory is None:
            self._memory = MemoryStorage()
        return self._memory.incr(key, expiry)


def _counter(app: Flask) -> Counter:
    counter = app.extensions.get("api_limits")
    if counter is None:
        # Made on the first request: the limiter's storage settings are set
        # after this module's hooks, and nothing connects before a fork.
        counter = Counter(app.config["RATELIMIT_STORAGE_URI"], app.config["RATELIMIT_STORAGE_OPTIONS"])
        counter = app.extensions.setdefault("api_limits", counter)
    return counter


def _rate_limit_headers(response: Response) -> Response:
    if not request.path.startswith(API_PREFIX):
        return response
    window: Window | None = g.get("api_limit_window")
    if window is not None:
        _write_headers(response, window.item.amount, window.remaining, window.reset_at)
        return response
    current = limiter.current_limit  # the token endpoint's, counted by Flask-Limiter
    if current is None:
        return response
    try:
        reset_at, remaining = current.reset_at, current.remaining
    except Exception:  # the storage is down: the limiter counted in memory or not at all
        return response
    _write_headers(response, current.limit.amount, max(remaining, 0), reset_at)
    return response


def _write_headers(response: Response, limit: int, remaining: int, reset_at: int) -> None:
    response.headers["X-RateLimit-Limit"] = str(limit)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Reset"] = str(reset_at)
    if response.status_code == 429 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
