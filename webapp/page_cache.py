"""A bounded, per-process LRU of what a page worked out: rendered rows and
query results that only change when the data under them does.

Why this is safe without expiry: every key holds the channel's
``data_version``, which PostgreSQL itself bumps at the commit of any
change to the rows the channel page shows (triggers, migration 0018), so an
entry is never read after its data changed; it is only pushed out by newer
ones. What belongs to one request or one person is never stored here: CSRF
tokens, one-time keys, flashed messages and anything about the session are
filled in per request. A viewer's and an editor's rows differ (buttons,
select boxes), so the role is part of every key that renders rows.

Why our own rather than ``functools.lru_cache`` or cachetools: the key is
computed by the caller from values it has already read (the version comes
with the membership check), and the size is a setting, ``PAGE_CACHE_SIZE``
(0 turns the cache off; the benchmark measures the page both ways).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, render_template, session
from flask_wtf.csrf import generate_csrf

from webapp.compression import GzipTemplate, gzip_response, may_send_gzip

_T = TypeVar("_T")

# Placeholders rendered where a request's own values go, then replaced by
# them on every answer (letters and digits only: escaping and |tojson leave
# them as they are).
CSRF_SLOT = "CSRFTOKENSLOTa8f3c91d07"  # noqa: S105 - a placeholder, not a secret
KEY_SLOT = "ONETIMEKEYSLOT5b2e7f40c1"
_CSRF_FIELD = "csrf_token"  # Flask-WTF keeps the request's signed token as g.csrf_token
SIGNED_TOKENS = 4096  # sessions whose signed CSRF token a process keeps (about 0.4 MB)


class PageCache:
    """A thread-safe LRU of at most ``size`` entries (gunicorn's threads share it)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        # Each session's signed CSRF token, by the session's raw token (below).
        self._signed_tokens: OrderedDict[str, str] = OrderedDict()

    def get_or_make(self, key: Hashable, make: Callable[[], _T], *, fresh: Callable[[_T], bool] | None = None) -> _T:
        """The stored value for ``key``, or ``make()`` stored under it.
        Two threads missing the same key at once both make it: cheaper than
        making every reader wait on a lock held through a query. ``fresh``:
        for a value that time alone makes stale; a stored value it refuses
        is made again."""
        if self.size <= 0:
            return make()
        with self._lock:
            if key in self._items and (fresh is None or fresh(self._items[key])):
                self._items.move_to_end(key)
                self.hits += 1
                value: _T = self._items[key]
                return value
            self.misses += 1
        value = make()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def signed_token(self, raw: str, sign: Callable[[], str]) -> str:
        """The signed CSRF token kept for the session whose raw token is
        ``raw``, or ``sign()`` kept for it (at most SIGNED_TOKENS sessions)."""
        with self._lock:
            token = self._signed_tokens.get(raw)
            if token is not None:
                self._signed_tokens.move_to_end(raw)
                return token
        token = sign()
        with self._lock:
            self._signed_tokens[raw] = token
            while len(self._signed_tokens) > SIGNED_TOKENS:
                self._signed_tokens.popitem(last=False)
        return token


@contextmanager
def csrf_slot() -> Iterator[None]:
    """Inside, every CSRF token made (``csrf_token()``, a FlaskForm built
    here) is the placeholder: build forms inside, never before."""
    saved = g.pop(_CSRF_FIELD, None)
    setattr(g, _CSRF_FIELD, CSRF_SLOT)
    try:
        yield
    finally:
        g.pop(_CSRF_FIELD, None)
        if saved is not None:
            setattr(g, _CSRF_FIELD, saved)


def render_with_slots(template: str, **context: Any) -> str:
    """``template`` rendered with placeholders for the CSRF token and the
    form's one-time key (``idempotency_key``): HTML fit for the cache, never
    for an answer. ``context`` must hold no form (its token is made when
    the form is built: build it inside ``csrf_slot``)."""
    with csrf_slot():
        return render_template(template, idempotency_key=KEY_SLOT, **context)


def fill_slots(html: str) -> str:
    """This request's CSRF token and a new one-time key in the placeholders."""
    html = html.replace(CSRF_SLOT, request_csrf_token())
    return html.replace(KEY_SLOT, uuid.uuid4().hex) if KEY_SLOT in html else html


class SlottedPage:
    """A whole page rendered with placeholders (render_with_slots), as the
    cache keeps it. Each answer fills in the request's own values; where
    the client takes gzip, from the page's fixed parts deflated once
    (webapp/compression.py) rather than compressing 45 KB again."""

    __slots__ = ("_gzip", "html")

    def __init__(self, html: str):
        self.html = html
        self._gzip: GzipTemplate | None = None

    def answer(self) -> str | Response:
        token = request_csrf_token()
        key = uuid.uuid4().hex
        if may_send_gzip() and page_cache().size > 0:  # not kept: compressed once, the usual way
            if self._gzip is None:  # two threads may both make it: the same value
                self._gzip = GzipTemplate(self.html, (CSRF_SLOT, KEY_SLOT))
            return gzip_response(self._gzip.fill({CSRF_SLOT: token, KEY_SLOT: key}))
        return self.html.replace(CSRF_SLOT, token).replace(KEY_SLOT, key)


def request_csrf_token() -> str:
    """Flask-WTF's ``generate_csrf()``, signed once per session rather than
    once per request (an HMAC and a timestamp serialised: about 0.1 ms a
    page). A signed token is good for as long as its session holds the raw
    token it signs, whenever it was signed, while tokens never expire
    (``WTF_CSRF_TIME_LIMIT`` None, webapp/security.py); with a time limit
    each request signs its own again. Only the session that holds the raw
    token is ever given the signed one, as before."""
    if _CSRF_FIELD in g or current_app.config.get("WTF_CSRF_TIME_LIMIT") is not None:
        return str(generate_csrf())
    raw = session.get(_CSRF_FIELD)
    if not isinstance(raw, str):
        return str(generate_csrf())  # the session's first token: made and stored by Flask-WTF
    token = page_cache().signed_token(raw, generate_csrf)
    setattr(g, _CSRF_FIELD, token)
    return token


def init_page_cache(app: Flask) -> None:
    app.extensions["page_cache"] = PageCache(app.config["PAGE_CACHE_SIZE"])


def page_cache() -> PageCache:
    """This app's cache (each app has its own: tests build many)."""
    cache: PageCache = current_app.extensions["page_cache"]
    return cache
