"""Sentry (issue 15, item 4): an exception in a view and one in a job reach
a local stand-in for Sentry's ingest (tests/fakes/sentry) through the real
sentry-sdk transport, grouped, tagged, and with none of the secrets that
were in the request, the exception or the job."""

from __future__ import annotations

import pytest
import sentry_sdk
from rq import Queue

from reliability.redis_clients import rq_client
from reliability.version import app_version
from tests.fakes.sentry import fake_sentry_fixture
from tests.integration.worker_helpers import run_worker_process_burst

fake_sentry = fake_sentry_fixture()

OAUTH_CODE = "4/0AfJohXnOAUTHCODE123"
OAUTH_STATE = "statevalue-9f8e7d6c5b4a"
BEARER = "bearer-secret-token-abcdef123456"
COOKIE = "sessioncookievalue-0011223344"
EMAIL = "jane.secret@example.org"
PASSWORD = "hunter2-correct-horse"
ANTHROPIC_KEY = "sk-ant-api03-leakedkey0123456789"
SECRETS = (OAUTH_CODE, OAUTH_STATE, BEARER, COOKIE, EMAIL, PASSWORD, ANTHROPIC_KEY)


class ReportedError(RuntimeError):
    """What the test view and the test job raise: one type, so one group."""


def failing_job(email: str, password: str) -> None:
    """A job that fails with personal data in its message and arguments."""
    raise ReportedError(f"could not mail {email} with password={password} using key {ANTHROPIC_KEY}")


@pytest.fixture
def sentry_app(app_config, fake_sentry):
    from webapp import create_app

    application = create_app({**app_config, "SENTRY_DSN": fake_sentry.dsn, "GIT_COMMIT": "abcdef1234567"})

    @application.get("/test-only/boom")
    def boom():  # a view of this test's own: none of ours is broken on purpose
        raise ReportedError(f"failed for {EMAIL} with password={PASSWORD}")

    yield application
    sentry_sdk.get_client().close()  # no client left for the next test: events stop here
    sentry_sdk.init()


def _crash(client, request_id: str):
    return client.get(
        f"/test-only/boom?code={OAUTH_CODE}&state={OAUTH_STATE}",
        headers={"Authorization": f"Bearer {BEARER}", "Cookie": f"session={COOKIE}", "X-Request-ID": request_id},
    )


def test_a_view_exception_arrives_tagged_grouped_and_scrubbed(sentry_app, fake_sentry):
    client = sentry_app.test_client()
    assert _crash(client, "req-first-0001").status_code == 500
    assert _crash(client, "req-second-0002").status_code == 500
    sentry_sdk.flush(5)
    events = fake_sentry.wait_for_events(2)
    assert [e["tags"]["request_id"] for e in events] == ["req-first-0001", "req-second-0002"]
    for event in events:
        assert event["environment"] == "test"
        assert event["release"] == f"youtube-channel-optimizer@{app_version()}+abcdef123456"
        assert event["tags"]["component"] == "web"
        assert event["exception"]["values"][-1]["type"] == "ReportedError"
    assert _group(events[0]) == _group(events[1]), "the same error must group as one issue"
    text = fake_sentry.all_text()
    leaked = [secret for secret in SECRETS if secret in text]
    assert leaked == []
    assert "/test-only/boom" in text  # what happened is still there


def test_a_job_exception_arrives_from_a_real_worker_scrubbed(app_config, fake_sentry):
    config = {**app_config, "SENTRY_DSN": fake_sentry.dsn}
    queue = Queue("default", connection=rq_client(app_config["REDIS_URL"]))
    jobs = [queue.enqueue(failing_job, EMAIL, PASSWORD) for _ in range(2)]
    done = run_worker_process_burst(config, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    events = fake_sentry.wait_for_events(2, timeout=20)
    assert sorted(e["tags"]["job_id"] for e in events) == sorted(job.id for job in jobs)
    for event in events:
        assert event["tags"]["component"] == "worker"
        assert event["exception"]["values"][-1]["type"] == "ReportedError"
    assert _group(events[0]) == _group(events[1])
    text = fake_sentry.all_text()
    assert [secret for secret in SECRETS if secret in text] == []
    assert "failing_job" in text


def _group(event: dict) -> tuple:
    """What Sentry groups an error by: its type and the functions of its stack."""
    exception = event["exception"]["values"][-1]
    frames = exception.get("stacktrace", {}).get("frames", [])
    return exception["type"], tuple((f.get("module"), f.get("function")) for f in frames)
