"""What reliability/observability.py takes out of a Sentry event before it
leaves (the integration test sends real events; this names each rule)."""

from __future__ import annotations

import pytest

from reliability.config import load_settings
from reliability.observability import FILTERED, scrub_event, scrub_text, tag_event
from reliability.version import APP_NAME, release


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET /oauth/google/callback?code=4/0AbCdEf&state=xyz123", "4/0AbCdEf"),
        ("GET /oauth/google/callback?code=4/0AbCdEf&state=xyz123", "xyz123"),
        ("refresh_token=1//0gAbc-def&x=1", "1//0gAbc-def"),
        ("Authorization: Bearer eyJhbGciOi.abc.def", "eyJhbGciOi"),
        ("headers {'Cookie': 'session=abc123; remember=zz'}", "abc123"),
        ("could not mail jane.doe+yt@example.co.uk today", "jane.doe+yt@example.co.uk"),
        ("postgresql://app:s3cretpw@db:5432/yco", "s3cretpw"),
        ("key sk-ant-api03-AbC_dEf-123 refused", "sk-ant-api03-AbC_dEf-123"),
        ("token gAAAAABmZ0123456789abcdefghijklmnopqrstuv stored", "gAAAAABmZ0123456789abcdefghijklmnopqrstuv"),
        ("google ya29.a0AfH6SMBx-token used", "ya29.a0AfH6SMBx-token"),
        ("login failed: password=hunter2", "hunter2"),
    ],
)
def test_each_kind_of_secret_is_taken_out_of_text(text, secret):
    scrubbed = scrub_text(text)
    assert secret not in scrubbed
    assert FILTERED in scrubbed or "[email]" in scrubbed


def test_what_is_not_secret_stays_readable():
    assert scrub_text("error_code=rate_limited on /channels/12") == "error_code=rate_limited on /channels/12"


def test_secret_keys_are_dropped_anywhere_and_our_own_fields_kept():
    event = {
        "release": f"{APP_NAME}@0.1.0+abcdef",
        "request": {"query_string": "code=abc&state=def", "headers": {"X-Api-Key": "k"}},
        "extra": {"nested": [{"refresh_token": "r", "email": "a@b.example", "count": 3}]},
    }
    scrubbed = scrub_event(event)
    assert scrubbed["release"] == event["release"]
    assert scrubbed["request"]["query_string"] == f"code={FILTERED}&state={FILTERED}"
    assert scrubbed["request"]["headers"]["X-Api-Key"] == FILTERED
    assert scrubbed["extra"]["nested"] == [{"refresh_token": FILTERED, "email": FILTERED, "count": 3}]


def test_a_job_event_is_tagged_with_its_id_and_loses_its_arguments():
    event = {"extra": {"rq-job": {"job_id": "sync-12", "func": "jobs.sync.sync_channel", "description": "f(12, 'x')"}}}
    tagged = tag_event(event, "worker")
    assert tagged["tags"] == {"component": "worker", "job_id": "sync-12"}
    assert tagged["extra"]["rq-job"]["description"] == "jobs.sync.sync_channel"


def test_the_release_names_version_and_commit_and_platforms_set_the_commit():
    assert release("0123456789abcdef0123").startswith(f"{APP_NAME}@")
    assert release("0123456789abcdef0123").endswith("+0123456789ab")
    assert load_settings({"HEROKU_SLUG_COMMIT": "fedcba9876543"})["GIT_COMMIT"] == "fedcba9876543"
    assert load_settings({"GIT_COMMIT": "abc1234", "SOURCE_VERSION": "fff0000"})["GIT_COMMIT"] == "abc1234"
