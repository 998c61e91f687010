"""One look at an open experiment: the day's use case of the judging job
(jobs/experiments.py), on the caller's cursor.

A look is due when one more whole week of the post-window has data: the
week counts end ``DATA_LAG_DAYS`` before the job's day, since YouTube reports
a day late and revises the last days (the ingest fetches them again). The
verdict compares on engaged views, or on views when any day of the window
lacks engaged views (never some of each); optimizer/verdict.py judges.
"""

from __future__ import annotations

from datetime import date, timedelta

from optimizer import experiment_store, experiments
from optimizer.verdict import VerdictSettings, control_window, judge, published_before
from reliability.db import Cursor, Row

DATA_LAG_DAYS = 3  # the newest days of YouTube Analytics are incomplete and revised


def data_day(today: date) -> date:
    """The last day whose numbers are taken as settled on ``today``."""
    return today - timedelta(days=DATA_LAG_DAYS)


def looks_by(cooling_until: date, today: date) -> int:
    """How many whole post-window weeks have settled numbers by ``today`` (at most the last look)."""
    return max(0, min(experiments.MAX_POST_WEEKS, (data_day(today) - cooling_until).days // 7))


def judge_experiment(cur: Cursor, experiment: Row, today: date, settings: VerdictSettings) -> str | None:
    """Move a due experiment on (see ``experiments.due``): out of cooling, and
    judged when a new whole week is in. Returns the state it is left in, or
    None when there was nothing new to judge."""
    if experiment["status"] == experiments.COOLING:
        experiments.start_measuring(cur, experiment["id"], today)
    look = looks_by(experiment["cooling_until"], today)
    if look <= experiment["look"]:
        return None
    change_day: date = experiment["change_day"]
    first_day, last_day = control_window(change_day, settings)
    last_day = min(last_day, data_day(today))
    treated = experiment["video_id"]
    controls = experiment_store.control_videos(
        cur,
        channel_id=experiment["channel_id"],
        treated_id=treated,
        published_before=published_before(change_day),
        first_day=first_day,
        last_day=last_day,
    )
    series = experiment_store.daily_series(cur, [treated, *controls], first_day, last_day)
    metric = comparable_metric(series)
    by_video = series[metric]
    verdict = judge(
        by_video.get(treated, {}),
        {video_id: by_video.get(video_id, {}) for video_id in controls},
        change_day,
        data_day(today),
        settings,
        metric=metric,
    )
    return experiments.record_evaluation(cur, experiment["id"], verdict, look=look, today=today)


def comparable_metric(series: dict[str, experiment_store.Series]) -> str:
    """'engaged_views' when every stored day of every video in the window has
    it, else 'views': one metric for the whole comparison."""
    views, engaged = series["views"], series["engaged_views"]
    if views and all(len(engaged.get(video_id, {})) == len(days) for video_id, days in views.items()):
        return "engaged_views"
    return "views"
