"""The numbers behind a verdict (optimizer/verdict.py): arrays in, estimates out.

One estimate, used for the changed video and, identically, for each control
video in turn (the in-space placebos):

    effect = log( post-window views / views predicted for the post-window )

The prediction carries the video's level over its history (HISTORY_DAYS
before the change) forward by two things: the control index, and the
video's own trend. The control index on a day is the median, over the
control videos, of each one's views that day divided by its own pre-window
mean: the median keeps one control video going viral from moving it;
normalising each control by its own level keeps big videos from outweighing
small ones; dividing day by day removes what the whole channel did (weekday
cycles, a spike of traffic, a slow month). The trend is the video's own
decay relative to the index, fitted over its history (a Poisson regression
with the index as offset) and pulled towards the channel's usual decay by
how sure that fit is (empirical Bayes): videos decay at their own rates, and
the difference between two videos' decay, carried over two months, is
otherwise as large as the effect being looked for. Days a video has no data
for are left out of its sums, so a gap never reads as a drop.

A placebo is the same estimate for control video j against the index of the
other controls. If the changed video is like its controls, its estimate
under no effect is one more draw from the placebos' distribution, so where
it falls in that distribution is a calibrated test (docs/experiments.md);
the spread is adjusted for how noisy the changed video itself is, measured
from its history's weekly totals.
Pure numpy/scipy: no database, no Flask.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
from scipy import stats

Matrix = npt.NDArray[np.float64]

OUTLIER_MADS = 4.0  # a placebo this many robust deviations from the median is a one-off (a viral control), left out
NORMAL_SCALE_OF_MAD = 1.4826  # MAD * this = the standard deviation, for normally distributed values
EPS = 1e-12


@dataclass(frozen=True)
class Placebos:
    """Where the changed video's estimate falls among the placebos'."""

    estimate: float  # the changed video's log effect, centred on the placebos (0 = moved like its controls)
    scale: float  # standard deviation of a new draw from the placebo distribution (a prediction, not the mean's error)
    df: int  # degrees of freedom of the t distribution fitted to the placebos
    used: int  # placebos kept after leaving out one-off outliers

    def t_statistic(self) -> float:
        return self.estimate / self.scale

    def one_sided_p_helped(self) -> float:
        """Probability, under no effect, of an estimate at least this high (small = helped)."""
        return float(stats.t.sf(self.t_statistic(), self.df))

    def half_width(self, z: float) -> float:
        """Half-width, on the log scale, of the interval whose ends are ``z`` normal-equivalent deviations away."""
        return float(stats.t.ppf(stats.norm.cdf(z), self.df)) * self.scale


def day_matrix(series: Sequence[Mapping[date, float]], first: date, days: int) -> Matrix:
    """One row per series, one column per day from ``first``; NaN where a day has no data."""
    out = np.full((len(series), days), np.nan)
    origin = first.toordinal()
    for row, values in enumerate(series):
        if not values:
            continue
        # whole columns at once: a judging look reads ~30 series of ~240 days, per-item Python was most of its time
        cols = np.fromiter(map(date.toordinal, values.keys()), dtype=np.int64, count=len(values)) - origin
        counts = np.array(list(values.values()), dtype=np.float64)  # a None (no number) becomes NaN
        inside = (cols >= 0) & (cols < days)
        out[row, cols[inside]] = counts[inside]
    return out


def coverage(row: Matrix, cols: slice) -> float:
    """Share of the days in ``cols`` that have data."""
    window = row[cols]
    return float(np.count_nonzero(~np.isnan(window))) / max(1, window.size)


def window_means(values: Matrix, cols: slice) -> Matrix:
    """Per-row mean over the days that have data (NaN when none do)."""
    window = values[:, cols]
    counts = np.count_nonzero(~np.isnan(window), axis=1)
    sums = np.nansum(window, axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def normalised(controls: Matrix, pre: slice) -> Matrix:
    """Each control's daily values divided by its own pre-window mean."""
    means = window_means(controls, pre)
    return controls / means[:, None]


