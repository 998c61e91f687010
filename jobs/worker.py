"""The RQ worker: ``python -m jobs.worker`` (the Procfile's ``worker``).

Runs with the scheduler so that retry intervals and ``enqueue_in`` work.
Each job runs in a forked work horse; the database pool is made lazily in
that process, so no connection crosses the fork.

Three changes to RQ's stock worker, each for a fault that happens weekly:

- A Redis restart: RQ lets ``ConnectionError`` escape from the work-horse
  monitor's heartbeat, which ends the worker while its horse runs on. Here a
  heartbeat that cannot reach Redis is skipped (the job goes on), and when
  RQ's loop gives up on Redis anyway, ``main`` waits for Redis with backoff
  and starts a fresh worker instead of exiting.
- A killed worker: RQ finds its abandoned job when the job's heartbeat
  lapses (monitoring interval + 60 s) and cleans registries every 10 min.
  Here both follow ``WORKER_HEARTBEAT_S`` (10 s): a job is abandoned 40 s
  after its last heartbeat and found within 30 s more. Every child the
  worker forks (work horse, scheduler) dies with it (``die_with_parent``).
- Ctrl-C / SIGTERM: RQ waits for the running job (the horse has a process
  group of its own, so a terminal's Ctrl-C never reaches it). Here the horse
  gets SIGTERM at once, which raises ``JobInterrupted`` in the job: it
  unwinds (Claude places, transactions) and RQ's retry policy re-queues it,
  so the next start runs it again; jobs are idempotent, so its effects
  happen once. A horse that has not ended 5 s later gets SIGKILL.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import signal
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

import psutil
from redis.client import Pipeline
from rq import Queue
from rq import Worker as RQWorker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock

from jobs.runtime import QUEUES, prepare_process
from reliability import metrics, metrics_files
from reliability.redis_clients import REDIS_DOWN, REDIS_WAIT_MAX_S, rq_client, wait_for_redis
from reliability.startup_report import enforce
from reliability.supervisor import die_with_parent

log = logging.getLogger(__name__)

ABANDONED_AFTER_HEARTBEATS = 4  # a job whose heartbeat is this many intervals old is abandoned
CLEANUP_EVERY_HEARTBEATS = 3  # registries (abandoned jobs) are cleaned this often
HORSE_STOP_GRACE_S = 5  # then SIGKILL; the supervisor allows 8 s, Ctrl-C promises 10


def _preload_jobs() -> None:
    """Import the job modules once, before RQ forks a work horse per job: a
    horse then inherits them instead of importing the anthropic SDK and the
    rest again (about 4 s a job). No connection is opened by importing."""
    import jobs.apply  # noqa: F401
    import jobs.mail  # noqa: F401
    import jobs.maintenance  # noqa: F401
    import jobs.optimize  # noqa: F401
    import jobs.sync  # noqa: F401


class Scheduler(RQScheduler):
    """RQ's scheduler process ends on the first ``ConnectionError``, and the
    worker starts a new one only between jobs: during a long batch, retries
    would wait. This one waits for Redis and goes on."""

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        self._release_locks_of_dead_schedulers()
        return super().acquire_locks(auto_start)

    def _release_locks_of_dead_schedulers(self) -> None:
        """A SIGKILLed worker's scheduler holds its queue locks for another
        minute, and until then no retry or ``enqueue_in`` job is enqueued.
        A lock whose holder ran on this host under a pid that is gone is
        released at once (only such a lock: another host's is left to expire)."""
        for name in self._queue_names:
            key = self.get_locking_key(name)
            holder = self.connection.get(key)
            if holder is None or holder.decode() == self.name:
                continue
            owner = self.connection.hgetall(SCHEDULER_KEY_TEMPLATE % holder.decode())
            host, pid = owner.get(b"hostname", b"").decode(), int(owner.get(b"pid", b"0") or 0)
            if host == self.hostname and pid and not psutil.pid_exists(pid):
                release_lock(self.connection, key, holder.decode())
                self.log.info("Scheduler: released the lock for %s of a scheduler that is gone", name)

    def work(self) -> None:
        while not self._stop_requested:
            try:
                super().work()
                return
            except REDIS_DOWN as exc:
                self.log.warning("Scheduler: Redis unreachable (%s); trying again in 2 s", exc)
                time.sleep(2)


class JobInterrupted(BaseException):
    """Raised in a work horse on SIGTERM (the worker is stopping). A
    BaseException, so that no ``except Exception`` in a job mistakes it for
    the video's own failure; RQ's bare ``except`` records it and retries."""


def _interrupt_job(signum: int, _frame: FrameType | None) -> None:
    raise JobInterrupted(f"stopped by {signal.Signals(signum).name}")


def _signal_quietly(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


class Worker(RQWorker):
    """RQ's forking worker, riding out Redis outages and stopping promptly."""

    max_connection_wait_time = REDIS_WAIT_MAX_S  # RQ's reconnect backoff stops at 60 s

    def __init__(self, queues: Sequence[str] | Sequence[Queue], *, heartbeat_s: int, **kwargs: Any) -> None:
        super().__init__(
            queues,
            job_monitoring_interval=heartbeat_s,
            maintenance_interval=CLEANUP_EVERY_HEARTBEATS * heartbeat_s,
            **kwargs,
        )
        self.stopped_by_signal = False
        self._horse_killer: threading.Timer | None = None

    @property
    def dequeue_timeout(self) -> int:
        # RQ blocks on the queues for worker_ttl - 15 = 405 s, and cleans
        # registries only between two waits: wake up when cleaning is due.
        return self.maintenance_interval

    def get_heartbeat_ttl(self, job: Job) -> int:
        interval = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            interval = max(1, min(interval, int(job.timeout - self.current_job_working_time)))
        return interval + (ABANDONED_AFTER_HEARTBEATS - 1) * self.job_monitoring_interval

    def _start_scheduler(
        self, burst: bool = False, logging_level: str | None = "INFO", *args: Any, **kwargs: Any
    ) -> None:
        """RQ's own, with our Scheduler (and no burst mode's inline run: ``--burst``
        enqueues due jobs through RQ's code path)."""
        if burst:
            return super()._start_scheduler(burst, logging_level, *args, **kwargs)
        self.scheduler = Scheduler(
            self.queues,
            connection=self.connection,
            serializer=self.serializer,
            logging_level=logging_level if logging_level is not None else self.log.level,
        )
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            self.scheduler.start()

    # -- Redis outages: bookkeeping that may be skipped while the horse works

    def maintain_heartbeats(self, job: Job) -> None:
        try:
            super().maintain_heartbeats(job)
        except REDIS_DOWN as exc:
            self.log.warning(
                "Worker %s: heartbeat skipped, Redis unreachable (%s); job %s goes on", self.name, exc, job.id
            )

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        try:
            super().heartbeat(timeout)
        except REDIS_DOWN as exc:
            self.log.warning("Worker %s: heartbeat skipped, Redis unreachable (%s)", self.name, exc)

    def set_current_job_working_time(self, current_job_working_time: float, pipeline: Pipeline | None = None) -> None:
        if pipeline is not None:
            return super().set_current_job_working_time(current_job_working_time, pipeline)
        try:
            super().set_current_job_working_time(current_job_working_time)
        except REDIS_DOWN:
            pass  # shown on dashboards only; the next heartbeat writes it again

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        except REDIS_DOWN as exc:
            # The horse has ended (the monitor waits for it); only the record
            # of how is lost. The job stays in the started registry, is found
            # abandoned once its heartbeat lapses, and RQ's retry runs it again.
            self.log.warning(
                "Worker %s: could not record the end of job %s, Redis unreachable (%s)", self.name, job.id, exc
            )
            raise
        finally:
            # The horse is gone: a connection it held when killed no longer counts,
            # and its pid may be reused, so a pending SIGKILL for it is dropped.
            metrics_files.forget_process(metrics_files.horse_slot(os.getpid()))
            if self._horse_killer is not None:
                self._horse_killer.cancel()
                self._horse_killer = None

    def run_maintenance_tasks(self) -> None:
        # RQ runs maintenance before it looks at a stop request, and its
        # maintenance starts a new scheduler when the old one has ended, as
        # a Ctrl-C ends it: that scheduler would be born during the stop.
        if not self._stop_requested:
            super().run_maintenance_tasks()

    def teardown(self) -> None:
        try:
            super().teardown()
        except REDIS_DOWN as exc:
            self.log.warning("Worker %s: could not register its death, Redis unreachable (%s)", self.name, exc)
            self.unsubscribe()

    # -- stopping: at once, the running job re-queued by RQ's retry policy

    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._stop_now)
        signal.signal(signal.SIGTERM, self._stop_now)

    def _stop_now(self, signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != self.pid:
            # A child this worker forked (the scheduler, a horse) that has not
            # set its own handlers yet inherited this one: it ends as it would
            # with no handler, instead of ignoring the signal as a second Ctrl-C.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if self.stopped_by_signal:
            return  # a second Ctrl-C: the first one is already being acted on
        self.stopped_by_signal = self._stop_requested = True
        if self.horse_pid:
            self.log.warning(
                "Worker %s: %s, interrupting job %s; it runs again at the next start",
                self.name,
                signal.Signals(signum).name,
                self.get_current_job_id_quietly(),
            )
            # SIGTERM lets the job unwind (places and transactions released) and
            # RQ's retry policy re-queue it; a horse stuck in C code gets SIGKILL.
            horse = self.horse_pid
            _signal_quietly(horse, signal.SIGTERM)
            # A daemon thread, cancelled once the horse is reaped: the worker's
            # exit must not wait out the grace period for a horse already gone.
            self._horse_killer = threading.Timer(HORSE_STOP_GRACE_S, _signal_quietly, (horse, signal.SIGKILL))
            self._horse_killer.daemon = True
            self._horse_killer.start()
            return
        self.log.info("Worker %s: %s, stopping", self.name, signal.Signals(signum).name)
        raise StopRequested()

    def setup_work_horse_signals(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides, as in RQ
        signal.signal(signal.SIGTERM, _interrupt_job)
        # The first thing a horse does: its metrics go to its worker's slot, not to files of its own pid.
        metrics_files.use_slot(metrics_files.horse_slot(os.getppid()))

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        if exc_info and exc_info[0] is JobInterrupted:
            self.log.warning("Worker %s: job %s interrupted by a shutdown; RQ's retry runs it again", self.name, job.id)
            return
        metrics.error_seen("job", getattr(exc_info[0], "__name__", "error") if exc_info else "error")
        super().handle_exception(job, *exc_info)

    def get_current_job_id_quietly(self) -> str | None:
        try:
            return self.get_current_job_id()
        except REDIS_DOWN:
            return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run an RQ worker for this app.")
    parser.add_argument("--burst", action="store_true", help="work until the queues are empty, then exit")
    args = parser.parse_args(argv)
    settings = prepare_process()
    enforce("worker")  # in staging and production a failed critical check stops here, exit 1
    metrics_files.forget_dead_processes()  # a SIGKILLed worker's connections no longer count
    if settings["METRICS_WORKER_PORT"]:
        metrics_files.serve(settings["METRICS_WORKER_PORT"])
    _preload_jobs()
    _children_die_with_this_process()
    connection = rq_client(settings["REDIS_URL"])
    while True:
        worker = Worker(
            [Queue(name, connection=connection) for name in QUEUES],
            connection=connection,
            heartbeat_s=settings["WORKER_HEARTBEAT_S"],
            work_horse_killed_handler=failure_callback_of_killed_horse,
        )
        try:
            worker.work(with_scheduler=True, burst=args.burst)
        except REDIS_DOWN as exc:
            log.warning("the worker lost Redis (%s)", exc)
        except StopRequested:  # a signal before RQ's loop had started
            return
        if args.burst or worker.stopped_by_signal:
            return
        # RQ's loop ended on an error (Redis gone for good, most likely):
        # come back as a fresh worker once Redis answers again.
        wait_for_redis(connection)


def _children_die_with_this_process() -> None:
    """The work horse and the scheduler are forked; neither must outlive a
    SIGKILLed worker (an orphaned scheduler kept its lock and its parent's
    output pipe, so nothing restarted the worker)."""
    parent = {"pid": os.getpid()}

    def before() -> None:
        parent["pid"] = os.getpid()

    os.register_at_fork(before=before, after_in_child=lambda: die_with_parent(parent["pid"]))


class WorkHorseKilled(Exception):
    """The job's work horse died (killed, out of memory) before it finished."""


def failure_callback_of_killed_horse(job: Job, retpid: int, ret_val: int, rusage: resource.struct_rusage) -> None:
    """RQ does not run a job's on_failure callback when its work horse is
    killed; on the last attempt that callback is what tells the job's row it
    failed (jobs/failures.py), so run it here."""
    callback = job.failure_callback
    if callback is None or job.retries_left:
        return
    error = WorkHorseKilled(f"the work horse ended with status {ret_val}")
    try:
        callback(job, job.connection, WorkHorseKilled, error, None)
    except Exception:  # the worker itself must go on
        logging.getLogger(__name__).exception(
            "failure callback of a killed work horse failed", extra={"job_id": job.id}
        )


if __name__ == "__main__":
    main()
