"""The RQ dashboard at /admin/rq, for admins only.

rq-dashboard is a well-kept blueprint but was written for a trusted
network: its pages use inline scripts and client-side templates (which need
'unsafe-eval'), its POST routes (delete, requeue, empty, compact) carry no
CSRF token, and "requeue all" also answers GET. So here it gets:
- a guard on every URL under the prefix (not only the blueprint's routes,
  so a redirect or a 405 of the router is no hint either) that answers 404
  to anyone but a logged-in admin;
- no cross-site request at all (Sec-Fetch-Site), no GET to a route that
  changes state, and a same-origin check on POSTs in place of the CSRF token;
- a CSP of its own, looser only for these pages;
- compact on an empty queue is a no-op instead of a 500.
"""

from __future__ import annotations

from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, jsonify, request
from flask.typing import RouteCallable
from flask_login import current_user
from redis.exceptions import ResponseError
from werkzeug.exceptions import MethodNotAllowed

from reliability.errors import PermissionDenied
from webapp.errors import page_not_found
from webapp.extensions import csrf

URL_PREFIX = "/admin/rq"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Sec-Fetch-Site values a dashboard request may carry: our own pages, or the
# admin typing the URL / opening a bookmark. "same-site" (a sibling
# subdomain) and "cross-site" are refused.
ALLOWED_FETCH_SITES = ("same-origin", "none")

RQ_DASHBOARD_CSP = {
    "default-src": "'self'",
    "script-src": ["'self'", "'unsafe-inline'", "'unsafe-eval'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def init_rq_dashboard(app: Flask) -> None:
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    app.config["RQ_DASHBOARD_REDIS_URL"] = app.config["REDIS_URL"]
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=URL_PREFIX)
    setup_rq_connection(app)  # builds the client; connects on first use
    csrf.exempt(rq_dashboard.blueprint)
    for endpoint in [e for e in app.view_functions if e.startswith("rq_dashboard.")]:
        app.view_functions[endpoint] = _with_own_csp(app.view_functions[endpoint])
    compact = "rq_dashboard.compact_queue"
    app.view_functions[compact] = _empty_queue_compacts_to_nothing(app.view_functions[compact])
    app.before_request(_guard)


def _with_own_csp(view: RouteCallable) -> RouteCallable:
    """Talisman reads per-view options from an attribute of the view; wrap
    the view so that the shared blueprint's functions are left untouched."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:  # whatever the wrapped view answers
        return view(*args, **kwargs)

    # Through __dict__: a function's type declares no such attribute, Talisman reads it anyway.
    wrapped.__dict__["talisman_view_options"] = {
        "content_security_policy": RQ_DASHBOARD_CSP,
        "content_security_policy_nonce_in": [],
    }
    return wrapped


def _empty_queue_compacts_to_nothing(view: RouteCallable) -> RouteCallable:
    """RQ's Queue.compact() renames the queue's list, and Redis refuses to
    rename a key that does not exist, which is what an empty queue is."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:  # whatever the wrapped view answers
        try:
            return view(*args, **kwargs)
        except ResponseError as exc:
            if "no such key" not in str(exc).lower():
                raise
            return jsonify(status="OK"), {"Cache-Control": "no-store"}

    return wrapped


def _guard() -> None:
    """Runs before routing errors are raised (Flask dispatches them after
    the before_request functions), so it covers redirects and 405s too."""
    if request.path != URL_PREFIX and not request.path.startswith(URL_PREFIX + "/"):
        return None
    if not (current_user.is_authenticated and current_user.is_admin):
        raise page_not_found()
    if request.headers.get("Sec-Fetch-Site", "none") not in ALLOWED_FETCH_SITES:
        raise PermissionDenied()
    rule = request.url_rule
    if rule is not None and "POST" in (rule.methods or ()) and request.method != "POST":
        # "requeue all" also answers GET upstream: a link could trigger it.
        raise MethodNotAllowed(valid_methods=["POST"])
    if request.method not in SAFE_METHODS and not _same_origin():
        raise PermissionDenied()
    _known_instance_or_404()
    return None


def _known_instance_or_404() -> None:
    """The dashboard raises LookupError (a 500) for an instance number past
    its list of Redis URLs; there is only one here."""
    number = (request.view_args or {}).get("instance_number")
    if number is not None and number >= len(current_app.config["RQ_DASHBOARD_REDIS_URL"]):
        raise page_not_found()


def _same_origin() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    parts = urlsplit(source)
    return parts.netloc == request.host and parts.scheme == request.scheme
