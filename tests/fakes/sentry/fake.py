"""`FakeSentry`: Sentry's ingest endpoint on a local server, for tests.

Why: the app's error reports must be proven to arrive, grouped and without
secrets, through the real sentry-sdk transport (its envelope, compression,
auth header and background thread), with nothing patched. The DSN points at
the fake: ``http://<key>@127.0.0.1:<port>/<project>``.

Wire format, as sentry-sdk 2.x sends it (sentry_sdk/envelope.py,
transport.py): ``POST /api/<project>/envelope/`` with
``Content-Type: application/x-sentry-envelope``, the body gzip- or
brotli-compressed (``Content-Encoding``), ``X-Sentry-Auth: Sentry
sentry_key=<key>, sentry_version=7, ...``. The body is newline-separated:
the envelope header (JSON), then per item a header (JSON: ``type``,
optional ``length``) and its payload (``length`` bytes, or up to the next
newline). The legacy ``POST /api/<project>/store/`` takes one event as JSON.
A wrong key gets 401, as Sentry answers.

    with FakeSentry() as sentry:
        settings = {"SENTRY_DSN": sentry.dsn}
        ...
        events = sentry.wait_for_events(2)
        assert "s3cret" not in sentry.all_text()
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Response, request

from tests.fakes.server import FakeServer

DEFAULT_KEY = "publickey0123456789abcdef"


def decode_envelope(raw: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """(envelope header, [(item header, payload bytes)])."""
    header_line, _, rest = raw.partition(b"\n")
    header = json.loads(header_line or b"{}")
    items: list[tuple[dict[str, Any], bytes]] = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item = json.loads(item_line)
        length = item.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length:]
            rest = rest[1:] if rest.startswith(b"\n") else rest
        items.append((item, payload))
    return header, items


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        import brotli

        return bytes(brotli.decompress(body))
    return body


class FakeSentry:
    def __init__(self, *, key: str = DEFAULT_KEY, project: str = "1") -> None:
        self.key = key
        self.project = project
        self.events: list[dict[str, Any]] = []  # items of type "event"
        self.transactions: list[dict[str, Any]] = []
        self.raw: list[bytes] = []  # every decompressed body, for "no secret anywhere" assertions
        self.refused = 0
        self._lock = threading.Lock()
        self.server = FakeServer(self._app())

    def _app(self) -> Flask:
        app = Flask("fake_sentry")

        @app.post("/api/<project>/envelope/")
        def envelope(project: str) -> Response:
            return self._receive(project, envelope=True)

        @app.post("/api/<project>/store/")
        def store(project: str) -> Response:
            return self._receive(project, envelope=False)

        return app

    def _receive(self, project: str, *, envelope: bool) -> Response:
        auth = request.headers.get("X-Sentry-Auth", "")
        if project != self.project or f"sentry_key={self.key}" not in auth:
            with self._lock:
                self.refused += 1
            return Response(json.dumps({"detail": "invalid api key"}), status=401, mimetype="application/json")
        body = _decompress(request.get_data(), request.headers.get("Content-Encoding", ""))
        received: list[tuple[str, dict[str, Any]]] = []
        if envelope:
            _header, items = decode_envelope(body)
            for item, payload in items:
                if item.get("type") in ("event", "transaction"):
                    received.append((item["type"], json.loads(payload)))
        else:
            received.append(("event", json.loads(body)))
        with self._lock:
            self.raw.append(body)
            for kind, payload in received:
                (self.events if kind == "event" else self.transactions).append(payload)
        first = received[0][1].get("event_id") if received else None
        return Response(json.dumps({"id": first or uuid.uuid4().hex}), status=200, mimetype="application/json")

    # --- lifecycle ----------------------------------------------------------

    def start(self) -> FakeSentry:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeSentry:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def dsn(self) -> str:
        host = self.server.url.removeprefix("http://")
        return f"http://{self.key}@{host}/{self.project}"

    # --- assertions ---------------------------------------------------------

    def wait_for_events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.events) >= count:
                    return list(self.events)
            time.sleep(0.05)
        with self._lock:
            raise AssertionError(f"expected {count} events at the fake Sentry, got {len(self.events)}")

    def all_text(self) -> str:
        """Every body received, decompressed (assert no secret went out)."""
        with self._lock:
            return b"\n".join(self.raw).decode("utf-8", errors="replace")


def fake_sentry_fixture(*, scope: str = "function", name: str = "fake_sentry", **options: Any):
    @pytest.fixture(scope=scope, name=name)
    def _fixture() -> Iterator[FakeSentry]:
        with FakeSentry(**options) as fake:
            yield fake

    return _fixture
