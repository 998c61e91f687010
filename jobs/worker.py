"""The RQ worker: ``python -m jobs.worker`` (the Procfile's ``worker``).

Runs with the scheduler so that retry intervals and ``enqueue_in`` work.
Each job runs in a forked work horse; the database pool is made lazily in
that process, so no connection crosses the fork.
"""

from __future__ import annotations

import argparse

from rq import Queue, Worker

from jobs.runtime import QUEUES, prepare_process, rq_connection


def _preload_jobs() -> None:
    """Import the job modules once, before RQ forks a work horse per job: a
    horse then inherits them instead of importing the anthropic SDK and the
    rest again (about 4 s a job). No connection is opened by importing."""
    import jobs.apply  # noqa: F401
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
    Worker(queues, connection=connection).work(with_scheduler=True, burst=args.burst)


if __name__ == "__main__":
    main()
