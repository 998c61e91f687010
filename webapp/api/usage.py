"""Usage: what the caller spent this month, their limits, and the YouTube
quota left today; the same figures as the usage page (webapp/optimize/routes.py)."""

from __future__ import annotations

from flask import Blueprint, current_app
from flask_login import current_user

from optimizer.youtube import quota
from reliability.db import transaction
from webapp.api.models import Usage
from webapp.api.spec import operation
from webapp.optimize import store

bp = Blueprint("usage", __name__)


@operation(bp, "GET", "/usage", summary="This month's spending, your limits and today's quota", response=Usage)
def get_usage() -> Usage:
    """Videos optimized and dollars spent this calendar month (UTC) by
    service, your monthly limits, and the YouTube Data API quota used and
    left today (Pacific day, shared by every user of this installation)."""
    budget = current_app.config["YOUTUBE_DAILY_QUOTA"]
    with transaction() as cur:
        mine = store.monthly_usage(cur, current_user.id)
        limits = store.user_limits(cur, current_user.id, current_app.config)
        used, left = quota.units_used_today(cur), quota.units_left_today(cur, budget)
    return Usage.model_validate(
        {
            "month_videos": mine["videos"],
            "month_cost_usd": mine["cost_usd"],
            "services": [
                {
                    "service": s["service"],
                    "calls": s["calls"],
                    "cost_usd": s["cost"],
                    "input_tokens": s["input_tokens"],
                    "output_tokens": s["output_tokens"],
                }
                for s in mine["services"]
            ],
            "limit_videos": limits["optimizations"],
            "limit_cost_usd": limits["cost_usd"],
            "quota_used_today": used,
            "quota_left_today": left,
            "quota_budget": budget,
        }
    )
