"""Did a change help? The verdict on one applied change, from daily numbers.

Pure: no Flask, no RQ, no database. The caller (the judging job) reads the
changed video's daily series and its control videos' series for the days
``control_window`` names and calls :func:`judge` once per weekly look.

Windows, counted from the change day (which belongs to none of them):

    history  the HISTORY_DAYS days before it: each video's level and its own
             trend (videos decay with age, each at its own rate)
    pre      the last PRE_DAYS of those, which must have data
    cooling  the next ``cooling_days`` days after it, not measured
    post     whole weeks after cooling, ending on or before ``today``,
             at most MAX_POST_WEEKS; the look is the number of weeks

Controls are the caller's to choose, as a fixed set: the channel's videos
published before the pre-window starts and not changed in any window (a
new upload or another changed video would move the index for reasons of its
own). The method, its calibration by placebos and the correction for looking
every week are in optimizer/verdict_stats.py and docs/experiments.md; the
simulation that checks them is ``python -m bench.experiments``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from scipy import stats

from optimizer import verdict_stats as vs

PRE_DAYS = 28
# Days before the change whose numbers fix each video's level and trend. The trend is what lets the verdict tell a
# change from a video's own decay; 24 weeks measure it well enough (bench/experiments.py: 12 weeks gave 0.55 of +30 %
# changes called helped, 24 weeks 0.58 with a lower false rate). Videos younger than this use what they have.
HISTORY_DAYS = 168
MAX_POST_WEEKS = 8

HELPED = "helped"
LIKELY_HELPED = "likely_helped"
INCONCLUSIVE = "inconclusive"
LIKELY_HURT = "likely_hurt"
HURT = "hurt"
NOT_ENOUGH_DATA = "not_enough_data"
# USE_STATISTICAL_ANALYSIS=false: a plain before/after ratio, which cannot tell the change from everything else.
UP_BEFORE_AFTER = "up_before_after"
DOWN_BEFORE_AFTER = "down_before_after"
FLAT_BEFORE_AFTER = "flat_before_after"
OUTCOMES = (HELPED, LIKELY_HELPED, INCONCLUSIVE, LIKELY_HURT, HURT, NOT_ENOUGH_DATA)
BEFORE_AFTER_OUTCOMES = (UP_BEFORE_AFTER, DOWN_BEFORE_AFTER, FLAT_BEFORE_AFTER)
DECISIVE = (HELPED, HURT)
LEANS = (LIKELY_HELPED, LIKELY_HURT)

PLACEBO = "placebo"
BEFORE_AFTER = "before_after"
METRICS = ("engaged_views", "views")

MIN_CONTROLS = 10  # usable control videos (fewer placebos cannot tell a change from ordinary ups and downs)
MIN_DAILY_VIEWS = 5.0  # the changed video's pre-window mean per day
MIN_CONTROL_DAILY_VIEWS = 1.0  # a control below this is too noisy to normalise by its own level
MIN_COVERAGE = 0.75  # share of a window's days that must have data
DECISIVE_CONFIDENCE = 0.95  # 'helped' / 'hurt' need this (after the correction for weekly looks)
# The normal-equivalent deviation an estimate must reach for 'helped' or 'hurt' at the last look. Looking weekly up
# to MAX_POST_WEEKS times gives a fluke that many chances, so the bar at look k is this times sqrt(MAX_POST_WEEKS / k)
# (the shape of O'Brien and Fleming's boundary: early looks, on little data, need a clearer result), at most
# MAX_LOOK_BAR (so a change as plain as a doubling is still called in its first weeks). Chosen with
# bench/experiments.py (docs/experiments.md): the chance of a false 'helped' or 'hurt' at ANY look stays under 5 %.
LOOK_BOUNDARY_Z = 2.2
MAX_LOOK_BAR = 3.5
Z_DECISIVE = float(stats.norm.ppf(DECISIVE_CONFIDENCE))


@dataclass(frozen=True)
class VerdictSettings:
    cooling_days: int = 7  # OPTIMIZATION_COOLING_PERIOD_DAYS
    min_effect: float = 0.05  # MIN_OPTIMIZATION_EFFECT (lift as a ratio - 1)
    min_confidence: float = 0.7  # MIN_OPTIMIZATION_CONFIDENCE (a lean below 0.95)
    statistical: bool = True  # USE_STATISTICAL_ANALYSIS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> VerdictSettings:
        return cls(
            cooling_days=int(config.get("OPTIMIZATION_COOLING_PERIOD_DAYS", cls.cooling_days)),
            min_effect=float(config.get("MIN_OPTIMIZATION_EFFECT", cls.min_effect)),
            min_confidence=float(config.get("MIN_OPTIMIZATION_CONFIDENCE", cls.min_confidence)),
            statistical=bool(config.get("USE_STATISTICAL_ANALYSIS", cls.statistical)),
        )


def look_bar(look: int) -> float:
    """The deviation 'helped' or 'hurt' needs at weekly look ``look`` (1..MAX_POST_WEEKS)."""
    return min(MAX_LOOK_BAR, LOOK_BOUNDARY_Z * math.sqrt(MAX_POST_WEEKS / max(1, look)))


@dataclass(frozen=True)
class Verdict:
    outcome: str
    sentence: str  # for a creator
    lift: float | None  # estimated ratio - 1 (0.3 == +30 %)
    interval: tuple[float, float] | None  # on the lift scale
    confidence: float | None  # probability-like 0..1 that the change helped, corrected for the weekly looks
    method: str  # PLACEBO (statistical) or BEFORE_AFTER
    metric: str  # 'engaged_views' or 'views'
    post_days: int  # days of post-window used (whole weeks)
    look: int  # which weekly look this is (1..MAX_POST_WEEKS; 0 before the first whole week)
    controls: int  # control videos used
    counterfactual: list[tuple[date, float, float]] = field(default_factory=list)  # (day, actual, predicted)

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "sentence": self.sentence,
            "lift": self.lift,
            "interval": list(self.interval) if self.interval is not None else None,
            "confidence": self.confidence,
            "method": self.method,
            "metric": self.metric,
            "post_days": self.post_days,
            "look": self.look,
            "controls": self.controls,
            "counterfactual": [[d.isoformat(), actual, predicted] for d, actual, predicted in self.counterfactual],
        }


@dataclass(frozen=True)
class Windows:
    """Column slices into a day matrix that starts on the history's first day."""

    first_day: date
    history: slice
    pre: slice
    post: slice
    weeks: int
    days: int  # columns: pre + change day + cooling + post


