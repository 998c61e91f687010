"""The pages' default limit: DEFAULT_RATE_LIMIT per user and route, counted
in fixed windows (webapp/fixed_window.py), one Redis call a request.

Flask-Limiter keeps every limit a view declares: login, registration and
password recovery per address, connecting a channel, the demo channel, the
export, the API's token endpoint. Those guard passwords and costly work,
so they keep its moving window, which no window edge lets double. Every
other route (the channel page, the review screens, every write that has no
limit of its own) is counted here instead: Flask-Limiter's machinery cost
about 0.3 ms of Python on each of them, a fifth of a cached page, to
resolve the same one default limit again and again. The JSON API counts
its own requests (webapp/api/limits.py). Which requests are counted at all
is unchanged: docs/security.md, "Rate limits".

Which routes are left to Flask-Limiter is read from its own registry (the
limits its decorators registered, its exemptions), the way its `flask
limiter limits` command reads it, once per endpoint and app. Its
before-request check is then called for those routes only.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request
from flask_limiter import ExemptionScope
from flask_limiter.util import get_qualified_name
from flask_login import current_user

from reliability.errors import AppError
from webapp.api.gate import is_api_request
from webapp.extensions import limiter, rate_limit_key
from webapp.fixed_window import REFUSAL_MESSAGE, Window, counter, limit_items, write_headers

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_ROUTES = "default_limit_routes"  # app.extensions: endpoint -> who counts it
# Who counts an endpoint's requests: this module, the API's (webapp/api/limits.py), Flask-Limiter.
_DEFAULT, _API, _FLASK_LIMITERS = "default", "api", "flask-limiter"


class DefaultLimitExceeded(AppError):
    code = "rate_limited"
    status = 429
    message = REFUSAL_MESSAGE


def init_default_limit(app: Flask) -> None:
    """Call right after ``limiter.init_app(app)``: Flask-Limiter's
    before-request check is replaced by one that sends each request to its
    counter, so on a route counted here none of Flask-Limiter's machinery
    runs (even with a request filter, its check cost about 5 % of a cached
    page's samples under load: it names the view, scans the exemptions and
    evaluates an empty list). Its decorators still count the routes that declare a limit."""
    if not app.config.get("RATELIMIT_ENABLED", True):
        return  # Flask-Limiter was not bound either: nothing is counted
    hooks = app.before_request_funcs.setdefault(None, [])
    flask_limiters = limiter._check_request_limit
    if flask_limiters not in hooks:  # bound before this, or an upgrade changed how it hooks in
        raise RuntimeError("Flask-Limiter's before-request check is not registered on this app")
    hooks[hooks.index(flask_limiters)] = _limit_request


def _limit_request() -> None:
    kind = _route_kind(request.endpoint) if request.endpoint else _FLASK_LIMITERS
    if kind == _DEFAULT:
        count_default()
    elif kind == _FLASK_LIMITERS:
        limiter._check_request_limit()
    # _API: counted by the API blueprint's own hook


def left_to_flask_limiter(app: Flask, endpoint: str) -> bool:
    """Whether Flask-Limiter decides this endpoint's requests: it declares a
    limit of its own (its view's or its blueprint's), or is exempt from
    some. Static files are nobody's."""
    view = app.view_functions.get(endpoint)
    if view is None or endpoint.rsplit(".", 1)[-1] == "static":
        return True
    name = get_qualified_name(view)
    manager = limiter.limit_manager
    blueprint = endpoint.rpartition(".")[0] or None
    return bool(
        name in limiter._marked_for_limiting
        or manager.has_hints(endpoint)
        or manager.decorated_limits(name)
        or (blueprint and manager.blueprint_limits(app, blueprint))
        or manager.exemption_scope(app, endpoint, blueprint) != ExemptionScope.NONE
    )


def _route_kind(endpoint: str) -> str:
    """Who counts this endpoint's requests, worked out once per app."""
    kinds: dict[str, str] = current_app.extensions.setdefault(_ROUTES, {})
    kind = kinds.get(endpoint)
    if kind is None:
        if left_to_flask_limiter(current_app, endpoint):
            kind = _FLASK_LIMITERS
        else:  # every rule of an endpoint is under one prefix
            kind = _API if is_api_request() else _DEFAULT  # the API counts its own (webapp/api/limits.py)
        kinds[endpoint] = kind
    return kind


def count_default() -> None:
    """Count a logged-in request, or an anonymous write, in each of
    DEFAULT_RATE_LIMIT's windows: 429 at the first breached one.
    Anonymous reads are not counted (docs/security.md says why)."""
    config = current_app.config
    if request.method in _READS and not current_user.is_authenticated:
        return
    count = counter(current_app)
    scope = (config["RATELIMIT_KEY_PREFIX"], rate_limit_key(), request.endpoint or "")
    for item in limit_items(str(config["DEFAULT_RATE_LIMIT"])):
        window = count.hit(item, *scope)
        if window.breached:
            g.default_limit_window = window
            raise DefaultLimitExceeded()


def refusal_headers(response: Response) -> bool:
    """On this module's 429: the breached window's numbers. False when the
    refusal was not this module's."""
    window: Window | None = g.get("default_limit_window")
    if window is None:
        return False
    write_headers(response, window.item.amount, 0, window.reset_at)
    return True
