"""The Redis-shared circuit breaker, against a real Redis."""

import time

import pytest
import redis

from reliability.breaker import CircuitBreaker, CircuitOpen


class ServerError(Exception):
    status = 503


class ClientError(Exception):
    status = 400


def counts(exc):
    return getattr(exc, "status", 500) >= 500


@pytest.fixture
def redis_client(clean_state):
    _, url = clean_state
    client = redis.Redis.from_url(url)
    yield client
    client.close()


def make(redis_client, **options):
    defaults = {
        "window_s": 30,
        "min_calls": 4,
        "failure_rate": 0.5,
        "reset_timeout_s": 0.3,
        "half_open_permits": 2,
        "lease_ttl_s": 0.4,
        "counts_as_failure": counts,
    }
    return CircuitBreaker(redis_client, "svc", **{**defaults, **options})


def fail(breaker, exc=ServerError):
    with pytest.raises(exc), breaker.guard():
        raise exc()


def test_opens_after_enough_failures_and_refuses(redis_client):
    breaker = make(redis_client)
    for _ in range(3):
        fail(breaker)
    assert breaker.state()["state"] == "closed"  # below min_calls
    fail(breaker)
    assert breaker.state()["state"] == "open"
    with pytest.raises(CircuitOpen):
        breaker.allow()


def test_client_errors_never_open_it(redis_client):
    breaker = make(redis_client)
    for _ in range(50):
        fail(breaker, ClientError)
    assert breaker.state()["state"] == "closed"
    breaker.allow().success()


def test_state_is_shared_between_instances(redis_client):
    first, second = make(redis_client), make(redis_client)
    for _ in range(4):
        fail(first)
    with pytest.raises(CircuitOpen):
        second.allow()


def test_half_open_admits_exactly_the_permits_then_closes(redis_client):
    breaker = make(redis_client)
    for _ in range(4):
        fail(breaker)
    time.sleep(0.35)
    probes = [breaker.allow(), breaker.allow()]
    with pytest.raises(CircuitOpen):
        breaker.allow()
    assert breaker.state()["state"] == "half_open"
    for probe in probes:
        probe.success()
    assert breaker.state()["state"] == "closed"


def test_failed_probe_reopens(redis_client):
    breaker = make(redis_client)
    for _ in range(4):
        fail(breaker)
    time.sleep(0.35)
    breaker.allow().failure(ServerError())
    assert breaker.state()["state"] == "open"


def test_expired_lease_frees_its_place(redis_client):
    breaker = make(redis_client, half_open_permits=1)
    for _ in range(4):
        fail(breaker)
    time.sleep(0.35)
    breaker.allow()  # this probe's worker "dies": never reports
    with pytest.raises(CircuitOpen):
        breaker.allow()
    time.sleep(0.45)
    breaker.allow().success()
    assert breaker.state()["state"] == "closed"


def test_slow_calls_can_open_it(redis_client):
    breaker = make(redis_client, slow_call_s=0.01, slow_rate=0.5)
    for _ in range(4):
        with breaker.guard():
            time.sleep(0.02)
    assert breaker.state()["state"] == "open"


def test_redis_down_fails_open():
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    breaker = CircuitBreaker(dead, "svc")
    with breaker.guard():
        pass  # the call goes through
    assert breaker.state()["state"] == "unknown"


def test_decorator_form(redis_client):
    breaker = make(redis_client)

    @breaker
    def call():
        raise ServerError()

    for _ in range(4):
        with pytest.raises(ServerError):
            call()
    with pytest.raises(CircuitOpen):
        call()
