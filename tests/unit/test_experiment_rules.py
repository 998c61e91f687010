"""The lifecycle's pure rules: when a look is due, which state a look leaves
an experiment in, and which metric a comparison uses."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from optimizer import experiments, judging, verdict


def test_the_experiment_states_that_are_verdicts_are_the_verdict_functions_outcomes() -> None:
    assert set(experiments.VERDICTS) == set(verdict.OUTCOMES)
    assert set(experiments.DECIDED) == set(verdict.DECISIVE)
    assert experiments.MAX_POST_WEEKS == verdict.MAX_POST_WEEKS


def test_a_videos_first_analytics_fetch_reaches_back_over_the_verdicts_history() -> None:
    from optimizer.youtube import ingest

    assert ingest.HISTORY_DAYS >= verdict.HISTORY_DAYS


@pytest.mark.parametrize("outcome", verdict.DECISIVE)
def test_helped_or_hurt_ends_an_experiment_at_any_look(outcome: str) -> None:
    assert experiments.status_after(outcome, 1) == outcome


@pytest.mark.parametrize("outcome", [*verdict.LEANS, verdict.INCONCLUSIVE, verdict.NOT_ENOUGH_DATA])
def test_anything_else_keeps_measuring_until_the_last_look_and_then_ends_it(outcome: str) -> None:
    assert experiments.status_after(outcome, experiments.MAX_POST_WEEKS - 1) == experiments.MEASURING
    assert experiments.status_after(outcome, experiments.MAX_POST_WEEKS) == outcome


@pytest.mark.parametrize("outcome", verdict.BEFORE_AFTER_OUTCOMES)
def test_a_before_after_reading_ends_as_inconclusive_never_helped_or_hurt(outcome: str) -> None:
    assert experiments.status_after(outcome, experiments.MAX_POST_WEEKS) == experiments.INCONCLUSIVE


def test_a_look_is_due_once_a_whole_week_has_settled_numbers() -> None:
    cooling_until = date(2026, 3, 8)
    settled_week = cooling_until + timedelta(days=7 + judging.DATA_LAG_DAYS)
    assert judging.looks_by(cooling_until, settled_week - timedelta(days=1)) == 0
    assert judging.looks_by(cooling_until, settled_week) == 1
    assert judging.looks_by(cooling_until, settled_week + timedelta(days=365)) == experiments.MAX_POST_WEEKS


def test_engaged_views_are_compared_only_when_every_day_has_them() -> None:
    day = date(2026, 3, 1)
    full = {"views": {1: {day: 10.0}, 2: {day: 5.0}}, "engaged_views": {1: {day: 7.0}, 2: {day: 3.0}}}
    assert judging.comparable_metric(full) == "engaged_views"
    gap = {"views": {1: {day: 10.0}, 2: {day: 5.0}}, "engaged_views": {1: {day: 7.0}}}
    assert judging.comparable_metric(gap) == "views"
