"""The penetration test's information findings (issue 10, item 8), each as
the behaviour chosen: /health details only for internal addresses and
admins; HTTP to HTTPS with a permanent redirect; rate limits counted per
process while Redis is down; anonymous GETs not limited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from reliability import db
from reliability.errors import ConfigError
from tests.helpers import STRONG_PASSWORD, csrf_from, login, register

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "203.0.113.7"  # TEST-NET-3: an address on the internet
PRODUCTION_SECRET_KEY = "prod-secret-key-0123456789-abcdefghijklm"
DETAILS = {"database", "redis", "breakers"}


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


# -- /health ---------------------------------------------------------------------------


def test_anonymous_caller_on_the_internet_sees_only_the_status(client):
    response = _from(client, PUBLIC).get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("address", ["127.0.0.1", "10.20.30.40", "192.168.1.9", "172.16.0.3", "::1", "::ffff:10.0.0.5"])
def test_internal_addresses_see_pools_and_breakers(client, address):
    body = _from(client, address).get("/health").get_json()
    assert DETAILS <= body.keys()
    assert body["database"]["healthy"] is True
    assert set(body["breakers"]) == {"anthropic", "serpapi", "youtube"}


def test_an_admin_sees_the_details_from_anywhere_a_member_does_not(app):
    member = _from(app.test_client(), PUBLIC)
    register(member, "member@example.com")
    assert member.get("/health").get_json() == {"status": "ok"}
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "--email", "boss@example.com", "--password-stdin"], input=STRONG_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    admin = _from(app.test_client(), PUBLIC)
    login(admin, "boss@example.com")
    assert DETAILS <= admin.get("/health").get_json().keys()


def test_the_networks_are_a_setting(make_app):
    app = make_app(HEALTH_DETAILS_NETWORKS="198.51.100.0/24, 2001:db8::/32")
    assert _from(app.test_client(), "198.51.100.9").get("/health").get_json().keys() >= DETAILS
    assert _from(app.test_client(), "2001:db8::1").get("/health").get_json().keys() >= DETAILS
    assert _from(app.test_client(), "127.0.0.1").get("/health").get_json() == {"status": "ok"}


def test_a_bad_network_stops_start_up_with_one_line(make_app):
    with pytest.raises(ConfigError, match="HEALTH_DETAILS_NETWORKS: expected comma-separated networks"):
        make_app(HEALTH_DETAILS_NETWORKS="10.0.0.0/8, not-a-network")


def test_a_degraded_service_is_503_with_the_status_only(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    response = _from(app.test_client(), PUBLIC).get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "degraded"}


# -- HTTPS in production -----------------------------------------------------------------


def test_production_redirects_http_permanently_and_sends_hsts_over_https(make_app):
    client = make_app(ENVIRONMENT="production", SECRET_KEY=PRODUCTION_SECRET_KEY).test_client()
    redirect = client.get("/login?next=/settings")
    assert redirect.status_code in (301, 308)
    assert redirect.headers["Location"] == "https://localhost/login?next=/settings"
    secure = client.get("/login", base_url="https://localhost")
    assert secure.status_code == 200
    assert "max-age=31536000" in secure.headers["Strict-Transport-Security"]


# -- rate limits ---------------------------------------------------------------------------

_WORKER = """
import json, sys
from tests.helpers import csrf_from
from webapp import create_app

app = create_app({"REDIS_URL": "redis://127.0.0.1:1/0", "LOGIN_RATE_LIMIT": "3 per minute"})
client = app.test_client()
statuses = []
for n in range(5):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"email": f"guess{sys.argv[1]}-{n}@example.com", "password": "not the password at all", "csrf_token": token}
    statuses.append(client.post("/login", data=data).status_code)
