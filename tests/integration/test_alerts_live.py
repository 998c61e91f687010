"""The alert rules on the app's real /metrics, scraped and evaluated by a
real Prometheus: every rule evaluates without error on the labels the app
really exports (a vector-matching mistake only shows on real series), and
alerts fire from the app's real state: a breaker opened through its own API,
a day's YouTube units in the ledger past 80 % of the budget.

The rules are deploy/prometheus/alerts.yml with only their `for:` waits cut
to 0 s, so the test takes seconds; the promtool rule tests
(tests/unit/test_alert_rules.py) prove the waits. Prometheus comes with
Debian's ``prometheus`` package (.ci/run installs it): missing, the test
fails under CI and is skipped elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from werkzeug.serving import make_server

from optimizer.youtube import quota
from reliability import db
from reliability.breaker import CircuitBreaker

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"

pytestmark = pytest.mark.slow


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found:
        return found
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail("prometheus is missing, so the alert rules went untested (.ci/run installs Debian's prometheus)")
    pytest.skip("prometheus is not installed (Debian: apt-get install prometheus); CI runs this test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_app(app_config) -> Iterator[tuple[str, Any]]:
    """The app on a real port, with a 100-unit daily YouTube budget."""
    from webapp import create_app

    app = create_app({**app_config, "YOUTUBE_DAILY_QUOTA": 100})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.dispose_pool()


@pytest.fixture
def prometheus(tmp_path, live_app) -> Iterator[str]:
    binary = prometheus_binary()
    target, _ = live_app
    rules = re.sub(r"(?m)^(\s+)for: \S+$", r"\1for: 0s", RULES.read_text(encoding="utf-8"))
    (tmp_path / "alerts.yml").write_text(rules, encoding="utf-8")
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [alerts.yml]\n"
        f"scrape_configs:\n  - job_name: web\n    static_configs: [{{targets: ['{target}']}}]\n",
        encoding="utf-8",
    )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get(base, "/-/ready") is not None, "Prometheus to start", process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stderr:
            process.stderr.close()


def get(base: str, path: str, **params: str) -> Any:
    try:
        response = requests.get(base + path, params=params, timeout=5)
    except requests.ConnectionError:
        return None
    if response.status_code != 200:
        return None
    return response.json() if path.startswith("/api/") else response.text


def wait_for(condition: Any, what: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            pytest.fail(f"Prometheus exited: {stderr[-2000:]}")
        if condition():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


def firing(base: str) -> dict[str, list[dict[str, str]]]:
    answer = get(base, "/api/v1/alerts") or {"data": {"alerts": []}}
    alerts: dict[str, list[dict[str, str]]] = {}
    for alert in answer["data"]["alerts"]:
        if alert["state"] == "firing":
            alerts.setdefault(alert["labels"]["alertname"], []).append(alert["labels"])
    return alerts


def rules(base: str) -> list[dict[str, Any]]:
    answer = get(base, "/api/v1/rules") or {"data": {"groups": []}}
    return [rule for group in answer["data"]["groups"] for rule in group["rules"]]


def test_the_rules_evaluate_on_the_real_metrics_and_fire_from_the_apps_state(live_app, prometheus, clean_state):
    target, _ = live_app
    # A day's units past 80 % of the budget (90 of 100), and Claude's breaker opened.
    with db.transaction() as cur:
        quota.record(cur, "videos.update")
        quota.record(cur, "videos.list", units=90 - quota.COSTS["videos.update"])
    client = redis.Redis.from_url(clean_state[1])
    anthropic = CircuitBreaker(client, "anthropic", min_calls=2, reset_timeout_s=600)
    for _ in range(2):  # the breaker's own API, as a failing call records itself
        anthropic.allow().failure()
    for _ in range(5):  # real requests, so the request metrics have series
        assert requests.get(f"http://{target}/login", timeout=5).status_code == 200

    wait_for(
        lambda: {"YouTubeQuotaHigh", "CircuitBreakerOpen"} <= set(firing(prometheus)),
        "the quota and breaker alerts to fire",
    )
    alerts = firing(prometheus)
    assert alerts["CircuitBreakerOpen"] == [
        {"alertname": "CircuitBreakerOpen", "service": "anthropic", "severity": "critical"}
    ]
    # The app answers, serves its pages and reaches its database: these stay quiet.
    assert not {"AppTargetDown", "HighErrorRate", "DatabaseConnectionFailures", "SlowResponses"} & set(alerts)

    # Every rule has been evaluated on the real series, none with an error.
    wait_for(lambda: all(rule.get("lastEvaluation", "").startswith("2") for rule in rules(prometheus)), "evaluations")
    assert {rule["name"]: rule.get("lastError", "") for rule in rules(prometheus) if rule["health"] != "ok"} == {}

    # The breaker closed again (its own API): that alert resolves, the quota's stays.
    anthropic.reset()
    # the rule reads the last minute's highest state (it bridges a breaker's half-open moments), so it resolves
    # once a minute of closed readings has passed
    wait_for(lambda: "CircuitBreakerOpen" not in firing(prometheus), "the breaker alert to resolve", timeout=100)
    assert "YouTubeQuotaHigh" in firing(prometheus)
    client.close()
