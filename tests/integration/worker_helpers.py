"""Running queued jobs in tests: RQ's in-process SimpleWorker on the real
Redis (as RQ's own suite does) for tests that only need "work until the
queues are empty", and a real ``python -m jobs.worker`` process for tests
about what only the real worker does (forking, signals, kills, heartbeats).

Starting a worker process costs about two seconds (interpreter, imports,
the scheduler's fork); the in-process worker runs the same job code, with
the same queues and the same retry scheduling, in milliseconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

from jobs.runtime import QUEUES, use_settings
from reliability import db
from reliability.errors import STARTUP_FAILED_EXIT, ConfigError
from reliability.redis_clients import rq_client

ROOT = Path(__file__).resolve().parents[2]


def worker_env(config: dict) -> dict[str, str]:
    """The environment a worker process needs to reach the same servers."""
    env = dict(os.environ)
    for name, value in config.items():
        if isinstance(value, list):
            value = ",".join(value)
        if isinstance(value, (str, int, float, bool)):
            env[name] = str(value)
    return env


class InProcessWorker(SimpleWorker):
    """RQ's SimpleWorker (jobs run in this process, no fork). Job timeouts by
    a timer thread rather than SIGALRM, which pytest-timeout's alarm uses."""

    death_penalty_class = TimerDeathPenalty


@contextmanager
def _pool_settings_kept() -> Iterator[None]:
    """``use_settings`` points this process's pool at the jobs' database; the
    test's own pool settings come back after (as the ``use_pool`` fixture does)."""
    saved = db._pool_settings
    try:
        yield
    finally:
        if saved is not None:
            db.configure(saved)


@contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """RQ installs its own SIGINT/SIGTERM handlers; pytest's come back after."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def run_worker_burst(config: dict) -> subprocess.CompletedProcess:
    """An RQ worker in this process, with the settings a worker process would
    read from ``worker_env(config)``, until the queues are empty. Its result
    has the shape of ``run_worker_process_burst``'s: returncode 0 when the
    worker ended cleanly, 1 for a configuration error (as ``jobs.worker``
    exits) or with the traceback in ``stderr`` when the worker itself raised.
    A job's own failure is RQ's business (retry, failed registry), as in the
    worker process, whose exit status does not reflect it either."""
    args = ["InProcessWorker", "--burst"]
    try:
        with _pool_settings_kept(), use_settings(worker_env(config)) as settings, _signal_handlers_kept():
            connection = rq_client(settings["REDIS_URL"])
            try:
                queues = [Queue(name, connection=connection) for name in QUEUES]
                InProcessWorker(queues, connection=connection).work(
                    burst=True, with_scheduler=True, logging_level="WARNING"
                )
            finally:
                connection.close()
    except ConfigError as exc:
        return subprocess.CompletedProcess(args, STARTUP_FAILED_EXIT, "", f"configuration error: {exc}\n")
    except Exception:
        return subprocess.CompletedProcess(args, 1, "", traceback.format_exc())
    return subprocess.CompletedProcess(args, 0, "", "")


def run_worker_process_burst(config: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    """A real RQ worker, in its own process, until the queues are empty."""
    return subprocess.run(
        [sys.executable, "-m", "jobs.worker", "--burst"],
        cwd=ROOT,
        env=worker_env(config),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
