"""Every Prometheus metric of the app, defined once, and the small
functions the code calls to record them.

Web, worker and cron import this module; under gunicorn and RQ they run
prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, see
reliability/metrics_files.py) and ``/metrics`` (webapp/metrics/) merges
every process's files. Without that variable (development, tests in one
process) the values live in this process's default registry.

What is *not* here: figures read at scrape time from Redis (the breakers'
state, RQ's queues and failed jobs) are collectors in
webapp/metrics/collectors.py; they are gauges of the scraping process only,
so they have no multiprocess mode. The business figures (optimizations per
day, applies, success rate) come from the ``optimization_events_total``
counter by PromQL (docs/operations.md), not from a query at scrape.

Recording costs one or two memory-mapped writes (about a microsecond
each): the request hook does one counter and one histogram, nothing more.
"""

from __future__ import annotations

import logging
import os
from decimal import Decimal
from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram, values

from reliability import metrics_files

log = logging.getLogger(__name__)


def _usable_directory() -> str | None:
    """PROMETHEUS_MULTIPROC_DIR when it is an existing writable directory,
    else None: then this process keeps its metrics in memory rather than
    failing at import with a traceback, and the startup check on the metrics
    folder names the problem in one line.

    Never made here: whoever deploys makes it (the image, systemd's
    StateDirectory, a Kubernetes volume, the supervisor of `make run`).
    An import that made it would create whatever path a typo names, as
    whatever user runs the process (root, by mistake), and a process with
    a misspelt path would quietly write where no /metrics reads."""
    path = metrics_files.directory()
    if path is None:
        return None
    if os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK):
        return path
    log.warning("PROMETHEUS_MULTIPROC_DIR is not a writable directory: metrics of this process only")
    return None


# The directory this process's metrics go to (None: this process's memory).
MULTIPROCESS_DIR = _usable_directory()
# Chosen before the first metric is made: prometheus-client picked its
# value class from the variable alone when it was imported.
if MULTIPROCESS_DIR is not None:
    # Files named by process identity (an RQ work horse writes under its worker's slot; see metrics_files).
    values.ValueClass = values.MultiProcessValue(process_identifier=metrics_files.process_identity)
else:
    values.ValueClass = values.MutexValue

# A request's route label when no rule matched (a 404 or a bad method): never
# the raw path, which an outsider could make unbounded.
UNMATCHED_ROUTE = "<unmatched>"

# -- HTTP (web processes) ---------------------------------------------------------

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route (the URL rule) and status.",
    ("method", "route", "status"),
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the start of the request's handling to its response, by method and route.",
    ("method", "route"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# -- errors (web and jobs) -------------------------------------------------------

ERRORS = Counter(
    "app_errors_total",
    "Errors, by component (web: an error response; job: a job that raised) and type (error code or exception class).",
    ("component", "type"),
)

# -- database -------------------------------------------------------------------

DB_POOL_ACTIVE = Gauge(
    "database_pool_active_connections",
    "Database connections lent out by the pools of every live process.",
    multiprocess_mode="livesum",
)
DB_POOL_LIMIT = Gauge(
    "database_pool_max_connections",
    "Connections the pools of every live process may open (pool size + overflow), summed.",
    multiprocess_mode="livesum",
)
DB_CONNECTION_ERRORS = Counter(
    "database_connection_errors_total",
    "Connections to PostgreSQL that could not be made (connect) or died in use (lost).",
    ("kind",),
)
DB_QUERY_DURATION = Histogram(
    "database_query_duration_seconds",
    "Time to run one SQL statement (execute, not fetch).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0),
)

# -- outside services ---------------------------------------------------------

EXTERNAL_REQUESTS = Counter(
    "external_api_requests_total",
    "Requests to an outside service (anthropic, youtube, serpapi), by outcome.",
    ("service", "outcome"),
)
EXTERNAL_DURATION = Histogram(
    "external_api_request_duration_seconds",
    "Time of one request to an outside service, answered or not.",
    ("service",),
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0),
)
CLAUDE_TOKENS = Counter(
    "claude_tokens_total",
    "Tokens of Claude's answers, by model and kind (input, output, cache_read, cache_write).",
    ("model", "kind"),
)
CLAUDE_COST = Counter("claude_cost_usd_total", "Dollars spent on Claude, by model.", ("model",))
YOUTUBE_QUOTA = Counter("youtube_quota_units_total", "YouTube API quota units charged, by API method.", ("method",))

# -- the product -----------------------------------------------------------------

OPTIMIZATION_EVENTS = Counter(
    "optimization_events_total",
    "Optimization runs and applies: started, succeeded, partial, failed, given_up; applied, apply_failed.",
    ("event",),
)
OPTIMIZATION_EVENTS_KNOWN = ("started", "succeeded", "partial", "failed", "given_up", "applied", "apply_failed")
SUGGESTIONS = Counter("suggestions_total", "Suggestions made for videos, by engine (claude, heuristic).", ("engine",))


class _ClaudeUsage(Protocol):
    """optimizer.pricing.Usage, seen from below the domain layer."""

    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cache_read_tokens(self) -> int: ...
    @property
    def cache_write_tokens(self) -> int: ...


def request_seen(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


def error_seen(component: str, kind: str) -> None:
    ERRORS.labels(component, kind).inc()


def external_call(service: str, outcome: str, seconds: float | None) -> None:
    """One request to ``service``; ``seconds`` None when none was timed."""
    EXTERNAL_REQUESTS.labels(service, outcome).inc()
    if seconds is not None:
        EXTERNAL_DURATION.labels(service).observe(seconds)


def claude_usage(model: str, usage: _ClaudeUsage, cost_usd: Decimal) -> None:
    for kind, tokens in (
        ("input", usage.input_tokens),
        ("output", usage.output_tokens),
        ("cache_read", usage.cache_read_tokens),
        ("cache_write", usage.cache_write_tokens),
    ):
        if tokens:
            CLAUDE_TOKENS.labels(model, kind).inc(tokens)
    CLAUDE_COST.labels(model).inc(float(cost_usd))


def youtube_units(method: str, units: int) -> None:
    if units:
        YOUTUBE_QUOTA.labels(method).inc(units)


def optimization_event(event: str) -> None:
    OPTIMIZATION_EVENTS.labels(event).inc()


def suggestion_made(engine: str) -> None:
    SUGGESTIONS.labels(engine).inc()


def pool_made(limit: int) -> None:
    """This process's pool exists and may open ``limit`` connections."""
    DB_POOL_LIMIT.set(limit)


def pool_in_use(active: int) -> None:
    """This process's pool lends out ``active`` connections now (set, not
    added to: a horse killed while holding one leaves no drift behind)."""
    DB_POOL_ACTIVE.set(active)


def db_connection_error(kind: str) -> None:
    DB_CONNECTION_ERRORS.labels(kind).inc()


def query_took(seconds: float) -> None:
    DB_QUERY_DURATION.observe(seconds)
