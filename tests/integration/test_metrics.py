"""/metrics in one process: what the request hook counts and how routes are
labelled, the figures read from Redis at scrape (the real breaker, real RQ
queues), the database pool and statement metrics, and who may scrape in
staging and production. The many-process case (gunicorn workers, an RQ
worker) is tests/integration/test_metrics_processes.py."""

from __future__ import annotations

import time

import pytest
import redis
from rq import Queue
from rq.job import Job

from optimizer.youtube import quota
from reliability import db
from reliability.breaker import CircuitBreaker
from tests.conftest import TEST_SECRET_KEY
from tests.integration.metrics_helpers import parse, total, value

STAGING_KEY = "staging-secret-key-that-is-long-enough-0123456789"
TOKEN = "scrape-token-0123456789"


def scrape(client, **kwargs):
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return parse(response.get_data(as_text=True))


@pytest.fixture
def redis_client(clean_state):
    client = redis.Redis.from_url(clean_state[1])
    yield client
    client.close()


def test_requests_are_counted_by_method_route_rule_and_status(client):
    before = scrape(client)
    client.get("/health/live")
    client.get("/health/live")
    client.get("/login")
    client.get("/no/such/page/12345")
    client.post("/health/live")  # 405: a rule matched the path, not the method
    after = scrape(client)

    def grew(**labels: str) -> float:
        return value(after, "http_requests_total", **labels) - value(before, "http_requests_total", **labels)

    assert grew(method="GET", route="/health/live", status="200") == 2
    assert grew(method="GET", route="/login", status="200") == 1
    assert grew(method="GET", route="<unmatched>", status="404") == 1
    # Never the raw path: the unknown URL is nowhere in the labels.
    assert not any("/no/such" in dict(labels).get("route", "") for _, labels in after)
    assert total(after, "http_requests_total") - total(before, "http_requests_total") == 5
    # Scrapes are not counted.
    assert total(after, "http_requests_total", route="/metrics") == 0
    timed = total(after, "http_request_duration_seconds_count") - total(before, "http_request_duration_seconds_count")
    assert timed == 5
    assert value(after, "http_request_duration_seconds_bucket", method="GET", route="/login", le="+Inf") >= 1


def test_a_route_with_a_variable_is_labelled_by_its_rule(client):
    client.get("/channels/987654")  # not logged in: a redirect, but the rule matched
    labels = [dict(ls) for name, ls in scrape(client) if name == "http_requests_total"]
    routes = {ls["route"] for ls in labels}
    assert "/channels/<int:channel_id>" in routes
    assert not any("987654" in r for r in routes)


def test_an_unknown_method_is_one_label_not_many(client):
    client.open("/health/live", method="BREW")
    labels = [dict(ls) for name, ls in scrape(client) if name == "http_requests_total"]
    assert "BREW" not in {ls["method"] for ls in labels}
    assert "other" in {ls["method"] for ls in labels}


def test_error_responses_are_counted_by_their_code(client):
    before = scrape(client)
    client.get("/no/such/page")
    after = scrape(client)
    grew = value(after, "app_errors_total", component="web", type="not_found") - value(
        before, "app_errors_total", component="web", type="not_found"
    )
    assert grew == 1


def test_breaker_state_is_read_from_redis_at_each_scrape(client, redis_client):
    anthropic = CircuitBreaker(redis_client, "anthropic", min_calls=2, reset_timeout_s=0.2, half_open_permits=1)
    assert value(scrape(client), "circuit_breaker_state", service="anthropic") == 0
    for _ in range(2):  # the breaker's own API, as a failing call records itself
        anthropic.allow().failure()
    samples = scrape(client)
    assert value(samples, "circuit_breaker_state", service="anthropic") == 2
    assert value(samples, "circuit_breaker_state", service="youtube") == 0
    time.sleep(0.3)
    probe = anthropic.allow()  # the pause is over: this call is the half-open probe
    assert value(scrape(client), "circuit_breaker_state", service="anthropic") == 1
    probe.success()
    assert value(scrape(client), "circuit_breaker_state", service="anthropic") == 0


def test_an_open_breaker_whose_pause_is_over_reads_half_open_without_any_call(client, redis_client):
    """Opened once, then nothing calls the service: from the end of its pause
    the scrape says half-open (1), so CircuitBreakerOpen stops firing without
    waiting for traffic; a breaker still in its pause says open (2)."""
    anthropic = CircuitBreaker(redis_client, "anthropic", min_calls=2, reset_timeout_s=0.2, half_open_permits=1)
    serpapi = CircuitBreaker(redis_client, "serpapi", min_calls=2, reset_timeout_s=60)
    for _ in range(2):
        anthropic.allow().failure()
        serpapi.allow().failure()
    time.sleep(0.3)
    samples = scrape(client)
    assert value(samples, "circuit_breaker_state", service="anthropic") == 1
    assert value(samples, "circuit_breaker_state", service="serpapi") == 2
    assert anthropic.state()["state"] == "half_open"  # /health says the same


