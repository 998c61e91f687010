"""The RQ worker: ``python -m jobs.worker`` (the Procfile's ``worker``).

Runs with the scheduler so that retry intervals and ``enqueue_in`` work.
Each job runs in a forked work horse; the database pool is made lazily in
that process, so no connection crosses the fork.
"""

from __future__ import annotations

import argparse
import logging

from rq import Queue, Worker

from jobs.runtime import QUEUES, prepare_process, rq_connection


def _preload_jobs() -> None:
    """Import the job modules once, before RQ forks a work horse per job: a
    horse then inherits them instead of importing the anthropic SDK and the
    rest again (about 4 s a job). No connection is opened by importing."""
    import jobs.apply  # noqa: F401
    import jobs.mail  # noqa: F401
    import jobs.maintenance  # noqa: F401
    import jobs.optimize  # noqa: F401
    import jobs.sync  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run an RQ worker for this app.")
    parser.add_argument("--burst", action="store_true", help="work until the queues are empty, then exit")
    args = parser.parse_args(argv)
    settings = prepare_process()
    _preload_jobs()
    connection = rq_connection(settings["REDIS_URL"])
    queues = [Queue(name, connection=connection) for name in QUEUES]
    Worker(queues, connection=connection, work_horse_killed_handler=failure_callback_of_killed_horse).work(
        with_scheduler=True, burst=args.burst)


class WorkHorseKilled(Exception):
    """The job's work horse died (killed, out of memory) before it finished."""


def failure_callback_of_killed_horse(job, retpid: int, ret_val: int, rusage) -> None:
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
        logging.getLogger(__name__).exception("failure callback of a killed work horse failed", extra={"job_id": job.id})


if __name__ == "__main__":
    main()
