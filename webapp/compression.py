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

A page kept rendered in the page cache (the channel page) is not
compressed again on every answer: :class:`GzipTemplate` deflates its fixed
parts once, and each answer is those blocks with the request's own values
(the CSRF token, a one-time key) put between them as stored blocks, in one
gzip member (RFC 1952; the joins are byte-aligned because each part ends
with a full flush, after which nothing refers back to it, RFC 1951). Such
a page goes out as gzip even to a client that also offers brotli: about 10
microseconds where Flask-Compress with brotli 1 costs about 0.1 ms in one
process with warm caches, and 0.2 to 0.45 ms of each answer under the
bench's load (the 40 KB seeded channel page, 2026-12), for 0.5 KB more.
The same rules decide whether it may be compressed at all.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, g, request
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
        # The fastest levels: the 40 KB channel page becomes 6.0 KB (brotli 1,
        # 0.05 ms) or 6.4 KB (gzip 1, 0.11 ms), where brotli 4 or gzip 6 (the
        # defaults) save another 0.7 to 0.9 KB for 0.3 to 0.4 ms (the
        # libraries alone, on the seeded 500-video page, in one process with
        # warm caches, 2026-12; under load each costs two to four times that).
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


def may_send_gzip() -> bool:
    """Whether this request's answer may go out gzip-compressed: compression
    on, the client accepts gzip, and no secret next to input (ask after the
    view has made its CSRF token)."""
    return (
        current_app.config["COMPRESSION_ENABLED"]
        and request.endpoint not in NEVER_ENDPOINTS
        and request.accept_encodings["gzip"] > 0
        and not _secret_next_to_input()
    )


def gzip_response(body: bytes, mimetype: str = "text/html") -> Response:
    """An answer whose body is a finished gzip member (GzipTemplate.fill)."""
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    return response


# The gzip member's header: no name, no time, "unknown" OS (RFC 1952, 2.3).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# The last deflate block: empty, final, fixed Huffman codes.
_FINAL_BLOCK = b"\x03\x00"
_STORED_MAX = 0xFFFF


class GzipTemplate:
    """``text`` with placeholders (``slots``), its fixed parts deflated once:
    :meth:`fill` gives the gzip member of the text with each placeholder
    replaced, without compressing the text again."""

    def __init__(self, text: str, slots: tuple[str, ...]):
        pattern = re.compile("|".join(re.escape(slot) for slot in slots))
        # One compressor, fully flushed after each part: a part's blocks then
        # start byte-aligned and never refer to an earlier part.
        deflate = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._parts: list[tuple[bytes, bytes] | str] = []
        at = 0
        for match in pattern.finditer(text):
            self._add_fixed(deflate, text[at : match.start()])
            self._parts.append(match.group())
            at = match.end()
        self._add_fixed(deflate, text[at:])

    def _add_fixed(self, deflate: Any, text: str) -> None:
        if text:
            raw = text.encode()
            self._parts.append((raw, deflate.compress(raw) + deflate.flush(zlib.Z_FULL_FLUSH)))

    def fill(self, values: Mapping[str, str]) -> bytes:
        """The gzip member of the text with ``values[slot]`` in each slot."""
        out = [_GZIP_HEADER]
        crc = size = 0
        for part in self._parts:
            if isinstance(part, str):
                raw = values[part].encode()
                out.append(_stored_blocks(raw))
            else:
                raw, deflated = part
                out.append(deflated)
            crc = zlib.crc32(raw, crc)
            size += len(raw)
        out.append(_FINAL_BLOCK)
        out.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
        return b"".join(out)


def _stored_blocks(raw: bytes) -> bytes:
    """``raw`` as non-final stored deflate blocks (RFC 1951, 3.2.4): a
    byte-aligned header, its length and that length's complement. Cheaper
    than a compressor for a token of a hundred bytes (making one costs
    about 0.1 ms)."""
    blocks = []
    for at in range(0, len(raw), _STORED_MAX):
        chunk = raw[at : at + _STORED_MAX]
        blocks.append(b"\x00" + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    return b"".join(blocks)


def _secret_next_to_input() -> bool:
    if g.get("keep_uncompressed"):
        return True
    if CSRF_FIELD not in g:
        return False
    return bool(request.query_string) or request.method not in ("GET", "HEAD")
