"""A quick stop of the web server (Ctrl-C: SIGINT to master and workers,
then the master's SIGQUIT to each worker) ends every worker at once.

gunicorn's gthread workers deadlocked when the second of those signals
arrived while the first was being handled (the thread pool's shutdown
takes a lock the nested handler waits on for ever); gunicorn.conf.py's
post_worker_init replaces that handler. Here each worker gets both signals
back to back, as it does from a terminal, on the real gunicorn.conf.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from reliability.config import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
ROUNDS = 5


def _env(app_config, tmp_path: Path, port: int) -> dict[str, str]:
    names = {setting.name for setting in SETTINGS}
    env = {key: value for key, value in os.environ.items() if key not in names}
    env.update(
        ENVIRONMENT="development",
        SECRET_KEY=app_config["SECRET_KEY"],
        DATABASE_URL=app_config["DATABASE_URL"],
        REDIS_URL=app_config["REDIS_URL"],
        INSTANCE_DIR=str(tmp_path / "instance"),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(WORKERS),
    )
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _workers(master: psutil.Process, count: int, timeout_s: float = 60) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children = master.children()
        if len(children) >= count:
            time.sleep(0.5)  # past their boot: signal handlers installed
            return children
        time.sleep(0.1)
    raise AssertionError(f"gunicorn started {len(master.children())} of {count} workers")


def _quit_signals(pid: int, seconds: float = 0.3) -> None:
    """SIGINT, then SIGQUIT again and again for a moment: the master's
    SIGQUIT arrives at some point of the worker's handling of the first
    signal; a stream makes sure one arrives while that handler runs, where
    the race is."""
    until = time.monotonic() + seconds
    try:
        os.kill(pid, signal.SIGINT)
        while time.monotonic() < until:
            os.kill(pid, signal.SIGQUIT)
    except ProcessLookupError:
        pass  # gone


def test_each_worker_ends_at_once_on_sigint_then_sigquit(app_config, tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "bench.hello_app:app"],
        cwd=ROOT,
        env=_env(app_config, tmp_path, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        master = psutil.Process(server.pid)
        for _ in range(ROUNDS):  # the master starts new workers each round
            workers = _workers(master, WORKERS)
            for worker in workers:
                _quit_signals(worker.pid)
            _, alive = psutil.wait_procs(workers, timeout=5)
            assert not alive, f"workers still running 5 s after SIGINT and SIGQUIT: {[p.pid for p in alive]}"
        os.killpg(server.pid, signal.SIGINT)
        assert server.wait(10) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
