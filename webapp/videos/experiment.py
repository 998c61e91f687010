"""The video page's "Did the change help?" section: the video's latest
experiment, how its estimate moved over the weekly looks, and its chart
(actual against the control's prediction without the change). Reads on the
caller's cursor; the view owns the transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from markupsafe import Markup

from optimizer import experiments
from reliability.db import Cursor
from webapp.charts import ExperimentChart, day_values, experiment_chart
from webapp.videos import store

METRIC_LABELS = {"engaged_views": "Engaged views a day", "views": "Views a day"}


def experiment_section(cur: Cursor, video: dict[str, Any]) -> dict[str, Any] | None:
    """What the section shows, or None when no change to this video was measured."""
    experiment = store.latest_experiment(cur, video["id"])
    if experiment is None:
        return None
    details = experiment["details"] or {}
    return {
        "e": experiment,
        "sentence": details.get("sentence"),
        "method": details.get("method"),
        "controls": details.get("controls"),
        "evaluations": experiments.evaluations(cur, experiment["id"]),
        "chart": _chart(experiment, video["title"], details),
    }


def _chart(experiment: dict[str, Any], title: str, details: dict[str, Any]) -> Markup | None:
    points = day_values(details.get("counterfactual") or [])
    if not points:
        return None
    post_days = int(details.get("post_days") or 0)
    cooling_until = experiment["cooling_until"]
    metric = METRIC_LABELS.get(experiment["metric"], METRIC_LABELS["engaged_views"])
    return experiment_chart(
        ExperimentChart(
            chart_id=f"experiment-{experiment['id']}-chart",
            title=f"{metric.removesuffix(' a day')} of “{title}” with and without the change",
            metric_label=metric,
            points=points,
            change_day=experiment["change_day"],
            cooling_until=cooling_until,
            post_from=cooling_until + timedelta(days=1) if post_days else None,
            post_until=cooling_until + timedelta(days=post_days) if post_days else None,
        )
    )
