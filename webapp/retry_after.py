"""``Retry-After`` only where it means something: on 429 and 503.

Flask-Limiter, with its headers on, stamps ``Retry-After`` on every
response it counted, 200s included, and on a 503 it replaces ours with the
rate-limit window's reset (up to a minute) when that is later. So the
limiter writes its value under another name, and this hook (run after the
limiter's) keeps our own header on a 503, the limiter's on its 429, and
none anywhere else.
"""

from __future__ import annotations

from flask import Flask

LIMITER_HEADER = "X-RateLimit-Retry-After"  # RATELIMIT_HEADER_RETRY_AFTER
REFUSALS = (429, 503)


def init_retry_after(app: Flask) -> None:
    """Call before ``limiter.init_app``: Flask runs after-request hooks in
    reverse order of registration, so this one then sees the limiter's."""
    app.config["RATELIMIT_HEADER_RETRY_AFTER"] = LIMITER_HEADER
    app.after_request(_only_on_refusals)


def _only_on_refusals(response):
    limiter_value = response.headers.pop(LIMITER_HEADER, None)
    if response.status_code not in REFUSALS:
        response.headers.pop("Retry-After", None)
    elif "Retry-After" not in response.headers and limiter_value is not None:
        response.headers["Retry-After"] = limiter_value
    return response
