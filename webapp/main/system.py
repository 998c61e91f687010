"""The admins' System page: the last startup-check report of each process
kind (web, worker, cron, and the last `flask doctor`), kept in Redis by
reliability/startup_report.py."""

from __future__ import annotations

import redis
from flask import Blueprint, render_template
from flask_login import current_user, login_required

from reliability import startup_report
from webapp.errors import page_not_found
from webapp.redis_client import get_redis

bp = Blueprint("system", __name__)


@bp.get("/admin/system")
@login_required
def show() -> str:
    # A member is not told that the page exists.
    if not current_user.is_admin:
        raise page_not_found()
    try:
        reports, redis_error = startup_report.load_all(get_redis()), None
    except redis.RedisError as exc:  # the page still answers, saying why it cannot show them
        reports, redis_error = [], type(exc).__name__
    return render_template("admin/system.html", reports=reports, redis_error=redis_error)
