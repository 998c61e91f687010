"""The demo channel's model (optimizer/demo.py): its past change is one the
verdict can judge, and says 'helped' with about the lift it was made with,
on whatever day the demo is imported; the days after the import are
generated the same every time."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from optimizer import demo
from optimizer.verdict import HELPED, VerdictSettings, control_window, judge


def _judged(today: date):
    videos = demo.generate(today)
    changed = videos[demo.CHANGED_VIDEO_INDEX]
    settings = VerdictSettings()
    first, _ = control_window(changed.changed_on, settings)
    controls = {
        i: {d[0]: float(d[2]) for d in v.daily}
        for i, v in enumerate(videos)
        if v is not changed and v.published_at.date() < first
    }
    treated = {d[0]: float(d[2]) for d in changed.daily}
    return judge(treated, controls, changed.changed_on, today - timedelta(days=demo.ANALYTICS_LAG_DAYS), settings)


@pytest.mark.parametrize("today", [date(2026, 12, 1), date(2026, 12, 5), date(2027, 3, 17)])
def test_the_past_change_is_judged_helped_near_its_lift(today):
    verdict = _judged(today)
    assert verdict.outcome == HELPED, verdict.sentence
    assert abs(verdict.lift - (demo.CHANGE_LIFT - 1)) < 0.08, verdict.lift
    assert verdict.interval[0] < demo.CHANGE_LIFT - 1 < verdict.interval[1]
    assert verdict.controls >= 30
    assert len(verdict.counterfactual) > 60


def test_the_changed_video_has_its_pre_window_in_the_numbers():
    today = date(2026, 12, 1)
    changed = demo.generate(today)[demo.CHANGED_VIDEO_INDEX]
    days = {d[0] for d in changed.daily}
    assert all(changed.changed_on - timedelta(days=k) in days for k in range(1, 29))


def test_days_after_the_import_are_the_same_every_time():
    video = demo.generate(date(2026, 12, 1))[3]
    day = date(2026, 12, 10)
    assert demo.day_row(video, day) == demo.day_row(video, day)
    lifted = [demo.day_row(video, day + timedelta(days=k), demo.APPLIED_CHANGE_LIFT)[1] for k in range(28)]
    plain = [demo.day_row(video, day + timedelta(days=k))[1] for k in range(28)]
    assert sum(lifted) > sum(plain) * 1.15
