"""Simulated channels for bench/experiments.py: one changed video, its controls, and everything else that moves.

Every noise source the verdict has to survive is on by default and can be
switched off one at a time (``Noise``), so the bench can show what each one
costs. A channel, per day from the pre-window's first day to the last day of
the last look (the verdict's whole history, ``HISTORY_DAYS`` before the change):

- channel-wide: a weekday cycle (+-15 %, a random phase), a random walk of
  the log level (3 % a day), and in some channels a +50 % shock for ten days
  at a random time (which may start right after the change);
- per video: a level (log-normal around ~100 a day; the changed video has
  ~100 engaged views a day over its pre-window), its own decay with age
  (uniform 0-1 % a day), daily counts drawn negative-binomial around that mean
  (variance mu + 0.1 mu^2);
- one control video goes viral: x5 for five days at a random time;
- the changed video has AR(1) day-to-day noise (rho 0.5, sigma 0.1 on the
  log scale), and the true effect multiplies it from the day after the change;
- a few videos are uploaded during the window: they are in the channel but,
  being published after the pre-window starts, are no controls (the caller's
  selection rule, ``is_control``);
- videos published 30 to 720 days before the pre-window: the younger ones
  have no data for the history's first days (no data, not zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from optimizer.verdict import HISTORY_DAYS, MAX_POST_WEEKS, PRE_DAYS, VerdictSettings, published_before

Counts = npt.NDArray[np.float64]

CONTROLS = 30
NEW_UPLOADS = 3
TREATED_DAILY = 100.0
NB_DISPERSION = 0.1  # variance = mu + NB_DISPERSION * mu^2
WEEKDAY_AMPLITUDE = 0.15
WALK_SIGMA = 0.03
SHOCK_SHARE = 0.3  # of channels
SHOCK_LIFT, SHOCK_DAYS = 0.5, 10
DECAY_MAX = 0.01  # per day
VIRAL_FACTOR, VIRAL_DAYS = 5.0, 5
AR_RHO, AR_SIGMA = 0.5, 0.1
CHANGE_DAY = date(2026, 6, 1)


@dataclass(frozen=True)
class Noise:
    negative_binomial: bool = True
    weekday: bool = True
    walk: bool = True
    shock: bool = True
    decay: bool = True
    uploads: bool = True
    viral: bool = True
    ar1: bool = True


@dataclass(frozen=True)
class Channel:
    """A simulated channel's daily counts (rows: videos; the changed video is row 0) and publish days."""

    first_day: date
    counts: Counts
    published: list[date]

    def series(self, row: int) -> dict[date, float]:
        """Day -> count, without the days before the video was published (no data)."""
        return {self.first_day + timedelta(days=k): float(v) for k, v in enumerate(self.counts[row]) if np.isfinite(v)}

    def controls(self, settings: VerdictSettings) -> dict[int, dict[date, float]]:
        return {row: self.series(row) for row in range(1, len(self.published)) if self.is_control(row, settings)}

    def is_control(self, row: int, settings: VerdictSettings) -> bool:
        """The caller's rule: published before the pre-window starts (no video here is changed in either window)."""
        return self.published[row] < published_before(CHANGE_DAY)


def total_days(settings: VerdictSettings) -> int:
    return HISTORY_DAYS + 1 + settings.cooling_days + 7 * MAX_POST_WEEKS


def simulate(rng: np.random.Generator, effect: float, noise: Noise, settings: VerdictSettings) -> Channel:
    days = total_days(settings)
    first = CHANGE_DAY - timedelta(days=HISTORY_DAYS)
    change_col = HISTORY_DAYS
    pre_col = HISTORY_DAYS - PRE_DAYS
    t = np.arange(days, dtype=np.float64)
    n_new = NEW_UPLOADS if noise.uploads else 0
    rows = 1 + CONTROLS + n_new
    log_mu = np.empty((rows, days))
    log_mu[: 1 + CONTROLS] = rng.normal(np.log(TREATED_DAILY), 0.8, size=(1 + CONTROLS, 1))
    decay = rng.uniform(0.0, DECAY_MAX, size=(rows, 1)) if noise.decay else np.zeros((rows, 1))
    log_mu[: 1 + CONTROLS] -= decay[: 1 + CONTROLS] * t
    published = [first + timedelta(days=pre_col - int(a)) for a in rng.integers(30, 720, size=1 + CONTROLS)]
    if n_new:
        upload_cols = rng.integers(pre_col + 1, days - 7, size=n_new)
        for k, col in enumerate(upload_cols):
            row = 1 + CONTROLS + k
            age = t - col
            log_mu[row] = np.where(age >= 0, np.log(TREATED_DAILY * 3) - decay[row, 0] * np.maximum(age, 0), -np.inf)
            published.append(first + timedelta(days=int(col)))
    log_mu += _channel_wide(rng, noise, days, change_col)
    if noise.viral:
        start = int(rng.integers(0, days - VIRAL_DAYS))
        log_mu[1 + int(rng.integers(0, CONTROLS)), start : start + VIRAL_DAYS] += np.log(VIRAL_FACTOR)
    if noise.ar1:
        log_mu[0] += _ar1(rng, days)
    # the changed video's level: ~TREATED_DAILY a day over its pre-window, whatever its decay and the channel did
    log_mu[0] += np.log(TREATED_DAILY) - np.log(np.mean(np.exp(log_mu[0, pre_col:change_col])))
    log_mu[0, change_col + 1 :] += np.log1p(effect)
    counts = _counts(rng, np.exp(log_mu), noise)
    for row, day in enumerate(published):
        counts[row, : max(0, (day - first).days)] = np.nan  # not yet published: no data
    return Channel(first, counts, published)


def _channel_wide(rng: np.random.Generator, noise: Noise, days: int, change_col: int) -> Counts:
    out = np.zeros(days)
    if noise.weekday:
        out += np.log1p(WEEKDAY_AMPLITUDE * np.sin(2 * np.pi * np.arange(days) / 7 + rng.uniform(0, 2 * np.pi)))
    if noise.walk:
        out += np.cumsum(rng.normal(0.0, WALK_SIGMA, size=days))
    if noise.shock and rng.random() < SHOCK_SHARE:
        start = int(rng.integers(0, days - SHOCK_DAYS))
        out[start : start + SHOCK_DAYS] += np.log1p(SHOCK_LIFT)
    return out


def _ar1(rng: np.random.Generator, days: int) -> Counts:
    shocks = rng.normal(0.0, AR_SIGMA, size=days)
    out = np.empty(days)
    out[0] = shocks[0] / np.sqrt(1 - AR_RHO**2)
    for k in range(1, days):
        out[k] = AR_RHO * out[k - 1] + shocks[k]
    return out


def _counts(rng: np.random.Generator, mu: Counts, noise: Noise) -> Counts:
    """Poisson counts around mu, gamma-mixed (negative binomial, shape 1/NB_DISPERSION) when that noise is on."""
    if noise.negative_binomial:
        shape = 1.0 / NB_DISPERSION
        mu = rng.gamma(shape, mu / shape)
    return rng.poisson(mu).astype(np.float64)
