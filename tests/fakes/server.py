"""Run a WSGI app on 127.0.0.1 in a background thread, for fakes of outside APIs.

Why real HTTP and not requests-mock or patched functions: the house rule is that
the app reaches every outside service through its base-URL setting, so the real
client code (timeouts, retries, headers, JSON decoding, connection reuse) runs
unchanged against the fake. Every fake (Google, Anthropic, SerpAPI) builds a
WSGI app and hands it to `FakeServer`.

    with FakeServer(app) as server:
        requests.get(server.url + "/ping")

    fake_api = FakeServer.fixture(make_app)          # in a conftest or test module
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug logs one line per request; a benchmark making thousands of calls
    would drown the test output, and the fakes keep their own request log."""

    def log(self, type: str, message: str, *args: Any) -> None:
        return None


class FakeServer:
    """A threaded werkzeug server on an ephemeral port (port 0 lets the OS pick,
    so parallel test runs never collide)."""

    def __init__(self, app: Callable, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:54321."""
        if self._server is None:
            raise RuntimeError("FakeServer.url read before start()")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> FakeServer:
        if self._server is not None:
            return self
        self._server = make_server(self.host, self.port, self.app, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-server-{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @classmethod
    def fixture(cls, app_factory: Callable[[], Callable], *, scope: str = "function", name: str | None = None):
        """A pytest fixture yielding a started server for `app_factory()`;
        assign it to a module-level name in a test module or conftest."""

        @pytest.fixture(scope=scope, name=name)
        def _server() -> Iterator[FakeServer]:
            with cls(app_factory()) as server:
                yield server

        return _server
