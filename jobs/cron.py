"""The one cron process: ``python -m jobs.cron`` (the Procfile's ``cron``).

Registers periodic jobs with RQ's CronScheduler, which enqueues them for
the workers. Run exactly one of these per deployment.
"""

from __future__ import annotations

from rq.cron import CronScheduler

from jobs import maintenance
from jobs.runtime import prepare_process, rq_connection


def build_scheduler(connection) -> CronScheduler:
    scheduler = CronScheduler(connection=connection)
    # 03:17 UTC: away from the top of the hour when everybody else's cron runs.
    scheduler.register(maintenance.prune_audit_log, "low", cron="17 3 * * *", job_timeout=600)
    scheduler.register(maintenance.fail_stranded_applies, "low", cron="*/15 * * * *", job_timeout=300)
    # Every minute: a run or sync whose job was lost resumes within 2 minutes of Redis coming back.
    scheduler.register(maintenance.requeue_lost_work, "high", cron="* * * * *", job_timeout=60)
    return scheduler


def main() -> None:
    settings = prepare_process()
    build_scheduler(rq_connection(settings["REDIS_URL"])).start()


if __name__ == "__main__":
    main()
