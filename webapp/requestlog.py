"""Request ids and the one JSON log line per request."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from reliability.logs import accept_or_make_request_id, request_id_var, user_id_var

log = logging.getLogger("webapp.request")
# Probes come every few seconds from every load balancer: their lines would
# drown the log, so they are written at debug level (LOG_LEVEL=debug shows them).
QUIET_ENDPOINTS = frozenset({"main.health", "main.health_live", "main.health_ready", "main.info"})


def init_request_logging(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_clear)


def _start() -> None:
    g.request_started = time.perf_counter()
    g.request_id = accept_or_make_request_id(request.headers.get("X-Request-ID"))
    request_id_var.set(g.request_id)


def _finish(response: Response) -> Response:
    request_id = g.get("request_id") or accept_or_make_request_id(None)
    response.headers["X-Request-ID"] = request_id
    user_id = _user_id()
    started = g.get("request_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
    log.log(
        logging.DEBUG if request.endpoint in QUIET_ENDPOINTS else logging.INFO,
        "request",
        extra={
            "request_id": request_id,
            "user_id": user_id,
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule else None,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
        },
    )
    return response


def _user_id() -> int | None:
    # Only look at a user already loaded: logging must not cost a query.
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        user_id_var.set(user.id)
        return user.id
    return None


def _clear(_exc: BaseException | None) -> None:
    request_id_var.set(None)
    user_id_var.set(None)
