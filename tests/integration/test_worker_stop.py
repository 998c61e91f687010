"""A worker asked to stop (Ctrl-C, SIGTERM) ends promptly and starts nothing
new on its way out: no scheduler born during the stop that then ignores its
own SIGTERM, no wait for a SIGKILL timer aimed at a work horse already gone."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
import redis
from rq import Queue

from jobs.worker import HORSE_STOP_GRACE_S
from tests.integration.optimize_helpers import ROOT, start_worker, stop_process, wait_for
from tests.integration.worker_helpers import worker_env

HEARTBEAT_S = 1


@pytest.fixture
def config(app_config):
    return {**app_config, "WORKER_HEARTBEAT_S": HEARTBEAT_S}


@pytest.fixture
def connection(config):
    connection = redis.Redis.from_url(config["REDIS_URL"])
    yield connection
    connection.close()


def _scheduler_locks(connection: redis.Redis) -> list[bytes]:
    return connection.keys("rq:scheduler-lock:*")


# In a process of its own: the scheduler RQ starts is a fork of the process
# that runs maintenance, and a fork of pytest's (threads of the fakes and of
# xdist) can inherit a lock another thread held and hang (seen once in CI).
MAINTENANCE_PROGRAM = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    import redis
    from jobs.worker import Scheduler, Worker
    connection = redis.Redis.from_url(sys.argv[1])
    worker = Worker(["high"], connection=connection, heartbeat_s=1)
    worker.scheduler = Scheduler(worker.queues, connection=connection)
    worker.last_cleaned_at = datetime.now(UTC) - timedelta(hours=1)  # not the first run: RQ restarts an ended scheduler
    worker._stop_requested = sys.argv[2] == "stopping"
    try:
        worker.run_maintenance_tasks()
        started = worker.scheduler._process is not None
        locked = bool(connection.keys("rq:scheduler-lock:*"))
        print("RESULT", started, locked)
    finally:
        if worker.scheduler._process is not None:
            worker.stop_scheduler()
        worker.scheduler.release_locks()
    """
)


@pytest.mark.parametrize("stopping", [False, True])
def test_maintenance_starts_a_scheduler_only_while_the_worker_is_not_stopping(config, connection, stopping):
    result = subprocess.run(
        [sys.executable, "-c", MAINTENANCE_PROGRAM, config["REDIS_URL"], "stopping" if stopping else "running"],
        cwd=ROOT,
        env=worker_env(config),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [line] = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    _, started, locked = line.split()
    assert (started == "True") is not stopping
    assert (locked == "True") is not stopping
    assert not _scheduler_locks(connection)  # released on the way out


# A child forked by the worker (as RQ forks the scheduler and each horse)
# before it sets handlers of its own, signalled while the worker is already
# stopping: it must end, not ignore the signal as a second Ctrl-C.
CHILD_PROGRAM = textwrap.dedent(
    """
    import os, signal, sys, time
    import redis
    from jobs.worker import Worker
    worker = Worker(["high"], connection=redis.Redis.from_url(sys.argv[1]), heartbeat_s=1)
    worker._install_signal_handlers()
    worker.stopped_by_signal = True
    pid = os.fork()
    if pid == 0:
        time.sleep(10)
        os._exit(0)
    time.sleep(0.2)
    started = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    print(os.WIFSIGNALED(status) and os.WTERMSIG(status), round(time.monotonic() - started, 1))
    """
)


def test_a_child_still_wearing_the_workers_handler_ends_on_sigterm(config):
    result = subprocess.run(
        [sys.executable, "-c", CHILD_PROGRAM, config["REDIS_URL"]],
        cwd=ROOT,
        env=worker_env(config),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    ended_by, took_s = result.stdout.split()
    assert int(ended_by) == signal.SIGTERM
    assert float(took_s) < 5


@pytest.mark.slow
def test_the_worker_ends_once_its_interrupted_job_unwinds_not_after_the_kill_timer(config, connection, tmp_path):
    with open(tmp_path / "worker.log", "w") as log:
        worker = start_worker(config, log=log)
        try:
            job = Queue("high", connection=connection).enqueue("time.sleep", 60, job_id="long-job")
            wait_for(lambda: job.get_status(refresh=True) == "started", 60, "the job to start")
            wait_for(lambda: psutil.Process(worker.pid).children(), 10, "the work horse")
            started = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            worker.wait(20)
            took_s = time.monotonic() - started
        finally:
            stop_process(worker)
    log_text = (tmp_path / "worker.log").read_text()
    assert worker.returncode == 0, log_text
    # The horse unwinds at once; the SIGKILL meant for a stuck one is dropped with it.
    assert took_s < HORSE_STOP_GRACE_S - 1, (took_s, log_text[-3000:])
    assert "interrupting job long-job" in log_text
