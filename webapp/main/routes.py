"""Home, dashboard and /health."""

from __future__ import annotations

import time
from ipaddress import ip_address

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from reliability import db
from webapp.extensions import limiter, talisman
from webapp.redis_client import get_redis

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    return redirect(url_for("accounts.login"))


@bp.get("/dashboard")
@login_required
def dashboard():
    from webapp.channels.store import channels_for

    return render_template(
        "main/dashboard.html",
        channels=channels_for(current_user.id, admin=False),
        google_configured=bool(current_app.config.get("GOOGLE_CLIENT_ID")),
        anthropic_configured=bool(current_app.config.get("ANTHROPIC_API_KEY")),
    )


@bp.get("/health")
@limiter.exempt
@talisman(force_https=False)  # load balancers probe over plain HTTP
def health():
    database = db.health_check()
    redis_status = _redis_health()
    healthy = database["healthy"] and redis_status["healthy"]
    body = {"status": "ok" if healthy else "degraded"}
    if _may_see_health_details():
        body.update(database=database, redis=redis_status,
                    breakers=_breaker_states() if redis_status["healthy"] else None,
                    jobs=_job_health() if redis_status["healthy"] else None)
    return jsonify(body), 200 if healthy else 503


@bp.get("/health/live")
@limiter.exempt
@talisman(force_https=False)
def health_live():
    """Liveness: this process answers. Nothing outside it is checked, so a
    database outage never makes a platform restart every web process."""
    return jsonify({"status": "ok"}), 200


@bp.get("/health/ready")
@limiter.exempt
@talisman(force_https=False)
def health_ready():
    """Readiness: the database and Redis answer, and queued jobs have a
    worker to run them (503 when jobs wait and no worker lives, which is
    how a killed worker shows up within a minute instead of never)."""
    database_ok = db.health_check()["healthy"]
    redis_ok = _redis_health()["healthy"]
    jobs = _job_health() if redis_ok else None
    reasons = [reason for reason, failing in (
        ("database unavailable", not database_ok), ("redis unavailable", not redis_ok),
        ("jobs are waiting and no worker is running", bool(jobs and jobs.get("queued") and not jobs.get("workers"))),
    ) if failing]
    body = {"status": "not_ready" if reasons else "ready"}
    if _may_see_health_details():
        body.update(reasons=reasons, jobs=jobs)
    return jsonify(body), 503 if reasons else 200


def _job_health() -> dict | None:
    from jobs.health import job_system_health

    try:
        return job_system_health(get_redis(), current_app.config["WORKER_HEARTBEAT_S"])
    except Exception as exc:  # health reports, never raises
        return {"error": type(exc).__name__}


def _may_see_health_details() -> bool:
    """Pool sizes, timings and breaker states help an attacker time an
    attack: only probes from HEALTH_DETAILS_NETWORKS and admins see them."""
    try:
        address = ip_address(request.remote_addr or "")
        address = getattr(address, "ipv4_mapped", None) or address  # ::ffff:10.0.0.5 from a dual-stack bind
    except ValueError:
        address = None
    if address is not None and any(address in net for net in current_app.config["HEALTH_DETAILS_NETWORKS"]):
        return True
    try:
        return bool(current_user.is_authenticated and current_user.is_admin)
    except Exception:  # the database is down: health still answers
        return False


def _breaker_states() -> dict:
    """Each outside service's breaker (closed, open, half_open): informative,
    never a reason for 503, since the app degrades gracefully without them."""
    from reliability.breaker import CircuitBreaker

    return {name: CircuitBreaker(get_redis(), name).state()["state"] for name in ("anthropic", "serpapi", "youtube")}


def _redis_health() -> dict:
    started = time.perf_counter()
    try:
        healthy = bool(get_redis().ping())
        error = None
    except Exception as exc:  # health reports, never raises
        healthy, error = False, type(exc).__name__
    result = {"healthy": healthy, "response_time_ms": round((time.perf_counter() - started) * 1000, 2)}
    if error:
        result["error"] = error
    return result