def test_queue_depth_and_failed_jobs_are_read_from_rq(client, redis_client):
    queue = Queue("default", connection=redis_client)
    queue.enqueue("jobs.health.no_such_function")
    queue.enqueue("jobs.health.no_such_function")
    failed = Job.create("jobs.health.no_such_function", connection=redis_client)
    failed.save()
    queue.failed_job_registry.add(failed, ttl=60, exc_string="boom")
    samples = scrape(client)
    assert value(samples, "rq_queue_jobs", queue="default") == 2
    assert value(samples, "rq_queue_jobs", queue="high") == 0
    assert value(samples, "rq_failed_jobs", queue="default") == 1
    assert value(samples, "rq_workers") == 0
    assert value(samples, "metrics_collector_up", collector="queues") == 1


def test_redis_down_leaves_the_redis_figures_out_and_says_so(app_config):
    from webapp import create_app

    app = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    samples = scrape(app.test_client())
    assert value(samples, "metrics_collector_up", collector="breakers") == 0
    assert value(samples, "metrics_collector_up", collector="queues") == 0
    assert not [name for name, _ in samples if name == "circuit_breaker_state"]
    db.dispose_pool()


def test_pool_connections_in_use_and_statement_times(client):
    before = scrape(client)
    with db.transaction() as cur:
        cur.execute("SELECT 1")
        during = scrape(client)  # the scrape itself takes no connection
    after = scrape(client)
    assert value(during, "database_pool_active_connections") == 1
    assert value(after, "database_pool_active_connections") == 0
    assert value(after, "database_pool_max_connections") == db.get_pool().limit
    statements = "database_query_duration_seconds_count"
    assert value(after, statements) > value(before, statements)


def test_todays_youtube_quota_is_read_from_the_ledger(app_config):
    from webapp import create_app

    app = create_app({**app_config, "YOUTUBE_DAILY_QUOTA": 1234})
    client = app.test_client()
    samples = scrape(client)
    assert value(samples, "youtube_quota_units_used") == 0
    assert value(samples, "youtube_quota_units_limit") == 1234
    with db.transaction() as cur:
        quota.record(cur, "videos.update")
        quota.record(cur, "videos.list", units=3)
    samples = scrape(client)
    assert value(samples, "youtube_quota_units_used") == quota.COSTS["videos.update"] + 3
    assert value(samples, "metrics_collector_up", collector="quota") == 1
    db.dispose_pool()


def test_a_database_that_cannot_be_reached_is_counted_and_the_scrape_still_answers(app_config):
    from webapp import create_app

    app = create_app({**app_config, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    client = app.test_client()
    before = scrape(client)  # the quota reading fails: one connection error, the rest is served
    after = scrape(client)
    assert value(after, "metrics_collector_up", collector="quota") == 0
    assert value(after, "metrics_collector_up", collector="breakers") == 1
    failed = value(after, "database_connection_errors_total", kind="connect")
    assert failed - value(before, "database_connection_errors_total", kind="connect") == 1
    db.dispose_pool()


# -- who may scrape ---------------------------------------------------------------


@pytest.fixture
def staging_app(app_config):
    from webapp import create_app

    app = create_app({**app_config, "ENVIRONMENT": "staging", "SECRET_KEY": STAGING_KEY, "METRICS_TOKEN": TOKEN})
    yield app
    db.dispose_pool()


def test_in_staging_an_outside_address_without_the_token_is_refused(staging_app):
    client = staging_app.test_client()
    outside = {"REMOTE_ADDR": "203.0.113.7"}
    refused = client.get("/metrics", environ_base=outside)
    assert refused.status_code == 403
    assert "http_requests_total" not in refused.get_data(as_text=True)
    wrong = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    allowed = client.get("/metrics", environ_base=outside, headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200
    assert "circuit_breaker_state" in allowed.get_data(as_text=True)


def test_in_staging_the_monitoring_network_may_scrape_without_a_token(staging_app):
    client = staging_app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def test_metrics_can_be_switched_off(app_config):
    from webapp import create_app

    app = create_app({**app_config, "METRICS_ENABLED": False, "SECRET_KEY": TEST_SECRET_KEY})
    client = app.test_client()
    assert client.get("/metrics").status_code == 404
    db.dispose_pool()
