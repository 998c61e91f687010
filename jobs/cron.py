"""The one cron process: ``python -m jobs.cron`` (the Procfile's ``cron``).

Registers periodic jobs with RQ's CronScheduler, which enqueues them for
the workers. Run exactly one of these per deployment.
"""

from __future__ import annotations

import logging

from redis import Redis
from redis.client import Pipeline
from rq.cron import CronJob, CronScheduler

from jobs import analytics, demo, experiments, maintenance
from jobs.runtime import prepare_process
from reliability.redis_clients import REDIS_DOWN, rq_client, wait_for_redis
from reliability.startup_report import enforce

log = logging.getLogger(__name__)


class Cron(CronScheduler):
    """RQ's cron scheduler ends on the first ``ConnectionError`` (a Redis
    restart while it heartbeats or enqueues), and then the supervisor restarts
    it while Redis is still gone, again and again. This one skips a tick
    that cannot reach Redis and goes on: the schedule is kept in memory, and
    a job whose time came during the outage is enqueued on the next tick
    that reaches Redis (RQ computes it from the last enqueue)."""

    def enqueue_jobs(self) -> list[CronJob]:
        try:
            return super().enqueue_jobs()
        except REDIS_DOWN as exc:
            log.warning("cron: Redis unreachable (%s); trying again on the next tick", exc)
            return []

    def save(self, pipeline: Pipeline | None = None) -> None:
        try:
            super().save(pipeline)
        except REDIS_DOWN as exc:
            log.warning("cron: could not save its schedule to Redis (%s)", exc)

    def heartbeat(self) -> None:
        try:
            super().heartbeat()
        except REDIS_DOWN as exc:
            log.warning("cron: heartbeat skipped, Redis unreachable (%s)", exc)

    def register_birth(self) -> None:
        wait_for_redis(self.connection)  # started while Redis is down: wait instead of exiting
        super().register_birth()

    def register_death(self, pipeline: Pipeline | None = None) -> None:
        try:
            super().register_death(pipeline)
        except REDIS_DOWN as exc:  # stopping while Redis is down: its entry expires by itself
            log.warning("cron: could not unregister, Redis unreachable (%s)", exc)


def build_scheduler(connection: Redis) -> Cron:
    scheduler = Cron(connection=connection)
    # 03:17 UTC: away from the top of the hour when everybody else's cron runs.
    scheduler.register(maintenance.prune_audit_log, "low", cron="17 3 * * *", job_timeout=600)
    # 06:31 UTC: the demo channels' numbers go on by a day (optimizer/demo_clock.py), before the judging at 06:43.
    scheduler.register(demo.extend_demo_channels, "low", cron="31 6 * * *", job_timeout=300)
    # 06:43 UTC daily: after YouTube has reported the previous day; the job takes today's UTC date.
    scheduler.register(experiments.judge_experiments, "low", cron="43 6 * * *", job_timeout=1800)
    scheduler.register(maintenance.fail_stranded_applies, "low", cron="*/15 * * * *", job_timeout=300)
    # 05:41 UTC: YouTube has yesterday's numbers by then (they lag 1-3 days), and the minute is quiet.
    scheduler.register(analytics.ingest_all, "low", cron="41 5 * * *", job_timeout=300)
    # 04:07 UTC: syncs for channels half-way to the retention limit, ahead of the ingest at 05:41;
    # 04:53 UTC: what was still not refreshed within DATA_RETENTION_DAYS goes (optimizer/retention.py).
    scheduler.register(maintenance.sync_due_channels, "low", cron="7 4 * * *", job_timeout=300)
    scheduler.register(maintenance.enforce_data_retention, "low", cron="53 4 * * *", job_timeout=1800)
    # Every minute: a run or sync whose job was lost resumes within 2 minutes of Redis coming back.
    scheduler.register(maintenance.requeue_lost_work, "high", cron="* * * * *", job_timeout=60)
    return scheduler


def main() -> None:
    settings = prepare_process("cron")
    enforce("cron")  # in staging and production a failed critical check stops here, exit 1
    build_scheduler(rq_client(settings["REDIS_URL"])).start()


if __name__ == "__main__":
    main()
