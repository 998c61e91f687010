"""A small closed-loop HTTP load generator for loopback benchmarks.

Several client processes (so that the GIL of one client does not cap the
rate on a small machine), each with a few threads, each thread holding one
keep-alive HTTP/1.1 connection and sending the next GET as soon as the
previous answer is read. The client is a few lines over a socket rather than
http.client: http.client parses every header through the email package,
and on a 2-core machine every microsecond the client spends is taken from
the server under test. It still reads every answer whole and checks its
status; anything but 200 is counted as an error, and so is a 200 whose body
lacks the bytes the caller said every answer must hold (``expect``). Each
counted answer's latency (request sent to answer read whole) is kept.

Why not wrk, ab or locust: none is a Python package we already install, and
a benchmark that needs a system package is one that nobody runs.
"""

from __future__ import annotations

import math
import multiprocessing
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from queue import Empty

USER_AGENT = "yco-bench"


class Closed(ConnectionError):
    """The server closed the connection before a whole answer was read."""


@dataclass
class Result:
    ok: int = 0
    errors: Counter = field(default_factory=Counter)
    reconnects: int = 0
    seconds: float = 0.0
    client_cpu_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    # Filled in by bench/serving.py's measure(): CPU seconds the server under
    # test and the services it uses (PostgreSQL, Redis) spent in the window.
    server_cpu_s: float = 0.0
    services_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_answer(self) -> float:
        """Server and services CPU per answer (ms): what one answer costs the machine."""
        return (self.server_cpu_s + self.services_cpu_s) / self.ok * 1000 if self.ok else 0.0

    def add(self, other: Result) -> None:
        self.ok += other.ok
        self.errors.update(other.errors)
        self.reconnects += other.reconnects
        self.client_cpu_s += other.client_cpu_s
        self.latencies_ms.extend(other.latencies_ms)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value that at least
    ``fraction`` of the values do not exceed (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class Connection:
    """One keep-alive connection; ``get`` returns (status, keep_alive, body),
    the body only when asked for (else b"")."""

    def __init__(self, host: str, port: int):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def get(self, request: bytes, keep_body: bool = False) -> tuple[int, bool, bytes]:
        self.sock.sendall(request)
        status_line = self.reader.readline()
        if not status_line:
            raise Closed("closed before the status line")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, keep_alive = self._headers()
        if chunked:
            body = self._read_chunked()
        elif length is not None:
            body = self._read_exactly(length)
        else:
            keep_alive = False  # the body runs to the end of the connection
            body = self.reader.read()
        return status, keep_alive, body if keep_body else b""

    def _headers(self) -> tuple[int | None, bool, bool]:
        length, chunked, keep_alive = None, False, True
        while True:
            line = self.reader.readline()
            if line in (b"\r\n", b"\n"):
                return length, chunked, keep_alive
            if not line:
                raise Closed("closed inside the headers")
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                keep_alive = value.strip().lower() != b"close"

    def _read_exactly(self, size: int) -> bytes:
        data = self.reader.read(size)
        if len(data) != size:
            raise Closed("closed inside the body")
        return data

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self.reader.readline().split(b";")[0], 16)
            chunks.append(self._read_exactly(size + 2)[:-2])  # the chunk and its CRLF
            if size == 0:
                return b"".join(chunks)


def request_bytes(host: str, port: int, path: str, headers: dict[str, str] | None = None) -> bytes:
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {USER_AGENT}\r\n"
        f"Accept: text/html\r\nAccept-Encoding: identity\r\n{extra}\r\n"
    ).encode()


def _drive(
    host: str, port: int, request: bytes, expect: bytes | None, start: float, deadline: float, result: Result, lock
) -> None:
    """One connection's loop: answers completed in [start, deadline] count."""
    mine = Result()
    conn: Connection | None = None
    reused = False
    while time.monotonic() < deadline:
        try:
            if conn is None:
                conn, reused = Connection(host, port), False
            sent = time.perf_counter()
            status, keep_alive, body = conn.get(request, keep_body=expect is not None)
            latency_ms = (time.perf_counter() - sent) * 1000
        except (OSError, ValueError, IndexError) as exc:
            # A keep-alive connection the server closed while idle (worker
            # recycled by max_requests, keepalive timeout) is retried, as any
            # HTTP client does; a fresh connection that fails is an error.
            if conn is not None:
                conn.close()
            conn = None
            if reused and isinstance(exc, (Closed, ConnectionResetError, BrokenPipeError)):
                mine.reconnects += 1
            elif time.monotonic() < deadline:
                mine.errors[type(exc).__name__] += 1
                time.sleep(0.01)
            continue
        now = time.monotonic()
        if start <= now <= deadline:
            if status != 200:
                mine.errors[f"HTTP {status}"] += 1
            elif expect is not None and expect not in body:
                mine.errors[f"200 without {expect.decode(errors='replace')!r}"] += 1
            else:
                mine.ok += 1
                mine.latencies_ms.append(latency_ms)
        reused = True
        if not keep_alive:
            conn.close()
            conn = None
    if conn is not None:
        conn.close()
    with lock:
        result.add(mine)


def _client_process(
    host: str, port: int, request: bytes, expect: bytes | None, connections: int, start: float, seconds: float, queue
) -> None:
    result, lock = Result(), threading.Lock()
    cpu_before = time.process_time()
    threads = [
        threading.Thread(target=_drive, args=(host, port, request, expect, start, start + seconds, result, lock))
        for _ in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.client_cpu_s = time.process_time() - cpu_before
    queue.put(result)


def run_load(
    host: str,
    port: int,
    path: str,
    *,
    seconds: float,
    processes: int,
    connections: int,
    headers: dict[str, str] | None = None,
    expect: bytes | None = None,
) -> Result:
    """GET ``path`` (with extra request ``headers``, such as a Cookie) from
    ``processes`` x ``connections`` keep-alive clients for ``seconds``;
    returns the totals. A 200 whose body lacks ``expect`` (when given) is
    an error. Blocks until the load is over."""
    ctx = multiprocessing.get_context("spawn")  # nothing of ours crosses into the clients
    queue = ctx.Queue()
    request = request_bytes(host, port, path, headers)
    start = time.monotonic() + 1.5  # time for every client to spawn and connect
    workers = [
        ctx.Process(
            target=_client_process, args=(host, port, request, expect, connections, start, seconds, queue), daemon=True
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    total = Result(seconds=seconds)
    received = 0
    while received < len(workers):
        try:
            total.add(queue.get(timeout=1))
            received += 1
        except Empty:
            if all(worker.exitcode is not None for worker in workers):
                raise RuntimeError("a load generator process died without a result") from None
    for worker in workers:
        worker.join()
    return total
