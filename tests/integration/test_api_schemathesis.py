"""schemathesis fuzzes every operation of /api/v1/openapi.json against the
app (in-process WSGI) on the real PostgreSQL and Redis, as the owner of a
seeded demo channel with a finished batch, with a valid bearer token.

Most cases get real ids: a hypothesis choice swaps the generated path ids
(and the batch's video ids) for rows of the channel, so the handlers run
past the membership check and answer 2xx; the rest keep schemathesis's own
values (missing rows, 404). Every answer must be no server error, carry a
status the document declares, and match its schema. The totals are checked
at the end: at least 500 cases, each operation covered, at least 30 % 2xx.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.api_helpers import api_client, demo_channel, finished_run, video_ids
from tests.integration.channel_helpers import query

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("api_schemathesis"), pytest.mark.timeout(300)]

EXAMPLES_PER_OPERATION = 28
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Scripts hammer the API here far faster than any limit allows; the limits have tests of their own.
UNLIMITED = {"API_RATE_LIMIT": "100000 per minute", "API_BATCH_RATE_LIMIT": "100000 per minute"}


@pytest.fixture
def app(app_config):
    from reliability import db
    from webapp import create_app

    application = create_app({**app_config, **UNLIMITED, "MONTHLY_OPTIMIZATIONS_PER_USER": 100_000})
    yield application
    db.dispose_pool()


def _real_ids(owner, config: dict, channel_id: int) -> dict[str, list[int]]:
    run = finished_run(owner, config, channel_id, 3)
    database_url = config["DATABASE_URL"]
    videos = video_ids(database_url, channel_id, 20)
    versions = query(database_url, "SELECT id FROM metadata_versions WHERE video_id = %s", (videos[0],))
    experiments = query(
        database_url,
        "SELECT e.id FROM experiments e JOIN videos v ON v.id = e.video_id WHERE v.channel_id = %s",
        (channel_id,),
    )
    return {
        "channel_id": [channel_id],
        "video_id": videos[:1],  # the one whose versions are listed, so restores find them
        "run_id": [run["id"]],
        "suggestion_id": [item["suggestion_id"] for item in run["videos"]],
        "experiment_id": [row["id"] for row in experiments],
        "version_id": [row["id"] for row in versions],
        "videos": videos,
    }


def _feed(case, ids: dict[str, list[int]], pick: int) -> None:
    """Real rows for the case's ids (the same choice for each, by ``pick``)."""
    for name in list(case.path_parameters or {}):
        if ids.get(name):
            case.path_parameters[name] = ids[name][pick % len(ids[name])]
    if isinstance(case.body, dict) and isinstance(case.body.get("video_ids"), list):
        count = max(1, min(len(case.body["video_ids"]), 5))
        start = pick % (len(ids["videos"]) - count + 1)
        case.body["video_ids"] = ids["videos"][start : start + count]


def test_every_operation_answers_as_documented(app, app_config):
    owner = api_client(app, "owner@example.com")
    channel_id = demo_channel(owner)
    ids = _real_ids(owner, app_config, channel_id)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    spare = api_client(app, "spare@example.com").headers["Authorization"]
    # The WSGI transport hands schemathesis the body as sent: ask for it uncompressed.
    headers = {**owner.headers, "Accept-Encoding": "identity"}
    statuses: Counter[str] = Counter()
    per_operation: Counter[str] = Counter()

    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), real=st.integers(0, 99))
        def run(case, real: int) -> None:
            if real < 80:
                _feed(case, ids, real)
            # Logging out revokes the token it is sent with: another account's, so the owner's stays valid.
            sent = {**headers, "Authorization": spare} if case.operation.path == "/api/v1/auth/logout" else headers
            response = case.call_and_validate(headers=sent, checks=CHECKS)
            statuses[f"{response.status_code // 100}xx"] += 1
            per_operation[case.operation.label] += 1

        run()

    total = sum(statuses.values())
    assert total >= 500, statuses
    assert len(per_operation) == len(list(schema.get_all_operations())), per_operation
    assert statuses["2xx"] / total >= 0.30, statuses
    print(f"schemathesis: {total} cases over {len(per_operation)} operations: {dict(statuses)}")
