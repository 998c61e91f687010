"""/health, /health/ready and /health/live on the job system: live workers,
the age of the oldest queued job, and a SIGKILLed worker seen as gone
within seconds (its heartbeat lapses), not after RQ's 8-minute key expiry."""

from __future__ import annotations

import pytest
import redis
from rq import Queue

from tests.integration.optimize_helpers import kill_tree, start_worker, stop_process, wait_for

HEARTBEAT_S = 1  # the worker beats every 3 s when idle; taken for dead after 6 s


@pytest.fixture
def config(app_config):
    return {**app_config, "WORKER_HEARTBEAT_S": HEARTBEAT_S}


@pytest.fixture
def client(config):
    from webapp import create_app

    return create_app(config).test_client()


def _enqueue_waiting_job(config) -> None:
    connection = redis.Redis.from_url(config["REDIS_URL"])
    Queue("low", connection=connection).enqueue("jobs.maintenance.prune_audit_log", job_id="health-probe")
    connection.close()


def test_live_answers_without_looking_at_anything_else(client):
    response = client.get("/health/live")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_jobs_waiting_with_no_worker_make_ready_503_and_health_says_why(client, config):
    assert client.get("/health/ready").status_code == 200  # nothing waits: no worker is needed
    _enqueue_waiting_job(config)

    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.get_json()["reasons"] == ["jobs are waiting and no worker is running"]
    # A web instance can still serve pages: its own readiness leaves the workers out.
    web_ready = client.get("/health/ready?scope=web")
    assert web_ready.status_code == 200 and web_ready.get_json()["failing"] == []
    health = client.get("/health")
    assert health.status_code == 200  # /health keeps its contract: database and Redis
    jobs = health.get_json()["jobs"]
    assert (jobs["workers"], jobs["queued"]) == (0, 1)
    assert jobs["oldest_queued_s"] >= 0


@pytest.mark.slow
def test_a_killed_worker_shows_within_seconds(client, config, tmp_path):
    with open(tmp_path / "worker.log", "w") as log:
        worker = start_worker(config, log=log)
        try:
            wait_for(lambda: client.get("/health").get_json()["jobs"]["workers"] == 1, 30, "a live worker in /health")
            _enqueue_waiting_job(config)  # the worker runs it
            wait_for(lambda: client.get("/health").get_json()["jobs"]["queued"] == 0, 30, "the job to be taken")
            assert client.get("/health/ready").status_code == 200
            killed = kill_tree(worker)
        finally:
            stop_process(worker)
    assert len(killed) >= 2  # the worker and its scheduler
    _enqueue_waiting_job(config)
    wait_for(
        lambda: client.get("/health/ready").status_code == 503,
        4 * 3 * HEARTBEAT_S,
        "/health/ready to notice the dead worker",
    )
    assert client.get("/health").get_json()["jobs"]["workers"] == 0
