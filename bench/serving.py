"""What the benchmarks that pit a page of the app against ``bench/hello_app.py``
share: the services (DATABASE_URL / REDIS_URL, else embedded ones), gunicorn
servers with the project's ``-c gunicorn.conf.py`` on free loopback ports,
and the alternating measurement with ``bench/loadgen.py``.

Used by ``bench/login_vs_hello.py``, ``bench/channel_page.py`` and (the services) ``bench/sync_quota.py``.
"""

from __future__ import annotations

import argparse
import copy
import http.client
import os
import runpy
import secrets
import socket
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from bench.loadgen import Result, run_load

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# The load generator sends thousands of requests a second from one address;
# the app's default limit (300 a minute per address) would answer 429. The
# limiter still runs and still counts in Redis, so its cost is measured. A
# one-second window keeps its Redis list about as short as a real one (a
# per-minute window would grow it to every request of the last minute).
RATE_LIMIT_FOR_BENCH = "1000000 per second"


def say(line: str) -> None:
    print(f"# {line}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def services(tmp: Path) -> Iterator[tuple[str, str]]:
    """(database_url, redis_url): the environment's, or embedded ones."""
    from reliability.embedded import start_postgres, start_redis

    # pgserver asks platformdirs for a runtime dir; without a login session
    # there is none and it falls back to /tmp, which is fine: keep stderr quiet.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")

    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    stoppers = []
    try:
        if not database_url:
            database_url, stop = start_postgres(tmp / "postgres", database="yco_bench", delete_on_stop=True)
            stoppers.append(stop)
        if not redis_url:
            redis_url, stop = start_redis(tmp / "redis")
            stoppers.append(stop)
        say(
            f"services: PostgreSQL {'embedded' if not os.environ.get('DATABASE_URL') else 'from DATABASE_URL'}, "
            f"Redis {'embedded' if not os.environ.get('REDIS_URL') else 'from REDIS_URL'}"
        )
        yield database_url, redis_url
    finally:
        for stop in reversed(stoppers):
            stop()


def service_cpu(database_url: str, redis_url: str) -> ServiceCPU:
    """The CPU meter of the services in use (see ServiceCPU)."""
    meter = ServiceCPU(
        database_url,
        redis_url,
        shared_db=bool(os.environ.get("DATABASE_URL")),
        shared_redis=bool(os.environ.get("REDIS_URL")),
    )
    say(meter.describe())
    return meter


def migrate(database_url: str) -> None:
    from reliability import db, migrations

    db.configure(db.PoolSettings(dsn=database_url, size=1, max_overflow=1))
    try:
        migrations.upgrade()
    finally:
        db.dispose_pool()


Response = tuple[int, http.client.HTTPMessage, bytes]


class Server:
    """One gunicorn with the project's settings file, on a free port.

    ``path`` is what the load generator asks for, with the extra request
    ``headers`` (a session cookie) and, when ``expect`` is set, a check that
    every answer holds those bytes."""

    def __init__(self, name: str, app: str, path: str, env: dict[str, str], log_dir: Path):
        self.name, self.app, self.path = name, app, path
        self.headers: dict[str, str] = {}
        self.expect: bytes | None = None
        self.port = free_port()
        self.log_path = log_dir / f"{name}.log"
        env = {**env, "GUNICORN_BIND": f"{HOST}:{self.port}"}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def target(self, name: str, path: str) -> Server:
        """Another page of the same gunicorn, measured on its own (with its
        own headers and expected bytes); its CPU is the same server's."""
        view = copy.copy(self)
        view.name, view.path, view.headers, view.expect = name, path, dict(self.headers), None
        return view

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def get(self, path: str | None = None) -> Response:
        return self.request("GET", path or self.path, headers=self.headers)

    def wait_until_ready(self, timeout_s: float = 90, path: str | None = None) -> Response:
        """Polls ``path`` (default: the measured one) until it answers 200."""
        path = path or self.path
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited with {self.process.returncode}\n{self.log_tail()}")
            try:
                response = self.get(path)
                if response[0] == 200:
                    return response
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name}: GET {path} did not answer 200 in {timeout_s} s\n{self.log_tail()}")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name}: gunicorn exited with {self.process.returncode}\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """CPU used so far by gunicorn and its workers, recycled ones too
        (the master reaps them, so their time lands in its children's)."""
        master = psutil.Process(self.process.pid)
        times = master.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for worker in master.children():
            try:
                worker_times = worker.cpu_times()
                total += worker_times.user + worker_times.system
            except psutil.NoSuchProcess:
                pass  # reaped between the two calls: counted next time
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # gunicorn: graceful stop of the workers
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def server_env(database_url: str, redis_url: str, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GUNICORN_BIND", "HOST", "PORT")}
    env.update(
        ENVIRONMENT="development",
        SECRET_KEY=secrets.token_urlsafe(48),
        ASSETS_FROM_CDN="false",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        INSTANCE_DIR=str(tmp / "instance"),
        DEFAULT_RATE_LIMIT=RATE_LIMIT_FOR_BENCH,
    )
    return env


def gunicorn_settings(env: dict[str, str]) -> str:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    keys = ("workers", "threads", "worker_class", "keepalive", "max_requests", "loglevel")
    return " ".join(f"{k}={conf[k]}" for k in keys)


def describe(name: str, result: Result, server_cpu_s: float, services_cpu_s: float = 0.0) -> str:
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(result.errors.items())) or "none"
    per_answer = f"{server_cpu_s / result.ok * 1000:.2f} ms" if result.ok else "-"
    services = f"{services_cpu_s / result.ok * 1000:.2f} ms" if result.ok else "-"
    return (
        f"{name}: {result.rps:.1f} rps ({result.ok} answers in {result.seconds:.0f} s, errors {errors}, "
        f"reconnects {result.reconnects}; CPU per answer: server {per_answer}, PostgreSQL+Redis {services}; "
        f"client CPU {result.client_cpu_s / result.seconds:.2f} cores)"
    )


class ServiceCPU:
    """CPU seconds used so far by the PostgreSQL and Redis servers behind the
    apps, so that "CPU per answer" counts what a page costs them too.

    Found by asking each server for its process id (so this works for the
    embedded servers and for local ones from DATABASE_URL / REDIS_URL). An
    embedded PostgreSQL is the benchmark's alone: its whole process tree
    counts (backends, their reaped predecessors, the writers). A shared one
    counts only the backends of the benchmark's database; a shared Redis
    counts whole, other clients included (the figures say which)."""

    def __init__(self, database_url: str, redis_url: str, *, shared_db: bool, shared_redis: bool):
        import psycopg2
        import redis

        conn = psycopg2.connect(database_url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_backend_pid(), current_database()")
                backend_pid, self.database = cur.fetchone()
            # While the connection is open: its backend exits with it.
            postmaster = psutil.Process(backend_pid).parent()
        finally:
            conn.close()
        if postmaster is None:
            raise RuntimeError("PostgreSQL's postmaster process was not found (is the server on this machine?)")
        self.postmaster = postmaster
        client = redis.Redis.from_url(redis_url)
        try:
            self.redis = psutil.Process(int(client.info("server")["process_id"]))
        finally:
            client.close()
        self.shared_db, self.shared_redis = shared_db, shared_redis

    def describe(self) -> str:
        db = f"backends of database {self.database} only (shared server)" if self.shared_db else "whole server"
        rd = "whole server, shared with other clients" if self.shared_redis else "whole server"
        return f"services CPU counted: PostgreSQL {db}; Redis {rd}"

    def seconds(self) -> float:
        return self._postgres() + _cpu(self.redis)

    def _postgres(self) -> float:
        total = 0.0 if self.shared_db else _cpu(self.postmaster, reaped=True)
        try:
            children = self.postmaster.children()
        except psutil.Error:
            return total
        for child in children:
            try:
                if self.shared_db and f" {self.database} " not in " ".join(child.cmdline()) + " ":
                    continue
            except psutil.Error:
                continue
            total += _cpu(child)
        return total


def _cpu(process: psutil.Process, *, reaped: bool = False) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0  # gone between two calls: its time is in its parent's reaped children
    total = times.user + times.system
    return total + (times.children_user + times.children_system if reaped else 0.0)


def measure(
    servers: list[Server], args, *, strict: bool = False, services_cpu: ServiceCPU | None = None
) -> dict[str, list[Result]]:
    """Warm every server up, then ``args.rounds`` measurements of each,
    alternating; returns each server's measured results in order, each with
    the CPU its server (and, given ``services_cpu``, PostgreSQL and Redis)
    spent meanwhile. With ``strict``, any error (a status other than 200, an
    answer without the expected bytes, a failed connection) stops the
    benchmark. Short rounds, many of them, alternating: drift on a shared
    machine hits every side alike, and the spread of the rounds shows how
    much to trust a median."""
    load = {"processes": args.processes, "connections": args.connections}

    def run(server: Server, seconds: float) -> Result:
        result = run_load(
            HOST, server.port, server.path, seconds=seconds, headers=server.headers, expect=server.expect, **load
        )
        if strict and result.errors:
            raise RuntimeError(
                f"{server.name}: GET {server.path} failed under load: {dict(result.errors)}\n{server.log_tail()}"
            )
        return result

    for server in servers:
        run(server, args.warmup)
    results: dict[str, list[Result]] = {server.name: [] for server in servers}
    for round_no in range(args.rounds):
        # A B, then B A, ...: a machine that slows down or speeds up during
        # the run hits both sides alike.
        for server in servers if round_no % 2 == 0 else list(reversed(servers)):
            cpu_before = server.cpu_seconds()
            services_before = services_cpu.seconds() if services_cpu else 0.0
            result = run(server, args.seconds)
            # Server CPU per answer barely moves when other programs load the
            # machine, unlike rps: it tells noise from a real change. (It
            # includes the seconds spent spawning clients, so a bit high.)
            result.server_cpu_s = server.cpu_seconds() - cpu_before
            result.services_cpu_s = services_cpu.seconds() - services_before if services_cpu else 0.0
            say(f"round {round_no + 1} {describe(server.name, result, result.server_cpu_s, result.services_cpu_s)}")
            server.check_alive()
            results[server.name].append(result)
    return results


def spread(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max) of the rounds' values."""
    ordered = sorted(values)
    return statistics.median(ordered), ordered[0], ordered[-1]


def report(name: str, values: list[float], digits: int = 2) -> float:
    """Print ``name=median`` (the figure) and, as a comment, its spread over
    the rounds; returns the median."""
    median, low, high = spread(values)
    print(f"{name}={median:.{digits}f}", flush=True)
    say(f"{name}: median {median:.{digits}f}, min {low:.{digits}f}, max {high:.{digits}f} over {len(values)} rounds")
    return median


def ratios(top: list[Result], bottom: list[Result]) -> list[float]:
    """Round by round rps ratios (the rounds alternate, so each pair ran side by side)."""
    return [a.rps / b.rps if b.rps else 0.0 for a, b in zip(top, bottom, strict=True)]


def load_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The load options every page-against-hello benchmark takes."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=8, help="measurements of each side, alternating")
    parser.add_argument("--warmup", type=float, default=2.0, help="load on each side before measuring")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections per client process")
    return parser