print(json.dumps(statuses))
"""


def test_while_redis_is_down_each_worker_process_counts_on_its_own(clean_state):
    """Documented, not fixed: the in-memory fallback of two gunicorn workers
    are two counters, so the effective limit is LOGIN_RATE_LIMIT x workers."""
    runs = []
    for worker in ("a", "b"):
        done = subprocess.run(
            [sys.executable, "-c", _WORKER, worker],
            cwd=ROOT,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert runs == [[401, 401, 401, 429, 429]] * 2


def test_anonymous_gets_are_not_counted_logged_in_ones_are(make_app, app_config):
    app = make_app(DEFAULT_RATE_LIMIT="5 per minute")
    anonymous = app.test_client()
    for _ in range(20):
        assert anonymous.get("/login").status_code == 200
        assert anonymous.get("/dashboard").status_code == 302  # to the login page, never 429
    counters = redis.Redis.from_url(app_config["REDIS_URL"])
    assert _limit_keys(counters) == []
    member = app.test_client()
    register(member)
    statuses = [member.get("/settings").status_code for _ in range(8)]
    assert statuses[:4] == [200] * 4 and statuses[-1] == 429, statuses
    assert _limit_keys(counters)  # counted in Redis, where the anonymous views were not


# The routes whose own limits (or exemptions) Flask-Limiter keeps; every other
# route is counted against DEFAULT_RATE_LIMIT by webapp/default_limit.py.
LEFT_TO_FLASK_LIMITER = {
    "accounts.change_password",  # password_guess_limit, per address
    "accounts.delete_account",  # password_guess_limit
    "accounts.export.download",
    "accounts.login",
    "accounts.recovery.forgot",
    "accounts.recovery.resend_verification",
    "accounts.recovery.reset",
    "accounts.recovery.verify",
    "accounts.register",
    "api.auth.token",  # the login page's limit
    "channels.add_demo",
    "channels.connect.start",
    "main.health",  # exempt: probes
    "main.health_live",
    "main.health_ready",
    "main.info",
    "metrics.scrape",
    "rq_dashboard.static",
    "static",
}


def test_the_routes_that_declare_a_limit_keep_it_and_every_other_is_counted_by_default(app):
    """Read from Flask-Limiter's own registry: a new decorated route, or an
    upgrade that changes how the registry answers, shows here first."""
    from webapp.default_limit import left_to_flask_limiter

    with app.test_request_context():
        kept = {endpoint for endpoint in app.view_functions if left_to_flask_limiter(app, endpoint)}
    assert kept == LEFT_TO_FLASK_LIMITER


def test_a_declared_limit_still_counts_where_the_default_would_not_have_refused(make_app):
    """The login page keeps its own tight limit (Flask-Limiter's), not the
    far looser default that counts the other routes."""
    client = make_app(LOGIN_RATE_LIMIT="2 per minute", DEFAULT_RATE_LIMIT="100 per minute").test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"email": "nobody@example.com", "password": "not the password at all", "csrf_token": token}
    statuses = [client.post("/login", data=data).status_code for _ in range(3)]
    assert statuses == [401, 401, 429], statuses


def test_anonymous_writes_are_counted_per_address_with_the_refusals_headers(make_app):
    app = make_app(DEFAULT_RATE_LIMIT="3 per minute")
    flooder = app.test_client()
    form = {"csrf_token": csrf_from(flooder.get("/login").get_data(as_text=True))}
    door = "/settings/sessions/end-all"  # a logged-in user's write, with no limit of its own
    statuses = [flooder.post(door, data=form).status_code for _ in range(5)]
    assert statuses == [302, 302, 302, 429, 429], statuses  # 302: to the login page
    refused = flooder.post(door, data=form)
    assert refused.headers["X-RateLimit-Limit"] == "3" and refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Too many attempts" in refused.get_data(as_text=True)
    neighbour = app.test_client()
    away = {"REMOTE_ADDR": "198.51.100.23"}
    form = {"csrf_token": csrf_from(neighbour.get("/login", environ_overrides=away).get_data(as_text=True))}
    assert neighbour.post(door, data=form, environ_overrides=away).status_code == 302  # its own count


def test_one_users_busy_page_does_not_refuse_another_user(make_app):
    app = make_app(DEFAULT_RATE_LIMIT="2 per minute")
    busy, other = app.test_client(), app.test_client()
    register(busy, "busy@example.com")
    register(other, "other@example.com")
    assert [busy.get("/settings").status_code for _ in range(3)] == [200, 200, 429]
    assert other.get("/settings").status_code == 200
    assert busy.get("/channels").status_code == 200  # per route, as Flask-Limiter's default limits count


def _limit_keys(client) -> list[bytes]:
    return [key for key in client.keys("*") if b"LIMITER" in key.upper() or b"yco" in key]
