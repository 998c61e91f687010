"""The probes (issue 15, item 2): /health/live answers with the database
stopped while /health/ready gives 503 naming it; /health/ready also names
missing migrations; /info tells anyone the name and version and only
admins and allowed addresses the rest, never a secret; probe requests are
logged at debug level only."""

from __future__ import annotations

import logging
import uuid

import psycopg2
import pytest

from reliability import db
from reliability.config import database_url_for
from reliability.version import app_version

CLOSED_DATABASE = "postgresql://postgres@127.0.0.1:1/stopped"  # nothing listens: a real refused connection
PUBLIC = "203.0.113.7"
ANTHROPIC_KEY = "sk-ant-api03-never-shown-0123456789"


@pytest.fixture
def make_app(app_config):
    """An app with some settings changed; the plain test app is built again
    afterwards so the pool and the shared extensions point back."""
    from webapp import create_app

    def make(**changes):
        return create_app({**app_config, **changes})

    yield make
    create_app(app_config)
    db.dispose_pool()


def _from(client, address: str):
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_live_answers_with_the_database_stopped_while_ready_is_503_naming_it(make_app):
    client = make_app(DATABASE_URL=CLOSED_DATABASE).test_client()
    live = client.get("/health/live")
    assert live.status_code == 200 and live.get_json() == {"status": "ok"}
    ready = _from(client, PUBLIC).get("/health/ready")
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "not_ready", "failing": ["database"]}
    web_ready = _from(client, PUBLIC).get("/health/ready?scope=web")  # what the web pods' probe asks
    assert web_ready.status_code == 503
    assert web_ready.get_json() == {"status": "not_ready", "failing": ["database"]}


def test_ready_with_an_unknown_scope_is_400(client):
    answer = client.get("/health/ready?scope=everything")
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "scope: one of all, web"


def test_ready_when_everything_answers(client):
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.get_json()["failing"] == []


def test_ready_is_503_while_a_migration_is_not_applied(make_app, app_config):
    name = f"yco_unmigrated_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(app_config["DATABASE_URL"])
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        client = make_app(DATABASE_URL=database_url_for(app_config["DATABASE_URL"], name)).test_client()
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.get_json()["failing"] == ["migrations"]
        assert ready.get_json()["reasons"] == ["migrations not applied"]
        db.dispose_pool()
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_info_tells_anyone_the_name_and_version_and_only_insiders_the_rest(make_app):
    app = make_app(ANTHROPIC_API_KEY=ANTHROPIC_KEY, GIT_COMMIT="0123456789abcdef0123456789abcdef01234567")
    public = _from(app.test_client(), PUBLIC).get("/info")
    assert public.status_code == 200
    assert public.get_json() == {"name": "youtube-channel-optimizer", "version": app_version()}
    inside = _from(app.test_client(), "10.1.2.3").get("/info")
    body = inside.get_json()
    assert body["commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert body["environment"] == "test"
    assert body["python"].startswith("3.")
    assert body["started_at"].endswith("+00:00")
    assert body["integrations"]["anthropic"] is True and body["integrations"]["serpapi"] is False
    assert ANTHROPIC_KEY not in inside.get_data(as_text=True)


def test_probe_requests_are_logged_at_debug_level_others_at_info(client, caplog):
    caplog.set_level(logging.DEBUG, logger="webapp.request")
    for path in ("/health", "/health/live", "/health/ready", "/info", "/login"):
        client.get(path)
    levels = {record.path: record.levelname for record in caplog.records if record.name == "webapp.request"}
    assert levels == {
        "/health": "DEBUG",
        "/health/live": "DEBUG",
        "/health/ready": "DEBUG",
        "/info": "DEBUG",
        "/login": "INFO",
    }


def test_probes_are_not_rate_limited_where_pages_are(make_app):
    from tests.helpers import register

    client = make_app(DEFAULT_RATE_LIMIT="3 per minute").test_client()
    register(client, "prober@example.com")  # logged in: the default limit counts this user's GETs
    # (/health/ready may say 503: registering queued a mail and no worker runs here.)
    answers = [
        client.get(path).status_code for _ in range(6) for path in ("/health", "/health/live", "/health/ready", "/info")
    ]
    assert 429 not in answers and set(answers) <= {200, 503}
    assert 429 in [client.get("/dashboard").status_code for _ in range(4)]