def control_window(change_day: date, settings: VerdictSettings) -> tuple[date, date]:
    """First and last day any look can use: controls must be unchanged from the first through the last."""
    first = change_day - timedelta(days=HISTORY_DAYS)
    return first, change_day + timedelta(days=settings.cooling_days + 7 * MAX_POST_WEEKS)


def published_before(change_day: date) -> date:
    """Controls are published before this day (the pre-window's first): a newer video's launch would move them."""
    return change_day - timedelta(days=PRE_DAYS)


def windows(change_day: date, today: date, settings: VerdictSettings) -> Windows:
    first = change_day - timedelta(days=HISTORY_DAYS)
    post_start = HISTORY_DAYS + 1 + settings.cooling_days  # column of the first post day
    days_after_cooling = (today - first).days + 1 - post_start
    weeks = max(0, min(MAX_POST_WEEKS, days_after_cooling // 7))
    return Windows(
        first_day=first,
        history=slice(0, HISTORY_DAYS),
        pre=slice(HISTORY_DAYS - PRE_DAYS, HISTORY_DAYS),
        post=slice(post_start, post_start + 7 * weeks),
        weeks=weeks,
        days=post_start + 7 * weeks,
    )


def judge(
    treated: Mapping[date, float],
    controls: Mapping[int, Mapping[date, float]],
    change_day: date,
    today: date,
    settings: VerdictSettings,
    metric: str = "engaged_views",
) -> Verdict:
    """The verdict on the change made to ``treated`` on ``change_day``, as known on ``today``.

    ``treated`` and each of ``controls`` (keyed by video id) map a day to that
    day's count of ``metric``; a missing day means no data, not zero.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    win = windows(change_day, today, settings)
    if not settings.statistical:
        return _before_after(treated, win, metric, settings)
    return _placebo_verdict(treated, controls, win, today, metric, settings)


def _not_enough(reason: str, method: str, metric: str, win: Windows, controls: int, chart: list[Any]) -> Verdict:
    return Verdict(NOT_ENOUGH_DATA, reason, None, None, None, method, metric, 7 * win.weeks, win.weeks, controls, chart)


def _treated_problem(row: np.ndarray[Any, Any], win: Windows, metric: str) -> str | None:
    """Why the changed video's own numbers cannot be judged yet, in a creator's words (None: they can)."""
    words = _metric_words(metric)
    if win.weeks == 0:
        return "Not enough data yet: the change is judged after its cooling period and one more full week."
    if vs.coverage(row, win.pre) < MIN_COVERAGE or vs.coverage(row, win.post) < MIN_COVERAGE:
        return f"Not enough data: YouTube has not reported {words} for enough days around the change."
    if float(np.nanmean(row[win.pre])) < MIN_DAILY_VIEWS:
        return (
            f"Not enough data: this video had fewer than {MIN_DAILY_VIEWS:.0f} {words} a day before the change, "
            "too few to tell a change from chance."
        )
    return None


def _placebo_verdict(
    treated: Mapping[date, float],
    controls: Mapping[int, Mapping[date, float]],
    win: Windows,
    today: date,
    metric: str,
    settings: VerdictSettings,
) -> Verdict:
    chart_days = max(win.days, min((today - win.first_day).days + 1, win.days + 7))
    values = vs.day_matrix([treated, *controls.values()], win.first_day, chart_days)
    usable = _usable_controls(values[1:], win)
    index = vs.control_index(vs.normalised(usable, win.pre)) if usable.shape[0] else np.full(chart_days, np.nan)
    problem = _treated_problem(values[0], win, metric)
    if problem is None and usable.shape[0] < MIN_CONTROLS:
        problem = (
            f"Not enough data: only {usable.shape[0]} of your other videos can serve as a comparison "
            f"(at least {MIN_CONTROLS} are needed)."
        )
    if problem is not None:
        chart = _counterfactual(values[0], index, win, 0.0, chart_days, 0.0)
        return _not_enough(problem, PLACEBO, metric, win, int(usable.shape[0]), chart)
    fitted = _placebos(values[0], usable, index, win)
    if fitted is None:
        return _not_enough(
            "Not enough data: your other videos' numbers are too patchy to compare against.",
            PLACEBO,
            metric,
            win,
            int(usable.shape[0]),
            [],
        )
    placebos, slope = fitted
    return _decide(placebos, slope, values[0], index, win, metric, settings, int(usable.shape[0]))


def _usable_controls(controls: np.ndarray[Any, Any], win: Windows) -> np.ndarray[Any, Any]:
    """Control rows with enough days of data in both windows and enough views to normalise by."""
    if controls.shape[0] == 0:
        return controls
    covered = np.mean(~np.isnan(controls[:, win.pre]), axis=1) >= MIN_COVERAGE
    if win.weeks:
        covered &= np.mean(~np.isnan(controls[:, win.post]), axis=1) >= MIN_COVERAGE
    with np.errstate(invalid="ignore"):
        level = vs.window_means(controls, win.pre)
    return controls[covered & (level >= MIN_CONTROL_DAILY_VIEWS)]


def _placebos(
    treated: np.ndarray[Any, Any], usable: np.ndarray[Any, Any], index: np.ndarray[Any, Any], win: Windows
) -> tuple[vs.Placebos, float] | None:
    """The placebo fit and the changed video's (shrunk) trend. Every control is estimated exactly as the changed
    video is: its own trend from its history, pulled towards the channel's usual one, against the index of the
    other controls; its own week-to-week noise measured from its history."""
    norm = vs.normalised(usable, win.pre)
    loo = vs.leave_one_out_indices(norm)
    row, row_index = treated[None, :], index[None, :]
    control_trends = vs.fit_trends(usable, loo, win.history)
    treated_trend = vs.fit_trends(row, row_index, win.history)
    control_slopes = vs.shrunk_slopes(control_trends, control_trends)
    treated_slope = vs.shrunk_slopes(treated_trend, control_trends)
    effects, _, _ = vs.trend_effects(usable, loo, win.history, win.post, control_slopes)
    noise = vs.effect_noise(usable, loo, win.history, win.post, control_trends.slope)
    treated_effect, _, _ = vs.trend_effects(row, row_index, win.history, win.post, treated_slope)
    treated_noise = vs.effect_noise(row, row_index, win.history, win.post, treated_trend.slope)
    fit = vs.placebo_fit(float(treated_effect[0]), float(treated_noise[0]), effects, noise)
    return None if fit is None else (fit, float(treated_slope[0]))


def _decide(
    placebos: vs.Placebos,
    slope: float,
    treated: np.ndarray[Any, Any],
    index: np.ndarray[Any, Any],
    win: Windows,
    metric: str,
    settings: VerdictSettings,
    controls: int,
) -> Verdict:
    p_helped = min(max(placebos.one_sided_p_helped(), vs.EPS), 1.0 - vs.EPS)
    z = float(stats.norm.isf(p_helped))
    bar = look_bar(win.weeks)
    confidence = float(stats.norm.cdf(z * Z_DECISIVE / bar))  # 0.95 exactly at this look's bar
    log_lift = placebos.estimate
    half = placebos.half_width(bar)
    lift = math.expm1(log_lift)
    interval = (math.expm1(log_lift - half), math.expm1(log_lift + half))
    outcome = _outcome(confidence, lift, settings)
    chart = _counterfactual(treated, index, win, log_lift, win.days, slope)
    sentence = _sentence(outcome, lift, interval, win.weeks, metric, settings)
    return Verdict(
        outcome, sentence, lift, interval, confidence, PLACEBO, metric, 7 * win.weeks, win.weeks, controls, chart
    )


def _outcome(confidence: float, lift: float, settings: VerdictSettings) -> str:
    if confidence >= DECISIVE_CONFIDENCE and lift >= settings.min_effect:
        return HELPED
    if 1.0 - confidence >= DECISIVE_CONFIDENCE and -lift >= settings.min_effect:
        return HURT
    if DECISIVE_CONFIDENCE > confidence >= settings.min_confidence:
        return LIKELY_HELPED
    if DECISIVE_CONFIDENCE > 1.0 - confidence >= settings.min_confidence:
        return LIKELY_HURT
    return INCONCLUSIVE


def _counterfactual(
    treated: np.ndarray[Any, Any],
    index: np.ndarray[Any, Any],
    win: Windows,
    log_lift: float,
    days: int,
    slope: float,
) -> list[tuple[date, float, float]]:
    """(day, actual, predicted without the change) for the chart, from the pre-window's first day through the post.

    The prediction is the video's level relative to the control index over
    its history, carried on by its own trend and by the index; it is scaled
    so that actual/predicted over the post-window equals 1 + lift. Days
    without data are left out.
    """
    trend = np.exp(slope * (np.arange(days, dtype=np.float64) - win.history.stop))
    row, shape = treated[None, :days], (index[:days] * trend)[None, :]
    level, _ = vs.ratio_to_index(row, shape, win.history)
    post_ratio, _ = vs.ratio_to_index(row, shape, win.post)
    if not np.isfinite(level[0]):
        return []
    scale = float(level[0])
    if win.weeks and np.isfinite(post_ratio[0]):
        # the lift is centred on the placebos; keep the chart's post-window gap equal to it
        scale = float(post_ratio[0]) / math.exp(log_lift)
    days_list = vs.day_list(win.first_day, days)
    return [
        (day, float(actual), float(scale * predicted))
        for col, (day, actual, predicted) in enumerate(zip(days_list, treated[:days], shape[0], strict=True))
        if col >= win.pre.start and math.isfinite(actual) and math.isfinite(predicted)
    ]


def _before_after(treated: Mapping[date, float], win: Windows, metric: str, settings: VerdictSettings) -> Verdict:
    """USE_STATISTICAL_ANALYSIS=false: the post-window's daily mean over the pre-window's, and nothing more."""
    values = vs.day_matrix([treated], win.first_day, max(win.days, HISTORY_DAYS + 1))
    problem = _treated_problem(values[0], win, metric)
    if problem is not None:
        return _not_enough(problem, BEFORE_AFTER, metric, win, 0, [])
    means = vs.window_means(values, win.pre), vs.window_means(values, win.post)
    before, after = float(means[0][0]), float(means[1][0])
    lift = after / before - 1.0
    if lift >= settings.min_effect:
        outcome = UP_BEFORE_AFTER
    elif lift <= -settings.min_effect:
        outcome = DOWN_BEFORE_AFTER
    else:
        outcome = FLAT_BEFORE_AFTER
    chart = [
        (day, float(v), before)
        for col, (day, v) in enumerate(zip(vs.day_list(win.first_day, win.days), values[0][: win.days], strict=True))
        if col >= win.pre.start and math.isfinite(v)
    ]
    sentence = _sentence(outcome, lift, None, win.weeks, metric, settings)
    return Verdict(outcome, sentence, lift, None, None, BEFORE_AFTER, metric, 7 * win.weeks, win.weeks, 0, chart)


def _metric_words(metric: str) -> str:
    return "engaged views" if metric == "engaged_views" else "views"


def _pct(x: float) -> str:
    return f"{abs(x) * 100:.0f}%"


def _sentence(
    outcome: str,
    lift: float,
    interval: tuple[float, float] | None,
    weeks: int,
    metric: str,
    settings: VerdictSettings,
) -> str:
    words = _metric_words(metric)
    span = f"{weeks} week{'s' if weeks != 1 else ''}"
    more_less = "more" if lift >= 0 else "fewer"
    if interval is not None:
        lo, hi = interval
        rng = f" (somewhere between {lo * 100:+.0f}% and {hi * 100:+.0f}%)"
    else:
        rng = ""
    still = "we keep measuring" if weeks < MAX_POST_WEEKS else "this is the final verdict"
    if outcome == HELPED:
        return (
            f"This change helped: about {_pct(lift)} more {words} over {span} than your other videos "
            f"suggest it would have had without it{rng}."
        )
    if outcome == HURT:
        return (
            f"This change hurt: about {_pct(lift)} fewer {words} over {span} than your other videos "
            f"suggest it would have had without it{rng}. Consider going back to the previous version."
        )
    if outcome == LIKELY_HELPED:
        return (
            f"This change probably helped (about {_pct(lift)} more {words} over {span}), "
            f"but it is not certain; {still}."
        )
    if outcome == LIKELY_HURT:
        return (
            f"This change may have hurt (about {_pct(lift)} fewer {words} over {span}), but it is not certain; {still}."
        )
    if outcome == INCONCLUSIVE:
        return (
            f"No clear effect yet: {_pct(lift)} {more_less} {words} over {span} than expected from your other "
            f"videos, within their normal ups and downs{rng}; {still}."
        )
    direction = {UP_BEFORE_AFTER: "up", DOWN_BEFORE_AFTER: "down", FLAT_BEFORE_AFTER: "about level"}[outcome]
    return (
        f"Before/after only: {words} are {direction} ({lift * 100:+.0f}%) in the {span} after the change compared "
        f"with the {PRE_DAYS} days before. This compares with nothing else on your channel, so it cannot say "
        f"whether the change caused it."
    )
