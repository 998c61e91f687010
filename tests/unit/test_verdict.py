"""The experiment verdict (optimizer/verdict.py) on small seeded channels.

Each channel: one changed video and its control videos, daily counts drawn
negative-binomial (variance mu + 0.1 mu^2) around a level that decays a
little each day, from the pre-window's first day to the last look. The
calibration over many channels and every look is bench/experiments.py's job;
these pin the behaviour case by case.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pytest

from optimizer import verdict as v
from optimizer import verdict_stats as vs

CHANGE = date(2026, 3, 2)
SETTINGS = v.VerdictSettings()
FIRST = CHANGE - timedelta(days=v.PRE_DAYS)


def _days() -> int:
    return v.PRE_DAYS + 1 + SETTINGS.cooling_days + 7 * v.MAX_POST_WEEKS


def _series(rng: np.random.Generator, level: float, multiplier: npt.NDArray[np.float64]) -> dict[date, float]:
    days = _days()
    decay = np.exp(-rng.uniform(0.0, 0.005) * np.arange(days))
    mu = rng.gamma(10.0, level * decay * multiplier / 10.0)
    counts = rng.poisson(mu)
    return {FIRST + timedelta(days=k): float(c) for k, c in enumerate(counts)}


def _channel(
    seed: int, effect: float = 0.0, swing: float = 0.0, controls: int = 30, level: float = 100.0
) -> tuple[dict[date, float], dict[int, dict[date, float]]]:
    """(treated, controls); ``swing`` lifts the whole channel from the day after the change, ``effect`` the treated."""
    rng = np.random.default_rng(seed)
    after = (np.arange(_days()) > v.PRE_DAYS).astype(float)
    channel = 1.0 + swing * after
    treated = _series(rng, level, channel * (1.0 + effect * after))
    return treated, {k: _series(rng, float(rng.uniform(40, 300)), channel) for k in range(controls)}


def _today(weeks: int) -> date:
    return CHANGE + timedelta(days=SETTINGS.cooling_days + 7 * weeks)


def test_a_channel_wide_swing_is_not_credited_to_the_change() -> None:
    treated, controls = _channel(seed=1, swing=0.5)
    verdict = v.judge(treated, controls, CHANGE, _today(4), SETTINGS)
    plain = v.judge(treated, controls, CHANGE, _today(4), v.VerdictSettings(statistical=False))
    assert plain.outcome == v.UP_BEFORE_AFTER and plain.lift is not None and plain.lift > 0.3
    assert verdict.outcome not in (v.HELPED, v.LIKELY_HELPED)
    assert verdict.lift is not None and abs(verdict.lift) < 0.15


def test_a_clear_gain_is_helped_with_its_size() -> None:
    treated, controls = _channel(seed=2, effect=0.6)
    verdict = v.judge(treated, controls, CHANGE, _today(4), SETTINGS)
    assert verdict.outcome == v.HELPED
    assert verdict.lift == pytest.approx(0.6, abs=0.15)
    assert verdict.confidence is not None and verdict.confidence >= 0.95
    assert verdict.method == v.PLACEBO and verdict.controls == 30 and verdict.look == 4 and verdict.post_days == 28
    assert "helped" in verdict.sentence


def test_a_clear_loss_is_hurt() -> None:
    treated, controls = _channel(seed=3, effect=-0.45)
    verdict = v.judge(treated, controls, CHANGE, _today(4), SETTINGS)
    assert verdict.outcome == v.HURT
    assert verdict.lift is not None and verdict.lift < -0.3


def test_no_effect_is_mostly_inconclusive_and_rarely_decided() -> None:
    """40 channels with no effect, one look: false 'helped'/'hurt' within the 5 % the verdict allows over all
    looks, and 'inconclusive' the most common outcome (leans, at 0.7, are meant to be frequent)."""
    outcomes = [v.judge(*_channel(seed=100 + k), CHANGE, _today(4), SETTINGS).outcome for k in range(40)]
    assert sum(o in v.DECISIVE for o in outcomes) <= 2
    assert max(set(outcomes), key=outcomes.count) == v.INCONCLUSIVE


def test_not_enough_data_before_a_whole_post_week() -> None:
    treated, controls = _channel(seed=4, effect=0.6)
    early = CHANGE + timedelta(days=SETTINGS.cooling_days + 6)
    verdict = v.judge(treated, controls, CHANGE, early, SETTINGS)
    assert (verdict.outcome, verdict.look, verdict.post_days) == (v.NOT_ENOUGH_DATA, 0, 0)
    assert verdict.lift is None and verdict.confidence is None
    assert verdict.counterfactual, "the chart still shows the pre-window and cooling"


def test_not_enough_data_with_too_few_controls() -> None:
    treated, controls = _channel(seed=5, effect=0.6, controls=v.MIN_CONTROLS - 1)
    verdict = v.judge(treated, controls, CHANGE, _today(4), SETTINGS)
    assert verdict.outcome == v.NOT_ENOUGH_DATA and verdict.controls == v.MIN_CONTROLS - 1
    assert "comparison" in verdict.sentence


def test_not_enough_data_with_too_few_views() -> None:
    treated, controls = _channel(seed=6, effect=0.6, level=2.0)
    verdict = v.judge(treated, controls, CHANGE, _today(4), SETTINGS)
    assert verdict.outcome == v.NOT_ENOUGH_DATA
    assert "fewer than" in verdict.sentence


def test_missing_days_are_no_data_not_zero() -> None:
    treated, controls = _channel(seed=2, effect=0.6)
    post_start = CHANGE + timedelta(days=SETTINGS.cooling_days + 1)
    gappy = {day: n for day, n in treated.items() if not (post_start <= day < post_start + timedelta(days=5))}
    verdict = v.judge(gappy, controls, CHANGE, _today(4), SETTINGS)
    assert verdict.outcome == v.HELPED and verdict.lift == pytest.approx(0.6, abs=0.15)


def test_without_statistics_it_never_says_helped_or_hurt() -> None:
    plain = v.VerdictSettings(statistical=False)
    for effect in (-0.6, 0.0, 0.6):
        treated, controls = _channel(seed=7, effect=effect)
        verdict = v.judge(treated, controls, CHANGE, _today(4), plain)
        assert verdict.outcome in v.BEFORE_AFTER_OUTCOMES
        assert verdict.method == v.BEFORE_AFTER and verdict.confidence is None and verdict.interval is None
        assert "Before/after only" in verdict.sentence


@pytest.mark.parametrize("seed, effect", [(8, 0.0), (9, 0.3), (10, -0.2), (11, 0.6)])
def test_the_interval_contains_the_lift(seed: int, effect: float) -> None:
    verdict = v.judge(*_channel(seed=seed, effect=effect), CHANGE, _today(3), SETTINGS)
    assert verdict.interval is not None and verdict.lift is not None
    low, high = verdict.interval
    assert low < verdict.lift < high


def test_the_counterfactual_covers_the_pre_and_post_windows() -> None:
    verdict = v.judge(*_channel(seed=12, effect=0.3), CHANGE, _today(2), SETTINGS)
    days = {day for day, _, _ in verdict.counterfactual}
    pre = {FIRST + timedelta(days=k) for k in range(v.PRE_DAYS)}
    post_start = CHANGE + timedelta(days=SETTINGS.cooling_days + 1)
    post = {post_start + timedelta(days=k) for k in range(14)}
    assert pre | post <= days
    assert max(days) == max(post), "no day past the last whole week"
    assert all(actual >= 0 and predicted > 0 for _, actual, predicted in verdict.counterfactual)


def test_as_json_is_plain_data() -> None:
    data = v.judge(*_channel(seed=12, effect=0.3), CHANGE, _today(2), SETTINGS).as_json()
    assert data["method"] == v.PLACEBO and data["look"] == 2
    assert isinstance(data["counterfactual"][0][0], str) and isinstance(data["interval"], list)


def test_control_window_spans_every_look() -> None:
    first, last = v.control_window(CHANGE, SETTINGS)
    assert first == CHANGE - timedelta(days=v.HISTORY_DAYS)
    assert v.published_before(CHANGE) == FIRST
    assert last == _today(v.MAX_POST_WEEKS)


def test_settings_from_config() -> None:
    settings = v.VerdictSettings.from_config(
        {
            "OPTIMIZATION_COOLING_PERIOD_DAYS": 3,
            "MIN_OPTIMIZATION_EFFECT": 0.1,
            "MIN_OPTIMIZATION_CONFIDENCE": 0.8,
            "USE_STATISTICAL_ANALYSIS": False,
        }
    )
    assert settings == v.VerdictSettings(cooling_days=3, min_effect=0.1, min_confidence=0.8, statistical=False)


def test_an_unknown_metric_is_refused() -> None:
    with pytest.raises(ValueError):
        v.judge({}, {}, CHANGE, _today(1), SETTINGS, metric="likes")


def test_leave_one_out_index_equals_the_median_without_that_video() -> None:
    rng = np.random.default_rng(14)
    for _ in range(50):
        n, days = int(rng.integers(2, 12)), int(rng.integers(1, 6))
        norm = rng.normal(size=(n, days)).round(1)
        norm[rng.random((n, days)) < 0.3] = np.nan
        expected = np.array(
            [[_nanmedian(np.delete(norm[:, day], j)) for day in range(days)] for j in range(n)], dtype=float
        )
        np.testing.assert_allclose(vs.leave_one_out_indices(norm), expected, equal_nan=True)


def _nanmedian(values: npt.NDArray[np.float64]) -> float:
    present = values[~np.isnan(values)]
    return float(np.median(present)) if present.size else float("nan")


def _decaying(rng: np.random.Generator, level: float, rate: float, first: date, days: int) -> dict[date, float]:
    """Daily counts from ``first`` decaying at ``rate`` a day, ``level`` a day on the change day."""
    t = np.arange(days) - (CHANGE - first).days
    counts = rng.poisson(rng.gamma(10.0, level * np.exp(-rate * t) / 10.0))
    return {first + timedelta(days=k): float(c) for k, c in enumerate(counts)}


def test_a_video_decaying_faster_than_its_controls_is_not_called_hurt() -> None:
    """Its own decay, fitted over its history, is carried into the prediction: over 24 weeks of history the
    verdict sees the decay for what it is; from the pre-window alone it reads most of it as an effect."""
    first = CHANGE - timedelta(days=v.HISTORY_DAYS)
    days = (_today(8) - first).days + 1
    rng = np.random.default_rng(5)
    treated = _decaying(rng, 100.0, 0.012, first, days)
    controls = {
        k: _decaying(rng, float(rng.uniform(40, 300)), float(rng.uniform(0.0, 0.004)), first, days) for k in range(30)
    }
    full = v.judge(treated, controls, CHANGE, _today(8), SETTINGS)
    short = {day: n for day, n in treated.items() if day >= FIRST}
    pre_only = v.judge(short, controls, CHANGE, _today(8), SETTINGS)
    assert full.outcome != v.HURT and full.lift is not None and abs(full.lift) < 0.1  # a lean is no verdict
    assert pre_only.lift is not None and pre_only.lift < full.lift - 0.1


def test_early_looks_need_a_clearer_result() -> None:
    bars = [v.look_bar(week) for week in range(1, v.MAX_POST_WEEKS + 1)]
    assert bars == sorted(bars, reverse=True) and bars[-1] == v.LOOK_BOUNDARY_Z
    treated, controls = _channel(seed=3, effect=0.3)
    verdicts = [v.judge(treated, controls, CHANGE, _today(week), SETTINGS) for week in (1, 8)]
    for verdict in verdicts:
        assert verdict.confidence is not None and verdict.lift is not None and verdict.interval is not None
        z = float(v.stats.norm.ppf(verdict.confidence)) * v.look_bar(verdict.look) / v.Z_DECISIVE
        assert (verdict.outcome == v.HELPED) == (z >= v.look_bar(verdict.look) and verdict.lift >= SETTINGS.min_effect)
    # the same lift on a fifth of the data: a wider range around it
    first_width = verdicts[0].interval[1] - verdicts[0].interval[0]
    last_width = verdicts[1].interval[1] - verdicts[1].interval[0]
    assert first_width > last_width


def test_the_control_index_is_the_median_of_the_days_with_data() -> None:
    rng = np.random.default_rng(11)
    norm = rng.lognormal(0.0, 0.3, size=(31, 60))
    norm[rng.random(norm.shape) < 0.3] = np.nan
    norm[:, 5] = np.nan  # a day no control reported
    expected = [float(np.median(col[~np.isnan(col)])) if (~np.isnan(col)).any() else np.nan for col in norm.T]
    assert np.allclose(vs.control_index(norm), expected, equal_nan=True)


def test_the_day_matrix_places_each_day_and_leaves_gaps_empty() -> None:
    first = date(2026, 1, 1)
    series = [{first + timedelta(days=2): 4.0, first - timedelta(days=1): 9.0, first + timedelta(days=9): 1.0}, {}]
    matrix = vs.day_matrix(series, first, 5)
    assert np.array_equal(matrix, [[np.nan, np.nan, 4.0, np.nan, np.nan], [np.nan] * 5], equal_nan=True)
