"""``GET /metrics``: every process's metrics in Prometheus's text format.

Under gunicorn (PROMETHEUS_MULTIPROC_DIR set) the worker answering merges
the files of every web, worker and cron process of the host
(prometheus-client's MultiProcessCollector); otherwise it shows its own
process's registry. The figures read from Redis and PostgreSQL are added
at each scrape.

Who may scrape: anyone in development and test; in staging and production
a client from METRICS_NETWORKS (the private ranges by default: Prometheus
in the cluster or on the host) or one sending ``Authorization: Bearer
<METRICS_TOKEN>``. Everyone else gets 403. Not rate-limited, never
redirected to HTTPS (Prometheus scrapes inside the network), never
compressed (webapp/compression.py), not counted in http_requests_total.
The scrape-time figures (webapp/metrics/collectors.py) cost two Redis round
trips and one small query.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from functools import cache
from ipaddress import ip_address

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from reliability import metrics
from reliability.errors import PermissionDenied
from webapp.errors import page_not_found
from webapp.extensions import limiter, talisman
from webapp.metrics.collectors import ScrapeFigures
from webapp.redis_client import get_redis

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@limiter.exempt
@talisman(force_https=False)
def scrape() -> Response:
    if not current_app.config["METRICS_ENABLED"]:
        raise page_not_found()
    if not _may_scrape():
        raise PermissionDenied("Metrics are open to the monitoring network or with the metrics token.")
    return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def _may_scrape() -> bool:
    config = current_app.config
    if config["ENVIRONMENT"] not in ("staging", "production"):
        return True
    token = config.get("METRICS_TOKEN")
    sent = request.headers.get("Authorization", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(), token.encode()):
        return True
    try:
        address = ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in config["METRICS_NETWORKS"])


@cache
def _registry() -> CollectorRegistry:
    """Built once per process: what the scrape shows."""
    registry = CollectorRegistry(auto_describe=False)
    if metrics.MULTIPROCESS_DIR is not None:
        MultiProcessCollector(registry, path=metrics.MULTIPROCESS_DIR)
    else:
        registry.register(_ThisProcess())
    registry.register(ScrapeFigures(get_redis, lambda: current_app.config["YOUTUBE_DAILY_QUOTA"]))
    return registry


class _ThisProcess(Collector):
    """The default registry (this process's metrics, plus its process and
    Python figures), shown through ours, which adds the Redis figures."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()
