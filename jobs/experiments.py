"""Cron job: judge the experiments that are due, then decide the automatic
restores their verdicts call for (see optimizer/judging.py and
optimizer/auto_restore.py).

``today`` is a parameter so tests can run it on chosen days; cron passes
nothing and the day is today in UTC. Each experiment is judged in its own
transaction, so one that fails does not hold the others back; a look is
stored once (guarded), so a rerun on the same day changes nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, date, datetime

from jobs.enqueue import enqueue_apply
from jobs.runtime import current_settings
from optimizer import auto_restore, experiments, judging
from optimizer.verdict import VerdictSettings
from optimizer.youtube.quota import QuotaBudgetExceeded
from reliability.db import transaction
from reliability.redis_clients import rq_client

log = logging.getLogger(__name__)


def judge_experiments(today: date | None = None) -> dict[str, int]:
    """Returns how many experiments were left in each state (and restores queued)."""
    settings = current_settings()
    day = today or datetime.now(tz=UTC).date()
    verdict_settings = VerdictSettings.from_config(settings)
    with transaction() as cur:
        due = experiments.due(cur, day)
    moved: Counter[str] = Counter()
    for experiment in due:
        try:
            with transaction() as cur:
                moved[judging.judge_experiment(cur, experiment, day, verdict_settings) or "waiting"] += 1
        except Exception:  # one experiment's bad data must not stop the rest; it is tried again tomorrow
            log.exception("judging an experiment failed", extra={"experiment_id": experiment["id"]})
            moved["error"] += 1
    moved["restores_queued"] = len(_restore_what_hurt(settings["YOUTUBE_DAILY_QUOTA"], settings["REDIS_URL"]))
    log.info("judged experiments", extra={"day": day.isoformat(), **moved})
    return dict(moved)


def _restore_what_hurt(daily_budget: int, redis_url: str) -> list[int]:
    with transaction() as cur:
        undecided = experiments.undecided_auto_restores(cur)
    queued = []
    for experiment_id in undecided:
        try:
            with transaction() as cur:
                suggestion_id = auto_restore.decide(cur, experiment_id, daily_budget)
        except QuotaBudgetExceeded:  # nothing was written: tried again on the next run
            log.warning("auto-restore waits for quota", extra={"experiment_id": experiment_id})
            continue
        if suggestion_id is not None:
            # Queued after commit; if Redis refused, the suggestion stays 'applying' and the
            # stranded-apply sweep (jobs/maintenance.py) marks it failed for the creator to retry.
            enqueue_apply(rq_client(redis_url), suggestion_id)
            queued.append(suggestion_id)
    return queued