def control_index(norm: Matrix) -> Matrix:
    """The channel's daily level relative to the pre-window: the median over the control videos."""
    return _column_medians(norm)


def _column_medians(values: Matrix) -> Matrix:
    """Median of each column over the rows with data; NaN for a column with none (a day no control reported).
    From one sort (NaN sorts last) rather than numpy's nanmedian, which goes through masked arrays and was
    the largest part of a judging look's time."""
    if values.shape[0] == 0:
        return np.full(values.shape[1], np.nan)
    ordered = np.sort(values, axis=0)
    counts = np.count_nonzero(~np.isnan(values), axis=0)
    low, high = np.maximum(counts - 1, 0) // 2, counts // 2  # the middle one, or the middle two
    pick = np.take_along_axis(ordered, np.stack([low, np.minimum(high, values.shape[0] - 1)]), axis=0)
    medians = 0.5 * (pick[0] + pick[1])
    return np.where(counts > 0, medians, np.nan)


def leave_one_out_indices(norm: Matrix) -> Matrix:
    """Row j: the control index computed without control j (for j's placebo).

    From one sort per day rather than n medians: without row j, the k-th
    smallest value of a day is the sorted column's k-th if k is below j's rank
    there, else the next one. Rows with no data that day leave the day's
    median as it is.
    """
    n, days = norm.shape
    order = np.argsort(norm, axis=0, kind="stable")  # NaN sorts last
    ordered = np.take_along_axis(norm, order, axis=0)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(n)[:, None], (n, days)), axis=0)
    remaining = np.count_nonzero(~np.isnan(norm), axis=0) - 1  # values left once row j is out

    def kth_without_row(k: npt.NDArray[np.intp]) -> Matrix:
        at = np.where(k[None, :] < rank, k[None, :], k[None, :] + 1)
        return np.take_along_axis(ordered, np.clip(at, 0, n - 1), axis=0)

    low, high = np.maximum(remaining - 1, 0) // 2, np.maximum(remaining, 0) // 2
    loo = 0.5 * (kth_without_row(low) + kth_without_row(high))
    loo = np.where(remaining[None, :] >= 1, loo, np.nan)
    return np.where(np.isnan(norm), _column_medians(norm)[None, :], loo)


