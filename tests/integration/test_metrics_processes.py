"""/metrics across processes, as deployed: gunicorn (the Procfile's web)
with two workers and a real RQ worker (``python -m jobs.worker``, also
serving METRICS_WORKER_PORT), all on one PROMETHEUS_MULTIPROC_DIR. After N requests spread over both gunicorn
workers and one optimization job run by a work horse, one scrape shows:
http_requests_total summed equal to N (scrapes are not counted),
optimization_events_total{event="succeeded"} one more, the anthropic
breaker 0 after the success and 2 once forced open through the breaker's
own API, and database_pool_active_connections between 0 and the pool size.
The work horse wrote under its worker's slot, not files of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import redis
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from jobs.optimize import anthropic_breaker
from reliability import db
from reliability.breaker import CircuitOpen
from tests.fakes.anthropic import fake_anthropic_fixture
from tests.integration.channel_helpers import user_client
from tests.integration.metrics_helpers import parse, total, value
from tests.integration.optimize_helpers import (
    import_demo,
    optimize,
    optimize_form,
    query,
    run_id_of,
    stop_process,
    wait_for,
)
from tests.integration.worker_helpers import ROOT, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

fake_anthropic = fake_anthropic_fixture()
POOL_SIZE = 4


@pytest.fixture
def config(app_config, fake_anthropic, tmp_path):
    (tmp_path / "metrics").mkdir()  # a deployment makes it (the image, systemd); no process does
    return {
        **app_config,
        **fake_anthropic.settings(),
        "ANTHROPIC_MODEL": "claude-sonnet-4-6",
        "ANTHROPIC_FALLBACK_MODELS": ["claude-haiku-4-5"],
        "ANTHROPIC_TIMEOUT_S": 20,
        "SERPAPI_API_KEY": "",
        "DATABASE_POOL_SIZE": POOL_SIZE,
        # Read by the processes started here from their environment; this
        # test process keeps its metrics in its own registry.
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }


@pytest.fixture
def stack(config, tmp_path):
    """(base URL, gunicorn master, RQ worker), stopped afterwards."""
    env = worker_env(config)
    logs = tmp_path / "logs"
    logs.mkdir()
    worker_port = _free_port()
    worker = _spawn(
        [sys.executable, "-m", "jobs.worker"], {**env, "METRICS_WORKER_PORT": str(worker_port)}, logs / "worker.log"
    )
    port = _free_port()
    web_env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_MAX_REQUESTS": "0",
    }
    web = _spawn([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], web_env, logs / "web.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url + "/health/live"), 60, "gunicorn to answer")
        wait_for(lambda: len(_web_workers(web)) == 2, 30, "two gunicorn workers")
        wait_for(lambda: value(_scrape(url), "rq_workers") >= 1, 60, "the RQ worker to register")
        yield url, web, worker, f"http://127.0.0.1:{worker_port}"
    finally:
        stop_process(web)
        stop_process(worker)
        db.dispose_pool()


def test_one_scrape_adds_up_every_process(stack, config, tmp_path):
    url, web, worker, worker_url = stack
    directory = Path(config["PROMETHEUS_MULTIPROC_DIR"])
    requests.get(url + "/health/ready", timeout=10)  # a web worker's pool is made (it asks the database)
    before = _scrape(url)

    # N requests from eight threads on fresh connections, until both gunicorn workers have served some.
    sent = 0
    for _ in range(10):
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _i: requests.get(url + "/login", timeout=10).status_code, range(24)))
        assert set(statuses) == {200}
        sent += len(statuses)
        if all(_requests_in_files(directory, pid) > 0 for pid in _web_workers(web)):
            break
    assert all(_requests_in_files(directory, pid) > 0 for pid in _web_workers(web)), "one worker served every request"
    after_requests = _scrape(url)
    assert total(after_requests, "http_requests_total") - total(before, "http_requests_total") == sent
    assert (
        value(after_requests, "http_requests_total", method="GET", route="/login", status="200")
        - value(before, "http_requests_total", method="GET", route="/login", status="200")
        == sent
    )

    # One optimization job, run by the real worker's work horse.
    from webapp import create_app

    app = create_app({k: v for k, v in config.items() if k != "PROMETHEUS_MULTIPROC_DIR"})
    client = user_client(app, "creator@example.com")
    channel = import_demo(client)
    _, _, ids = optimize_form(client, channel)
    run_id = run_id_of(optimize(client, channel, ids[:1]))
    wait_for(lambda: _run_status(config, run_id) == "succeeded", 90, "the run to succeed", interval=0.3)
    after_job = wait_for(
        lambda: (s := _scrape(url)) and _grew(s, after_requests, "optimization_events_total", event="succeeded") and s,
        10,
        "the finished run in the scrape",
    )
    assert _grew(after_job, after_requests, "optimization_events_total", event="succeeded") == 1
    assert _grew(after_job, after_requests, "optimization_events_total", event="started") == 1
    assert _grew(after_job, after_requests, "suggestions_total", engine="claude") == 1
    assert _grew(after_job, after_requests, "external_api_requests_total", service="anthropic", outcome="ok") >= 1
    assert total(after_job, "claude_tokens_total") > total(after_requests, "claude_tokens_total")
    assert value(after_job, "circuit_breaker_state", service="anthropic") == 0
    # The worker's own port (METRICS_WORKER_PORT) serves the same directory: the same count.
    from_worker = parse(requests.get(worker_url + "/metrics", timeout=10).text)
    succeeded = value(after_job, "optimization_events_total", event="succeeded")
    assert value(from_worker, "optimization_events_total", event="succeeded") == succeeded
    # The requests above (scrapes, and the app in this process) were not counted again.
    assert total(after_job, "http_requests_total") == total(after_requests, "http_requests_total")

    # Connections lent out across every live process, never past the pool; the pools made count their limits.
    assert 0 <= value(after_job, "database_pool_active_connections") <= POOL_SIZE
    assert value(after_job, "database_pool_max_connections") >= POOL_SIZE

    # The breaker forced open through its own API (what failed Claude calls record).
    breaker_redis = redis.Redis.from_url(config["REDIS_URL"])
    breaker = anthropic_breaker(breaker_redis)
    with pytest.raises(CircuitOpen):
        for _ in range(10):  # min_calls, with the job's success in the window
            breaker.allow().failure()
    breaker_redis.close()
    assert value(_scrape(url), "circuit_breaker_state", service="anthropic") == 2

    # Every file belongs to gunicorn (its master ran the startup checks), the RQ
    # worker or the worker's one horse slot: none per job.
    owners = {f.name[: -len(".db")].rsplit("_", 1)[-1] for f in directory.glob("*.db")}
    allowed = {str(pid) for pid in [web.pid, *_web_workers(web)]} | {str(worker.pid), f"horse{worker.pid}"}
    assert f"horse{worker.pid}" in owners
    assert owners <= allowed, owners - allowed


def _grew(after, before, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def _scrape(url: str):
    response = requests.get(url + "/metrics", timeout=10)
    assert response.status_code == 200, response.text[:500]
    return parse(response.text)


def _requests_in_files(directory: Path, pid: int) -> float:
    """http_requests_total as the files of one gunicorn worker hold it."""
    files = [str(f) for f in directory.glob(f"counter_{pid}.db")]
    if not files:
        return 0
    merged = MultiProcessCollector.merge(files, accumulate=False)
    return sum(s.value for m in merged if m.name == "http_requests" for s in m.samples if s.name.endswith("_total"))


def _run_status(config: dict, run_id: int) -> str:
    return query(config["DATABASE_URL"], "SELECT status FROM optimization_runs WHERE id = %s", (run_id,))[0]["status"]


def _web_workers(master: subprocess.Popen) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(master.pid).children()]
    except psutil.NoSuchProcess:
        return []


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env={**env, "PYTHONUNBUFFERED": "1", "PATH": os.environ.get("PATH", "")},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
