"""The directory of prometheus-client's multiprocess mode: who writes
which files, and when they are removed.

With ``PROMETHEUS_MULTIPROC_DIR`` set, every process that changes a metric
writes it to memory-mapped files in that directory named after the process
(``counter_<id>.db``, ``gauge_livesum_<id>.db``, ...), and ``/metrics``
merges them all. Web, worker and cron on one host share the directory.

This module defines no metric, so gunicorn's master can import it to clean
the directory without writing files of its own.

Why a process identity other than the pid for RQ's work horses: RQ forks a
new horse for every job, and prometheus-client names the files after the
pid, so every job would leave files behind and each scrape would read more
of them for ever. A worker runs one horse at a time, so its horses take
turns at one slot, ``horse<worker pid>``: the files of a worker are bounded,
and the counters of every job it ran add up in them.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import psutil

ENV = "PROMETHEUS_MULTIPROC_DIR"
_slot: str | None = None


def directory() -> str | None:
    return os.environ.get(ENV) or None


def process_identity() -> str:
    """The name of this process's files: its pid, or its slot once named."""
    return _slot if _slot is not None else str(os.getpid())


def use_slot(name: str) -> None:
    """Write this process's metrics under ``name`` from now on (an RQ work
    horse, right after the fork). ``name`` must hold no underscore: the
    files' names are split on it."""
    global _slot
    if "_" in name:
        raise ValueError("a metrics slot name cannot contain '_'")
    _slot = name


def horse_slot(worker_pid: int) -> str:
    return f"horse{worker_pid}"


def forget_process(identity: str) -> None:
    """A process (or a horse slot) has ended: its live gauges (such as the
    connections it held) no longer count. Counters and histograms stay, so
    totals never go back."""
    path = directory()
    if path is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(identity, path)


def clean_at_start(path: str | None = None) -> int:
    """Remove the files of processes that are gone (a previous run's), keep
    those of processes still running (the worker, when only the web
    restarts). Returns how many were removed. A missing directory is not
    made (see reliability.metrics): the startup check on the metrics folder
    says so, in one line."""
    path = path or directory()
    if path is None or not Path(path).is_dir():
        return 0
    removed = 0
    for name in glob.glob(os.path.join(path, "*.db")):
        owner = os.path.basename(name)[: -len(".db")].rsplit("_", 1)[-1]
        if not _alive(_pid_of(owner)):
            try:
                os.remove(name)
                removed += 1
            except FileNotFoundError:
                pass
    return removed


def forget_dead_processes(path: str | None = None) -> None:
    """Drop the live gauges of processes that are gone (a worker killed
    with SIGKILL), keeping every counter: safe while other processes run."""
    path = path or directory()
    if path is None:
        return
    for name in glob.glob(os.path.join(path, "gauge_live*.db")):
        owner = os.path.basename(name)[: -len(".db")].rsplit("_", 1)[-1]
        if not _alive(_pid_of(owner)):
            try:
                os.remove(name)
            except FileNotFoundError:
                pass


def serve(port: int) -> None:
    """Serve the directory's merged metrics on ``port`` from a thread of this
    process (the RQ worker's, where no web shares its directory). Plain
    prometheus-client: no token, so the port stays inside the network."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    from reliability.metrics import MULTIPROCESS_DIR

    if MULTIPROCESS_DIR is None:
        return  # not writable: reliability.metrics has said so; the horses' figures would be lost anyway
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=MULTIPROCESS_DIR)
    start_http_server(port, registry=registry)


def _pid_of(identity: str) -> int:
    digits = identity.removeprefix("horse")
    return int(digits) if digits.isdigit() else 0


def _alive(pid: int) -> bool:
    return pid > 0 and psutil.pid_exists(pid)
