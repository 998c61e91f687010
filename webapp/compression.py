"""Response compression: gzip, or brotli where the client asks for it, for
responses over 1 KB, through Flask-Compress.

Never compressed:
- ``/metrics`` (Prometheus negotiates its own; a scrape must stay cheap for
  the process answering it);
- what is compressed already (images, fonts, archives: their types are not
  in ``COMPRESSED_TYPES``) or smaller than 1 KB, or not a 2xx;
- a response that carries a secret next to input the request chose
  (BREACH): a page holding the session's CSRF token when the request had a
  query string or was not a GET/HEAD, and any response whose view called
  :func:`keep_uncompressed` (a token shown once). Flask-WTF does not mask
  its token per response (the signed payload is the same for the whole
  session), so the token's length under compression could be probed by a
  page that varies reflected input; see docs/security.md, "Compression".

Flask-Compress's own after-request hook is not registered: ours decides
first, then calls it.
"""

from __future__ import annotations

from flask import Flask, Response, g, request
from flask_compress import Compress

MIN_SIZE = 1024
COMPRESSED_TYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/csv",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/problem+json",
    "application/xml",
    "image/svg+xml",
]
NEVER_ENDPOINTS = frozenset({"metrics.scrape"})
# Flask-WTF keeps the token it issued for this request in g under its field name.
CSRF_FIELD = "csrf_token"

compress = Compress()


def init_compression(app: Flask) -> None:
    """Call before the other after-request hooks are registered: Flask runs
    them in reverse, so compression then sees the finished response."""
    if not app.config["COMPRESSION_ENABLED"]:
        return
    app.config.update(
        COMPRESS_REGISTER=False,
        COMPRESS_MIMETYPES=COMPRESSED_TYPES,
        COMPRESS_MIN_SIZE=MIN_SIZE,
        # Brotli when the client offers it, else gzip; no zstd or deflate.
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_ALGORITHM_STREAMING=["br", "gzip"],
        # The fastest levels: the 45 KB channel page becomes 6.1 KB (brotli 1)
        # or 6.6 KB (gzip 1) in about 0.45 ms, where brotli 4 or gzip 6 (the
        # libraries' defaults) save another 1 KB for 1.2 to 2 ms, a fifth of
        # the page's own CPU (measured on the seeded 500-video page, 2026-12).
        COMPRESS_BR_LEVEL=1,
        COMPRESS_LEVEL=1,
    )
    compress.init_app(app)
    app.after_request(_compress)


def keep_uncompressed() -> None:
    """For a view whose response shows a secret (a token shown once, a
    recovery code): never compress it, whatever the request."""
    g.keep_uncompressed = True


def _compress(response: Response) -> Response:
    if request.endpoint in NEVER_ENDPOINTS or _secret_next_to_input():
        return response
    return compress.after_request(response)


def _secret_next_to_input() -> bool:
    if g.get("keep_uncompressed"):
        return True
    if CSRF_FIELD not in g:
        return False
    return bool(request.query_string) or request.method not in ("GET", "HEAD")
