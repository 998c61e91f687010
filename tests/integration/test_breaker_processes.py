"""The Anthropic circuit breaker across real processes.

Each caller is a process of its own (tests/integration/breaker_client.py)
running the product's ClaudeEngine behind reliability.breaker.CircuitBreaker,
against the Anthropic fake over HTTP and the test Redis. Each process sends
its own API key (the fake accepts any), so the fake can tell who reached it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import redis

from reliability.breaker import CircuitBreaker
from tests.fakes.anthropic import fake_anthropic_fixture
from tests.integration.breaker_client import BREAKER_NAME
from tests.integration.youtube_helpers import ROOT

MODEL = "claude-sonnet-4-6"
RESET_S = 2.0

fake_anthropic = fake_anthropic_fixture(api_keys=None)


class Caller:
    """One process; ``send()`` makes it call, ``result()`` reads what it saw."""

    def __init__(self, fake, key: str, *, model: str = MODEL, permits: int = 2, lease_s: float = 60.0):
        self.key = key
        args = [
            sys.executable,
            "-m",
            "tests.integration.breaker_client",
            "--base-url",
            fake.url,
            "--api-key",
            key,
            "--model",
            model,
            "--min-calls",
            "4",
            "--reset-s",
            str(RESET_S),
            "--permits",
            str(permits),
            "--lease-s",
            str(lease_s),
        ]
        # stderr (the engine's warning per failed call) is not the test's business
        self.proc = subprocess.Popen(
            args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )

    def ready(self) -> Caller:
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", f"caller {self.key} did not start: {line!r}"
        return self

    def send(self) -> None:
        self.proc.stdin.write("call\n")
        self.proc.stdin.flush()

    def result(self) -> list[str]:
        line = self.proc.stdout.readline()
        assert line, f"caller {self.key} died"
        return json.loads(line)["outcomes"]

    def call(self) -> list[str]:
        self.send()
        return self.result()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


@pytest.fixture
def callers(clean_state, fake_anthropic):
    """Start callers with ``callers("key", ...)``; all are stopped afterwards."""
    started: list[Caller] = []

    def start(*keys: str, **options) -> list[Caller]:
        new = [Caller(fake_anthropic, key, **options) for key in keys]
        started.extend(new)
        return [caller.ready() for caller in new]

    yield start
    for caller in started:
        caller.close()


@pytest.fixture
def breaker_state(clean_state):
    client = redis.Redis.from_url(clean_state[1])
    yield lambda: CircuitBreaker(client, BREAKER_NAME).state()["state"]
    client.close()


def from_key(fake, key: str) -> list:
    """The requests at the fake that carried this caller's API key."""

    def sent(request) -> str | None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")

    return [r for r in fake.requests if r.path == "/v1/messages" and sent(r) == key]


def open_breaker(fake, opener) -> float:
    """Four overloaded answers (min_calls 4, failure rate 100 %); returns when it opened."""
    fake.inject("overloaded", times=4, model=MODEL)
    assert [opener.call() for _ in range(4)] == [["overloaded"]] * 4
    return time.monotonic()


def test_failures_in_other_processes_open_it_for_everyone(fake_anthropic, callers, breaker_state):
    a, b, c = callers("proc-a", "proc-b", "proc-c")
    fake_anthropic.inject("overloaded", times=4, model=MODEL)
    assert a.call() == ["overloaded"]
    assert b.call() == ["overloaded"]
    assert a.call() == ["overloaded"]
    assert breaker_state() == "closed"  # 3 calls: below min_calls, whoever made them
    assert b.call() == ["overloaded"]  # the 4th failure, counted with the other process's 2
    assert breaker_state() == "open"

    assert c.call() == ["breaker_open"]  # never failed itself, refused all the same
    assert from_key(fake_anthropic, "proc-c") == []
    assert a.call() == ["breaker_open"]
    assert fake_anthropic.total_calls == 4


def test_half_open_admits_exactly_the_permitted_probes_across_processes(fake_anthropic, callers, breaker_state):
    opener, *crowd = callers("opener", "p1", "p2", "p3", "p4", "p5", permits=2)
    opened = open_breaker(fake_anthropic, opener)
    fake_anthropic.latency_s = 2.0  # the probes are still in flight while the others try
    time.sleep(max(0.0, opened + RESET_S + 0.2 - time.monotonic()))
    before = fake_anthropic.total_calls

    for caller in crowd:  # all five at once: each is waiting on its stdin
        caller.send()
    results = {caller.key: caller.result() for caller in crowd}

    assert sorted(results.values()) == [["breaker_open"]] * 3 + [["ok"]] * 2, results
    probed = [key for key, outcomes in results.items() if outcomes == ["ok"]]
    assert fake_anthropic.total_calls - before == 2
    assert all(len(from_key(fake_anthropic, key)) == 1 for key in probed)
    assert breaker_state() == "closed"  # both probes succeeded


def test_a_killed_probe_frees_its_place_when_its_lease_expires(fake_anthropic, callers, breaker_state):
    lease_s = 5.0
    opener, probe, other = callers("opener", "probe", "other", permits=1, lease_s=lease_s)
    opened = open_breaker(fake_anthropic, opener)
    time.sleep(max(0.0, opened + RESET_S + 0.2 - time.monotonic()))

    fake_anthropic.inject("timeout", times=1, model=MODEL, seconds=60)  # the probe hangs at the API...
    probe.send()
    admitted = time.monotonic()
    deadline = admitted + 10
    while not from_key(fake_anthropic, "probe") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert from_key(fake_anthropic, "probe"), "the probe never reached the API"
    probe.proc.kill()  # ...and its process is killed: it never reports back
    probe.proc.wait()

    assert other.call() == ["breaker_open"]  # the dead probe still holds the only place
    assert from_key(fake_anthropic, "other") == []
    assert time.monotonic() < admitted + lease_s, "too slow to see the place held"

    time.sleep(max(0.0, admitted + lease_s + 0.3 - time.monotonic()))
    assert other.call() == ["ok"]  # the lease expired: a new probe, and it closes the breaker
    assert len(from_key(fake_anthropic, "other")) == 1
    assert breaker_state() == "closed"


def test_bursts_of_client_errors_never_open_it(fake_anthropic, callers, breaker_state):
    retired_a, retired_b = callers("retired-a", "retired-b", model="claude-retired-1-0")
    valid_a, valid_b = callers("valid-a", "valid-b")

    for _ in range(10):  # an unknown model: 404 not_found_error, from two processes at once
        retired_a.send()
        retired_b.send()
        assert retired_a.result() == retired_b.result() == ["client_error"]
    assert breaker_state() == "closed"

    fake_anthropic.max_output_tokens = 100  # the app's max_tokens is now an invalid request: 400
    for _ in range(10):
        valid_a.send()
        valid_b.send()
        assert valid_a.result() == valid_b.result() == ["client_error"]
    statuses = sorted({r.status for r in fake_anthropic.requests})
    assert statuses == [400, 404] and fake_anthropic.total_calls == 40
    assert breaker_state() == "closed"  # 40 answered errors in the window, min_calls is 4

    fake_anthropic.max_output_tokens = 64_000
    assert valid_a.call() == ["ok"]
    assert len(from_key(fake_anthropic, "valid-a")) == 11
