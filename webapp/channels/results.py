"""The channel's Results page: did the changes help? Every experiment with
its state, lift, interval and verdict, sortable, and the business figures
(optimizations per day, changes applied, success rate, average lift, extra
engaged views a week). Members only (viewer and up), like every channel page."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from reliability.db import transaction
from webapp.channels import results_store
from webapp.channels.access import require_channel
from webapp.charts import DailyCount, daily_bars
from webapp.inputs import arg_choice

bp = Blueprint("results", __name__)

SORT_LABELS = {"applied": "Applied", "lift": "Lift", "state": "State"}


@bp.get("/channels/<int:channel_id>/results")
@login_required
def show(channel_id: int) -> str:
    channel = require_channel(channel_id)
    sort = arg_choice("sort", tuple(results_store.SORTS), results_store.DEFAULT_SORT)
    with transaction() as cur:
        rows = results_store.experiments_of(cur, channel_id, sort)
        figures = results_store.figures(cur, channel_id)
        per_day = results_store.optimizations_per_day(cur, channel_id)
    chart = daily_bars(
        chart_id="optimizations-per-day",
        title=f"Optimizations per day, last {results_store.OPTIMIZATION_DAYS} days",
        counts=[DailyCount(r["day"], r["optimizations"]) for r in per_day],
    )
    return render_template(
        "channels/results.html",
        channel=channel,
        experiments=rows,
        figures=figures,
        optimizations_chart=chart,
        optimizations_total=sum(r["optimizations"] for r in per_day),
        sort=sort,
        sort_labels=SORT_LABELS,
    )
