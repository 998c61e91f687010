"""The RQ worker: ``python -m jobs.worker`` (the Procfile's ``worker``).

Runs with the scheduler so that retry intervals and ``enqueue_in`` work.
Each job runs in a forked work horse; the database pool is made lazily in
that process, so no connection crosses the fork.
"""

from __future__ import annotations

from rq import Queue, Worker

from jobs.runtime import QUEUES, prepare_process, rq_connection


def main() -> None:
    settings = prepare_process()
    connection = rq_connection(settings["REDIS_URL"])
    queues = [Queue(name, connection=connection) for name in QUEUES]
    Worker(queues, connection=connection).work(with_scheduler=True)


if __name__ == "__main__":
    main()
