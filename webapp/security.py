"""Security headers, CSP, cookies, proxies and rate limits.

The CSP allows scripts only from ourselves and the CDN (each pinned with
SRI in base.html) plus inline scripts that carry this response's nonce; no
'unsafe-inline', no 'unsafe-eval' (htmx runs with allowEval off).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.default_limit import init_default_limit
from webapp.extensions import limiter, talisman
from webapp.retry_after import init_retry_after

CDN = "https://cdn.jsdelivr.net"

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": ["'self'", CDN],
    "style-src": ["'self'", CDN],
    # Video thumbnails and channel avatars come from YouTube's image hosts.
    "img-src": ["'self'", "data:", "https://i.ytimg.com", "https://yt3.ggpht.com"],
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

PERMISSIONS_POLICY = {"geolocation": "()", "microphone": "()", "camera": "()", "interest-cohort": "()"}


def content_security_policy(config: Mapping[str, Any]) -> dict[str, Any]:
    """The policy above, with Google's consent page added to form-action:
    Connect is a form POST answered by a redirect to Google, and browsers
    apply form-action to that redirect too (Chromium blocked it)."""
    authorize = urlsplit(config.get("GOOGLE_OAUTH_AUTHORIZE_URL") or "")
    if not authorize.scheme or not authorize.netloc:
        return CONTENT_SECURITY_POLICY
    return {**CONTENT_SECURITY_POLICY, "form-action": ["'self'", f"{authorize.scheme}://{authorize.netloc}"]}


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, with its signing serializer made once
    per secret key rather than twice a request (open and save): each one
    made serialises a probe value to learn that it writes text, about 2% of
    a cached page's Python. The serializer keeps no state between calls."""

    def __init__(self) -> None:
        self._made: tuple[object, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        made = self._made
        if made is not None and made[0] == keys:
            return made[1]
        serializer = super().get_signing_serializer(app)
        self._made = (keys, serializer)
        return serializer


def init_security(app: Flask) -> None:
    production_like = app.config["ENVIRONMENT"] in ("production", "staging")
    app.session_interface = SessionCookies()
    if app.config["TRUSTED_PROXY_COUNT"]:
        hops = app.config["TRUSTED_PROXY_COUNT"]
        # Flask documents wrapping wsgi_app in middleware; its types declare wsgi_app a method.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops
        )
    app.config.update(
        SESSION_COOKIE_NAME="yco_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=production_like,
        # The session cookie is re-signed only when the session changes, or
        # when the server-side session is touched (webapp/accounts/identity.py,
        # every few minutes), which slides the cookie's expiry with the row's:
        # re-signing it on every request cost 0.15-0.2 ms a page.
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_HEADERS=["X-CSRFToken", "X-CSRF-Token"],
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=True,
    )
    talisman.init_app(
        app,
        force_https=production_like,
        # 301, not 302: browsers and crawlers remember it, so the next visit
        # asks for HTTPS first (and HSTS, sent over HTTPS, makes it binding).
        force_https_permanent=True,
        strict_transport_security=True,
        strict_transport_security_max_age=31536000,
        content_security_policy=content_security_policy(app.config),
        content_security_policy_nonce_in=["script-src"],
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        permissions_policy=PERMISSIONS_POLICY,
        session_cookie_secure=production_like,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
    )
    _init_limiter(app)


def _init_limiter(app: Flask) -> None:
    app.config.update(
        RATELIMIT_STORAGE_URI=_limits_storage_uri(app.config["REDIS_URL"]),
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        RATELIMIT_STRATEGY="moving-window",
        # Off: the headers cost a second Redis call per counted request; the
        # pages add them on a 429, the API on every answer (webapp/retry_after.py).
        RATELIMIT_HEADERS_ENABLED=False,
        # A Redis outage must not turn every page into a 500: count in
        # memory until Redis answers again.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_DEFAULT=_default_limit,
        RATELIMIT_KEY_PREFIX="yco",
    )
    init_retry_after(app)  # before the limiter: its hook then runs after the limiter's
    limiter.init_app(app)
    init_default_limit(app)  # every route without a limit of its own
    if _anonymous_read not in limiter._request_filters:
        # A request filter short-cuts the limiter before it resolves any
        # limit (half a millisecond of Python on every page otherwise).
        limiter.request_filter(_anonymous_read)


def _default_limit() -> str:
    """Read per request: the limiter is one object per process and keeps the
    default limits of the first app bound to it, so a second app (tests
    build several) silently ran with the first one's DEFAULT_RATE_LIMIT."""
    from flask import current_app

    return current_app.config["DEFAULT_RATE_LIMIT"]


def _anonymous_read() -> bool:
    """Logged-out visitors can only read the login and registration forms:
    cheap pages with no database work. Counting each view in Redis would
    cost more than the page; their POSTs keep their own tight limits. (No
    anonymous GET has a limit of its own, so nothing else is skipped.) A
    flood of anonymous GETs is the reverse proxy's to limit, before Python:
    docs/security.md, "Findings of the penetration test"."""
    from flask import request
    from flask_login import current_user

    return request.method in ("GET", "HEAD", "OPTIONS") and not current_user.is_authenticated


def _limits_storage_uri(redis_url: str) -> str:
    """The `limits` library names a Unix-socket Redis ``redis+unix://``."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://") :]
    return redis_url
