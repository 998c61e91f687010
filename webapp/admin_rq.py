"""The RQ dashboard at /admin/rq, for admins only.

rq-dashboard is a well-kept blueprint but was written for a trusted
network: its pages use inline scripts and client-side templates (which need
'unsafe-eval'), and its POST routes (delete, requeue, empty) carry no CSRF
token. So here it gets:
- a guard that answers 404 to anyone but a logged-in admin;
- a same-origin check on its POSTs in place of the CSRF token (our session
  cookie is SameSite=Lax, so a cross-site POST is anonymous anyway);
- a CSP of its own, looser only for these pages.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, abort, request
from flask_login import current_user

from webapp.extensions import csrf

URL_PREFIX = "/admin/rq"

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
    app.before_request(_guard)


def _with_own_csp(view):
    """Talisman reads per-view options from an attribute of the view; wrap
    the view so that the shared blueprint's functions are left untouched."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        return view(*args, **kwargs)

    wrapped.talisman_view_options = {
        "content_security_policy": RQ_DASHBOARD_CSP,
        "content_security_policy_nonce_in": [],
    }
    return wrapped


def _guard():
    if request.blueprint != "rq_dashboard":
        return None
    if not (current_user.is_authenticated and current_user.is_admin):
        abort(404)
    if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin():
        abort(403)
    return None


def _same_origin() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    parts = urlsplit(source)
    return parts.netloc == request.host and parts.scheme == request.scheme
