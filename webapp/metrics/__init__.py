"""Prometheus metrics of the web process: the request hook and the
``/metrics`` endpoint (routes.py), with the figures read at scrape time
(collectors.py). The metrics themselves are defined in reliability/metrics.py.

The hook is two memory-mapped writes per request (a counter and a
histogram), with their label children kept in a dict so the hot path does
no label validation. ``/metrics`` itself is not counted: a scrape every 15
seconds would otherwise be most of a quiet site's traffic.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, g, request

from reliability import metrics

SCRAPE_ENDPOINT = "metrics.scrape"
# Any other word a client sends as its method is "other": labels stay bounded.
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))

# (method, route, status) -> counter child; (method, route) -> histogram child.
_counters: dict[tuple[str, str, int], Any] = {}
_timers: dict[tuple[str, str], Any] = {}


def init_metrics(app: Flask) -> None:
    """Call first among the request hooks: the clock starts before any other
    hook can answer (a rate limit's 429 is counted too)."""
    if not app.config["METRICS_ENABLED"]:
        return
    app.before_request(_start_clock)
    app.after_request(_count_request)


def _start_clock() -> None:
    g.metrics_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    endpoint = request.endpoint
    if endpoint == SCRAPE_ENDPOINT:
        return response
    rule = request.url_rule
    route = rule.rule if rule is not None else metrics.UNMATCHED_ROUTE
    method = request.method if request.method in _METHODS else "other"
    status = response.status_code
    counter = _counters.get((method, route, status))
    if counter is None:
        counter = _counters[(method, route, status)] = metrics.HTTP_REQUESTS.labels(method, route, str(status))
    counter.inc()
    started = g.get("metrics_started")
    if started is not None:
        timer = _timers.get((method, route))
        if timer is None:
            timer = _timers[(method, route)] = metrics.HTTP_DURATION.labels(method, route)
        timer.observe(time.perf_counter() - started)
    return response
