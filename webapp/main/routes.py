"""Home, dashboard, and the probes: /health, /health/live, /health/ready, /info.

The probes are exempt from rate limits and the HTTPS redirect (load
balancers probe over plain HTTP), and their request lines are logged at
debug level only (webapp/requestlog.py). Details that help an attacker
(pools, breakers, the commit, integrations) go to HEALTH_DETAILS_NETWORKS
and admins only."""

from __future__ import annotations

import platform
import time
from ipaddress import ip_address
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from reliability import db, migrations
from reliability.version import APP_NAME, STARTED_AT, app_version, git_commit
from webapp.extensions import limiter, talisman
from webapp.redis_client import get_redis

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    return redirect(url_for("accounts.login"))


@bp.get("/dashboard")
@login_required
def dashboard() -> str:
    from webapp.channels.store import channels_for

    with db.transaction() as cur:
        channels = channels_for(cur, current_user.id, admin=False)
    return render_template(
        "main/dashboard.html",
        channels=channels,
        google_configured=bool(current_app.config.get("GOOGLE_CLIENT_ID")),
        anthropic_configured=bool(current_app.config.get("ANTHROPIC_API_KEY")),
    )


@bp.get("/health")
@limiter.exempt
@talisman(force_https=False)  # load balancers probe over plain HTTP
def health() -> ResponseReturnValue:
    database = db.health_check()
    redis_status = _redis_health()
    healthy = database["healthy"] and redis_status["healthy"]
    body: dict[str, Any] = {"status": "ok" if healthy else "degraded"}
    if _may_see_health_details():
        body.update(
            database=database,
            redis=redis_status,
            breakers=_breaker_states() if redis_status["healthy"] else None,
            jobs=_job_health() if redis_status["healthy"] else None,
        )
    return jsonify(body), 200 if healthy else 503


@bp.get("/health/live")
@limiter.exempt
@talisman(force_https=False)
def health_live() -> ResponseReturnValue:
    """Liveness: this process answers. Nothing outside it is checked, so a
    database outage never makes a platform restart every web process."""
    return jsonify({"status": "ok"}), 200


READY_SCOPES = ("all", "web")


@bp.get("/health/ready")
@limiter.exempt
@talisman(force_https=False)
def health_ready() -> ResponseReturnValue:
    """Readiness: the database and Redis answer, every migration is applied,
    and queued jobs have a worker to run them (503 when jobs wait and no
    worker lives, which is how a killed worker shows up within a minute
    instead of never). A 503 names the failing parts, to anyone: which part
    is down tells an attacker nothing that timing it would not.

    ``?scope=web`` leaves the workers out: what this web process needs to
    serve pages. Kubernetes' readiness probe of the web pods asks that, so a
    dead worker fleet does not take every web pod out of the Service (the
    pages keep serving; the blackbox probe of the whole answer pages someone)."""
    scope = request.args.get("scope", "all")
    if scope not in READY_SCOPES:
        return jsonify({"status": "bad_request", "error": f"scope: one of {', '.join(READY_SCOPES)}"}), 400
    database_ok = db.health_check()["healthy"]
    redis_ok = _redis_health()["healthy"]
    jobs = _job_health() if redis_ok and scope == "all" else None
    checks = (
        ("database", "database unavailable", not database_ok),
        ("migrations", "migrations not applied", database_ok and not _migrations_applied()),
        ("redis", "redis unavailable", not redis_ok),
        (
            "worker",
            "jobs are waiting and no worker is running",
            bool(jobs and jobs.get("queued") and not jobs.get("workers")),
        ),
    )
    failing = [(part, reason) for part, reason, failed in checks if failed]
    body: dict[str, Any] = {"status": "not_ready" if failing else "ready", "failing": [part for part, _ in failing]}
    if _may_see_health_details():
        body.update(reasons=[reason for _, reason in failing], jobs=jobs)
    return jsonify(body), 503 if failing else 200


@bp.get("/info")
@limiter.exempt
@talisman(force_https=False)
def info() -> ResponseReturnValue:
    """Name and version to anyone; the build and how it runs to admins and
    HEALTH_DETAILS_NETWORKS. Integrations say on or off, never a value."""
    body: dict[str, Any] = {"name": APP_NAME, "version": app_version()}
    if _may_see_health_details():
        config = current_app.config
        body.update(
            commit=git_commit(config.get("GIT_COMMIT")),
            environment=config["ENVIRONMENT"],
            started_at=STARTED_AT.isoformat(timespec="seconds"),
            python=platform.python_version(),
            integrations={
                "anthropic": bool(config.get("ANTHROPIC_API_KEY")),
                "serpapi": bool(config.get("SERPAPI_API_KEY")),
                "google_oauth": bool(config.get("GOOGLE_CLIENT_ID")),
                "sentry": bool(config.get("SENTRY_DSN")),
                "smtp_mail": bool(config.get("MAIL_URL")),
                "metrics_multiprocess": bool(config.get("PROMETHEUS_MULTIPROC_DIR")),
            },
        )
    return jsonify(body), 200


def _migrations_applied() -> bool:
    """Every migration file applied to the database. Once true it stays true
    for this app (its files do not change while it runs), so the probe pays
    the query only until then."""
    if current_app.extensions.get("migrations_applied"):
        return True
    try:
        with db.transaction(dict_rows=False) as cur:
            applied = not migrations.pending(cur)
    except Exception:  # health reports, never raises: the database check says why
        return False
    current_app.extensions["migrations_applied"] = applied
    return applied


def _job_health() -> dict[str, Any] | None:
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


def _breaker_states() -> dict[str, str]:
    """Each outside service's breaker (closed, open, half_open): informative,
    never a reason for 503, since the app degrades gracefully without them."""
    from reliability.breaker import SERVICES, CircuitBreaker

    return {name: CircuitBreaker(get_redis(), name).state()["state"] for name in SERVICES}


def _redis_health() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        healthy = bool(get_redis().ping())
        error = None
    except Exception as exc:  # health reports, never raises
        healthy, error = False, type(exc).__name__
    result: dict[str, Any] = {"healthy": healthy, "response_time_ms": round((time.perf_counter() - started) * 1000, 2)}
    if error:
        result["error"] = error
    return result
