"""How honest and how sharp the experiment verdict is, on simulated channels.

``python -m bench.experiments`` simulates channels of 30 control videos and
one changed video (bench/experiments_sim.py: every noise source on, each
switchable with a ``--no-...`` flag), runs ``optimizer.verdict.judge`` at
every weekly look the lifecycle makes (weeks 1..8 after cooling) and counts
a verdict at ANY look, as a creator would see it. Prints:

``false_verdict_rate_null=F``
    Share of changes with no true effect that were called 'helped' or
    'hurt' at some look. Target at most 0.05.
``false_lean_rate_null=L``
    Share of those that showed a lean ('likely helped' / 'likely hurt') at
    some look. Leans are meant to be common; shown for information.
``helped_rate_at_30pct=P``
    Share of changes with a true +30 % (on ~100 engaged views a day) called
    'helped' at some look. Target at least 0.5.
``lift_error_median=E``
    Median absolute error of the lift the creator is left with for those
    +30 % changes (the lift at the look that decided, else at week 8).
    Target at most 0.10.
``verdict_ms_per_experiment=T``
    Mean wall time of one ``judge`` call (one look). Target at most 50.
``before_after_false_verdict_rate_null=F`` and ``before_after_helped_rate_at_30pct=P``
    The same two rates for a plain before/after comparison of the changed
    video alone (no controls): a Welch t-test of its daily counts in the
    pre-window against the post-window, 'helped'/'hurt' at p < 0.05 when the
    lift passes MIN_OPTIMIZATION_EFFECT, at any look.

Seeded (``--seed``), so the same arguments print the same figures; the
simulations are spread over ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, fields
from datetime import timedelta
from multiprocessing import Pool

import numpy as np
from scipy import stats

from bench.experiments_sim import CHANGE_DAY, Channel, Counts, Noise, simulate
from optimizer.verdict import DECISIVE, HELPED, HISTORY_DAYS, LEANS, MAX_POST_WEEKS, PRE_DAYS, VerdictSettings, judge

NULL, LIFT_30 = 0.0, 0.30
SETTINGS = VerdictSettings()


@dataclass(frozen=True)
class Looks:
    """One simulated change judged at every look."""

    outcomes: list[str]
    lifts: list[float | None]
    confidences: list[float | None]
    before_after: list[str]  # 'helped' / 'hurt' / '' per look
    seconds: list[float]  # wall time of each judge call

    def decisive(self) -> bool:
        return any(o in DECISIVE for o in self.outcomes)

    def lean(self) -> bool:
        return any(o in LEANS for o in self.outcomes)

    def final_lift(self) -> float | None:
        """The lift the creator is left with: at the first 'helped'/'hurt' (the lifecycle stops there), else last."""
        for outcome, lift in zip(self.outcomes, self.lifts, strict=True):
            if outcome in DECISIVE:
                return lift
        return self.lifts[-1]


def judge_every_look(channel: Channel, settings: VerdictSettings) -> Looks:
    treated = channel.series(0)
    controls = channel.controls(settings)
    out = Looks([], [], [], [], [])
    for week in range(1, MAX_POST_WEEKS + 1):
        today = CHANGE_DAY + timedelta(days=settings.cooling_days + 7 * week)
        start = time.perf_counter()
        verdict = judge(treated, controls, CHANGE_DAY, today, settings)
        out.seconds.append(time.perf_counter() - start)
        out.outcomes.append(verdict.outcome)
        out.lifts.append(verdict.lift)
        out.confidences.append(verdict.confidence)
        out.before_after.append(before_after_verdict(channel.counts[0], week, settings))
    return out


def before_after_verdict(treated: Counts, week: int, settings: VerdictSettings) -> str:
    """A plain before/after comparison: Welch's t-test of the changed video's daily counts, pre against post."""
    post_start = HISTORY_DAYS + 1 + settings.cooling_days
    pre, post = treated[HISTORY_DAYS - PRE_DAYS : HISTORY_DAYS], treated[post_start : post_start + 7 * week]
    lift = float(post.mean() / max(pre.mean(), 1e-9)) - 1.0
    p = float(stats.ttest_ind(pre, post, equal_var=False).pvalue)
    if p < 0.05 and abs(lift) >= settings.min_effect:
        return "helped" if lift > 0 else "hurt"
    return ""


def _one(task: tuple[int, int, float, Noise]) -> Looks:
    seed, index, effect, noise = task
    rng = np.random.default_rng([seed, index, int(round(effect * 1000))])
    return judge_every_look(simulate(rng, effect, noise, SETTINGS), SETTINGS)


def run(effect: float, n: int, seed: int, noise: Noise, workers: int) -> list[Looks]:
    tasks = [(seed, i, effect, noise) for i in range(n)]
    if workers <= 1:
        return [_one(t) for t in tasks]
    with Pool(workers) as pool:
        return pool.map(_one, tasks, chunksize=max(1, n // (workers * 8)))


def report(null: list[Looks], lifted: list[Looks]) -> list[str]:
    def share(flags: list[bool]) -> float:
        return sum(flags) / max(1, len(flags))

    errors = [abs(lift - LIFT_30) for looks in lifted if (lift := looks.final_lift()) is not None]
    seconds = [s for looks in (*null, *lifted) for s in looks.seconds]
    return [
        f"false_verdict_rate_null={share([x.decisive() for x in null]):.3f}",
        f"false_lean_rate_null={share([x.lean() for x in null]):.3f}",
        f"helped_rate_at_30pct={share([HELPED in x.outcomes for x in lifted]):.3f}",
        f"lift_error_median={statistics.median(errors) if errors else float('nan'):.3f}",
        f"verdict_ms_per_experiment={1000 * statistics.fmean(seconds):.1f}",
        f"before_after_false_verdict_rate_null={share([any(x.before_after) for x in null]):.3f}",
        f"before_after_helped_rate_at_30pct={share(['helped' in x.before_after for x in lifted]):.3f}",
    ]


def _parse(argv: list[str]) -> tuple[argparse.Namespace, Noise]:
    parser = argparse.ArgumentParser(prog="python -m bench.experiments", description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=1000, help="simulated changes per scenario (default 1000)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--workers", type=int, default=2)
    for f in fields(Noise):
        flag = "--no-" + f.name.replace("_", "-")
        parser.add_argument(flag, dest=f.name, action="store_false", help=f"switch off the {f.name} noise")
    args = parser.parse_args(argv)
    return args, Noise(**{f.name: getattr(args, f.name) for f in fields(Noise)})


def main(argv: list[str] | None = None) -> int:
    args, noise = _parse(argv or [])
    started = time.perf_counter()
    null = run(NULL, args.changes, args.seed, noise, args.workers)
    lifted = run(LIFT_30, args.changes, args.seed, noise, args.workers)
    for line in report(null, lifted):
        print(line)
    off = [f.name for f in fields(Noise) if not getattr(noise, f.name)]
    print(
        f"# {args.changes} changes a scenario, seed {args.seed}, noise off: {', '.join(off) or 'none'}, "
        f"{time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