def ratio_to_index(values: Matrix, index: Matrix, cols: slice) -> tuple[Matrix, Matrix]:
    """Per row: sum of values / sum of the index over the days both have, and the sum of values."""
    v = values[:, cols]
    i = index[:, cols]
    both = ~np.isnan(v) & ~np.isnan(i)
    value_sum = np.where(both, v, 0.0).sum(axis=1)
    index_sum = np.where(both, i, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return value_sum / index_sum, value_sum


def placebo_fit(treated_effect: float, treated_noise: float, effects: Matrix, noise: Matrix) -> Placebos | None:
    """Fit a t distribution to the placebo effects and place the changed video's effect in it.

    Placebos more than OUTLIER_MADS robust deviations from their median are
    left out (one control going viral in one window is not the kind of video
    being judged). The prediction scale is the placebos' standard deviation
    widened for a new draw (sqrt(1 + 1/n)), with their average own noise
    (``noise``: each video's variance on the effect's scale, effect_noise)
    replaced by the changed video's: a video noisier than its controls
    (fewer views, or days that run in streaks) is judged with a wider
    spread, a steadier one with a narrower one.
    """
    ok = np.isfinite(effects) & np.isfinite(noise)
    effects, noise = effects[ok], noise[ok]
    if effects.size < 3 or not math.isfinite(treated_effect):
        return None
    median = float(np.median(effects))
    mad = NORMAL_SCALE_OF_MAD * float(np.median(np.abs(effects - median)))
    keep = np.abs(effects - median) <= OUTLIER_MADS * mad if mad > 0 else np.ones(effects.size, dtype=bool)
    kept, kept_noise = effects[keep], noise[keep]
    n = int(kept.size)
    if n < 3:
        return None
    spread2 = float(np.var(kept, ddof=1)) * (1.0 + 1.0 / n)
    # swap the placebos' average own noise for the changed video's; never below half the placebos'
    # variance, so a noise measured low by chance cannot make the verdict bold
    scale2 = max(spread2 + treated_noise - float(np.mean(kept_noise)), 0.5 * spread2)
    scale = math.sqrt(scale2)
    return Placebos(estimate=treated_effect - float(np.mean(kept)), scale=max(scale, EPS), df=n - 1, used=n)


def day_list(first: date, days: int) -> list[date]:
    return [first + timedelta(days=k) for k in range(days)]


# -- each video's own trend (videos decay with age, each at its own rate) -------------------------------------------

TREND_ITERATIONS = 6  # Newton steps of the Poisson fit: from a flat start, converged to well under 1e-6 a day
UNLIKE_SLOPE_Z = 3.0  # deviations from the channel's usual slope beyond which a video keeps its own
MIN_NOISE_WEEKS = 6  # whole weeks of history needed to measure a video's own week-to-week noise


@dataclass(frozen=True)
class Trends:
    """Per row: the log-scale slope a day relative to the index, and its variance from the fit."""

    slope: Matrix
    variance: Matrix


def _window(values: Matrix, index: Matrix, cols: slice) -> tuple[Matrix, Matrix, Matrix, npt.NDArray[np.bool_]]:
    """(counts, index, days from the row's mean data day, has-data mask) over ``cols``, zeros where no data."""
    v, i = values[:, cols], index[:, cols]
    ok = np.isfinite(v) & np.isfinite(i) & (i > 0)
    t = np.arange(v.shape[1], dtype=np.float64)[None, :]
    n = np.count_nonzero(ok, axis=1)
    centre = np.where(ok, t, 0.0).sum(axis=1) / np.maximum(n, 1)
    return np.where(ok, v, 0.0), np.where(ok, i, 0.0), np.where(ok, t - centre[:, None], 0.0), ok


def fit_trends(values: Matrix, index: Matrix, history: slice) -> Trends:
    """Each row's counts over ``history`` as Poisson around level * exp(slope * day) * index (the index carries
    the channel: weekdays, its ups and downs), fitted by Newton's method for all rows at once. The variance is
    the fit's, widened by the row's own overdispersion (Pearson's statistic)."""
    y, off, t, ok = _window(values, index, history)
    level = np.log(np.maximum(y.sum(axis=1), 0.5) / np.maximum(off.sum(axis=1), EPS))
    slope = np.zeros_like(level)
    for _ in range(TREND_ITERATIONS):
        mu = off * np.exp(np.clip(level[:, None] + slope[:, None] * t, -50.0, 50.0))
        s0, s1, s2 = mu.sum(axis=1), (t * mu).sum(axis=1), (t * t * mu).sum(axis=1)
        g0, g1 = (y - mu).sum(axis=1), (t * (y - mu)).sum(axis=1)
        det = s0 * s2 - s1 * s1
        det = np.where(det > EPS, det, np.inf)  # a row too short to fit a slope keeps a flat one
        level += (s2 * g0 - s1 * g1) / det
        slope += (s0 * g1 - s1 * g0) / det
    mu = off * np.exp(np.clip(level[:, None] + slope[:, None] * t, -50.0, 50.0))
    n = np.count_nonzero(ok, axis=1)
    dispersion = np.where(ok, (y - mu) ** 2 / np.maximum(mu, EPS), 0.0).sum(axis=1) / np.maximum(n - 2, 1)
    s0, s1, s2 = mu.sum(axis=1), (t * mu).sum(axis=1), (t * t * mu).sum(axis=1)
    variance = np.maximum(dispersion, 1.0) * s0 / np.maximum(s0 * s2 - s1 * s1, EPS)
    return Trends(slope=slope, variance=np.where(np.isfinite(variance), variance, np.inf))


def shrunk_slopes(own: Trends, controls: Trends) -> Matrix:
    """Each slope pulled towards the control videos' typical slope, by how sure its own fit is (empirical
    Bayes): a video with a short or noisy history gets the channel's usual decay, one with a long steady
    history keeps its own. The spread of true slopes is the controls' spread less their fits' noise."""
    finite = np.isfinite(controls.slope) & np.isfinite(controls.variance)
    if np.count_nonzero(finite) < 3:
        return np.zeros_like(own.slope)
    centre = float(np.median(controls.slope[finite]))
    spread = max(float(np.var(controls.slope[finite], ddof=1) - np.mean(controls.variance[finite])), EPS)
    weight = spread / (spread + own.variance)
    # a slope this far outside what the channel's spread and its own fit's error allow is a video unlike the
    # rest (it decays far faster, or grows): it keeps its own trend rather than being pulled to theirs
    unlike = np.abs(own.slope - centre) > UNLIKE_SLOPE_Z * np.sqrt(spread + own.variance)
    weight = np.where(unlike, 1.0, weight)
    return np.where(np.isfinite(own.slope), centre + weight * (own.slope - centre), centre)


def trend_effects(
    values: Matrix, index: Matrix, history: slice, post: slice, slopes: Matrix
) -> tuple[Matrix, Matrix, Matrix]:
    """Per row: the log effect (post-window counts over those predicted from the history's level carried on
    by the row's slope and the index), the history's count and the post-window's count."""
    shape = index * np.exp(slopes[:, None] * (np.arange(values.shape[1], dtype=np.float64)[None, :] - history.stop))
    history_ratio, history_sum = ratio_to_index(values, shape, history)
    post_ratio, post_sum = ratio_to_index(values, shape, post)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(post_ratio) - np.log(history_ratio), history_sum, post_sum


def effect_noise(values: Matrix, index: Matrix, history: slice, post: slice, slopes: Matrix) -> Matrix:
    """Each row's own noise on the effect's scale: the variance of its weekly totals around its fitted trend
    in the history (which holds overdispersion and day-to-day correlation, not just counting noise), scaled
    to the history's and the post-window's lengths. Rows with under MIN_NOISE_WEEKS whole weeks fall back on
    counting noise alone."""
    weeks = (history.stop - history.start) // 7
    cols = slice(history.stop - 7 * weeks, history.stop)
    shape = index * np.exp(slopes[:, None] * (np.arange(values.shape[1], dtype=np.float64)[None, :] - history.stop))
    v, p = values[:, cols], shape[:, cols]
    both = np.isfinite(v) & np.isfinite(p)
    week_v = np.where(both, v, 0.0).reshape(len(v), weeks, 7).sum(axis=2)
    week_p = np.where(both, p, 0.0).reshape(len(v), weeks, 7).sum(axis=2)
    whole = both.reshape(len(v), weeks, 7).sum(axis=2) >= 6
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(whole & (week_v > 0) & (week_p > 0), np.log(week_v / week_p), np.nan)
        counted = np.count_nonzero(np.isfinite(logs), axis=1)
        centred = logs - np.nanmean(logs, axis=1)[:, None]
    weekly = np.nansum(centred**2, axis=1) / np.maximum(counted - 2, 1)  # level and slope were fitted
    history_days = np.count_nonzero(np.isfinite(values[:, history]), axis=1)
    post_days = np.count_nonzero(np.isfinite(values[:, post]), axis=1)
    _, history_sum = ratio_to_index(values, shape, history)  # the counts behind the fallback (no second fit)
    _, post_sum = ratio_to_index(values, shape, post)
    with np.errstate(divide="ignore", invalid="ignore"):
        measured = 7.0 * weekly * (1.0 / np.maximum(history_days, 1) + 1.0 / np.maximum(post_days, 1))
        counting = 1.0 / history_sum + 1.0 / post_sum
    return np.where(counted >= MIN_NOISE_WEEKS, measured, counting)
