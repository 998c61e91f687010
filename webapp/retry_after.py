"""Rate-limit headers only where a client needs them, and ``Retry-After``
only where it means something: on 429 and 503.

Flask-Limiter's own headers are off (webapp/security.py): with them on it
reads the window back from Redis after every counted request (a second Lua
call, about half a millisecond a page) to write headers no browser reads.
So the pages carry them only on a 429, where they say when to come back;
the JSON API writes its own on every answer (webapp/api/limits.py), since a
script paces itself by them. On a 503 our own ``Retry-After`` stands. The
policy (which requests count, which carry headers) is in docs/security.md,
"Rate limits".
"""

from __future__ import annotations

import time

from flask import Flask, Response

from webapp.default_limit import refusal_headers
from webapp.extensions import limiter

REFUSALS = (429, 503)


def init_retry_after(app: Flask) -> None:
    """Call before ``limiter.init_app``: Flask runs after-request hooks in
    reverse order of registration, so this one sees the limiter's work."""
    app.after_request(_only_on_refusals)


def _only_on_refusals(response: Response) -> Response:
    if response.status_code not in REFUSALS:
        response.headers.pop("Retry-After", None)
    elif response.status_code == 429:
        _limit_headers(response)
    return response


def _limit_headers(response: Response) -> None:
    """The breached limit's numbers; Retry-After unless the refusal set its
    own (a per-account login delay says how long)."""
    if refusal_headers(response):  # the pages' default limit (webapp/default_limit.py)
        return
    current = limiter.current_limit
    if current is None:
        return
    try:
        reset_at = current.reset_at
    except Exception:  # the storage is down: the limiter counted in memory or not at all
        return
    response.headers["X-RateLimit-Limit"] = str(current.limit.amount)
    response.headers["X-RateLimit-Remaining"] = "0"
    response.headers["X-RateLimit-Reset"] = str(reset_at)
    # Flask-Limiter's own reckoning, as when its headers were on.
    response.headers.setdefault("Retry-After", str(max(1, int(reset_at - time.time()))))
