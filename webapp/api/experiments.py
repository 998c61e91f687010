"""Experiments: did an applied change help? The channel's experiments as its
Results page lists them (webapp/channels/results.py), and one experiment
with every weekly look."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from optimizer import experiments
from reliability.db import read, transaction
from webapp.api import lookup_store
from webapp.api.access import API, channel_of
from webapp.api.spec import operation
from webapp.api.suggestion_models import ExperimentDetail, ExperimentList, ExperimentListQuery
from webapp.channels import results_store
from webapp.channels.access import require_channel
from webapp.errors import page_not_found

bp = Blueprint("experiments", __name__)

_FIELDS = (
    "id",
    "video_id",
    "video_title",
    "status",
    "lift",
    "confidence",
    "interval_low",
    "interval_high",
    "look",
    "applied_at",
    "cooling_until",
    "evaluated_at",
)
_EVALUATION_FIELDS = (
    "look",
    "evaluated_for",
    "outcome",
    "lift",
    "interval_low",
    "interval_high",
    "confidence",
    "metric",
    "post_days",
    "controls",
)


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    return {**{name: row[name] for name in _FIELDS}, "url": f"{API}/experiments/{row['id']}"}


@operation(
    bp,
    "GET",
    "/channels/<int:channel_id>/experiments",
    summary="The channel's experiments",
    response=ExperimentList,
    query=ExperimentListQuery,
)
def list_experiments(channel_id: int, query: ExperimentListQuery) -> ExperimentList:
    """Every applied change's experiment: its state, lift, likely range and
    confidence, sorted by applied date (newest first), lift or state."""
    require_channel(channel_id)
    rows = read(results_store.experiments_of, channel_id, query.sort)
    return ExperimentList.model_validate({"experiments": [_fields(row) for row in rows]})


@operation(bp, "GET", "/experiments/<int:experiment_id>", summary="One experiment", response=ExperimentDetail)
def get_experiment(experiment_id: int) -> ExperimentDetail:
    """The experiment with each weekly look (lift, interval, confidence, the
    number of control videos) and what auto-restore decided, if anything."""
    channel_of("experiment", experiment_id)
    with transaction() as cur:
        row = lookup_store.experiment(cur, experiment_id)
        looks = experiments.evaluations(cur, experiment_id) if row else []
    if row is None:  # removed between the two reads
        raise page_not_found()
    detail = {
        **_fields(row),
        **{name: row[name] for name in ("channel_id", "metric", "suggestion_id", "auto_restore")},
        "evaluations": [{name: look[name] for name in _EVALUATION_FIELDS} for look in looks],
    }
    return ExperimentDetail.model_validate(detail)
