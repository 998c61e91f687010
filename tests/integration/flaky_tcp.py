"""A TCP forwarder that a test can cut and restore: the app's Redis (or any
server) going away and coming back, without touching the real server that
other tests share. While cut, open connections are closed and new ones are
accepted and closed at once (as a restarting server's port does).

The server may listen on TCP or, as the embedded Redis that `make test`
starts when no TEST_REDIS_URL is set does, on a Unix socket: the
forwarder itself always listens on TCP."""

from __future__ import annotations

import socket
import threading
from urllib.parse import parse_qs, urlsplit, urlunsplit


class FlakyTcp:
    def __init__(self, target: tuple[str, int] | str):
        self._target = target  # (host, port), or a Unix socket's path
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @classmethod
    def in_front_of(cls, url: str) -> tuple[FlakyTcp, str]:
        """A forwarder to the server of ``url``, and the same URL through it."""
        parts = urlsplit(url)
        if parts.scheme == "unix":
            database = parse_qs(parts.query).get("db", ["0"])[0]
            proxy = cls(parts.path)
            return proxy, f"redis://127.0.0.1:{proxy.port}/{database}"
        proxy = cls((parts.hostname or "127.0.0.1", parts.port or 6379))
        netloc = f"{parts.username + '@' if parts.username else ''}127.0.0.1:{proxy.port}"
        return proxy, urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def cut(self) -> None:
        with self._lock:
            self._up = False
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self.cut()
        _close(self._server)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                if not self._up:
                    _close(client)
                    continue
                try:
                    upstream = self._connect()
                except OSError:
                    _close(client)
                    continue
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _connect(self) -> socket.socket:
        if isinstance(self._target, str):
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.settimeout(2)
            try:
                upstream.connect(self._target)
            except OSError:
                upstream.close()
                raise
        else:
            upstream = socket.create_connection(self._target, timeout=2)
        upstream.settimeout(None)
        return upstream

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
