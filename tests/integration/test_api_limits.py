"""API limits (issue 16, item 4, and the token endpoint's limits of item 1):
the token endpoint shares the login page's per-address count and its
per-account delays; every API endpoint is limited per token with
X-RateLimit-* headers, and a 429 says when to come back.

Real PostgreSQL and Redis of the test session."""

from __future__ import annotations

import time

import pytest
import redis

from tests.helpers import STRONG_PASSWORD, csrf_from
from tests.integration.test_api_auth import EMAIL, _make_user, _me, _personal_token, _tokens


@pytest.fixture
def limited_app(app_config):
    from webapp import create_app

    app = create_app(
        {
            **app_config,
            "LOGIN_RATE_LIMIT": "3 per minute",
            "API_RATE_LIMIT": "3 per minute",
            "LOGIN_ACCOUNT_FREE_ATTEMPTS": 2,
        }
    )
    _make_user(app)
    return app


def _signed_in(app):
    """The test user, a client and its access token."""
    _make_user(app)
    client = app.test_client()
    return client, _tokens(client)["access_token"]


def _error(response) -> dict:
    return response.get_json()["error"]


def _token_post(client, password: str, address: str):
    return client.post(
        "/api/v1/auth/token",
        json={"email": EMAIL, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_the_token_endpoint_shares_the_login_pages_count_per_address(limited_app):
    for _ in range(2):  # two tries on the login page ...
        browser = limited_app.test_client()
        page = browser.get("/login").get_data(as_text=True)
        response = browser.post(
            "/login",
            data={"email": EMAIL, "password": STRONG_PASSWORD, "csrf_token": csrf_from(page)},
            environ_base={"REMOTE_ADDR": "198.51.100.7"},
        )
        assert response.status_code == 302
    client = limited_app.test_client()
    assert _token_post(client, STRONG_PASSWORD, "198.51.100.7").status_code == 200  # ... and the third
    response = _token_post(client, STRONG_PASSWORD, "198.51.100.7")
    assert response.status_code == 429
    assert _error(response)["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0
    assert _token_post(client, STRONG_PASSWORD, "198.51.100.8").status_code == 200  # another address


def test_wrong_passwords_lock_the_account_from_any_address(limited_app):
    client = limited_app.test_client()
    for address in ("192.0.2.1", "192.0.2.2"):
        assert _token_post(client, "wrong password here", address).status_code == 401
    response = _token_post(client, "wrong password here", "192.0.2.3")
    assert response.status_code == 401  # the third failure starts the delay
    response = _token_post(client, STRONG_PASSWORD, "192.0.2.4")  # even the right password waits
    assert response.status_code == 429
    assert _error(response)["code"] == "account_locked"
    assert int(response.headers["Retry-After"]) > 0


def test_each_token_has_its_own_count_with_headers(limited_app):
    client = limited_app.test_client()
    first = _tokens(client)["access_token"]
    remaining = []
    for _ in range(3):
        response = _me(client, first)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert int(response.headers["X-RateLimit-Reset"]) > 0
        assert "Retry-After" not in response.headers
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    response = _me(client, first)
    assert response.status_code == 429
    assert _error(response)["code"] == "rate_limited"
    assert _error(response)["details"] == {"limit": "3 per 1 minute"}
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(response.headers["Retry-After"]) <= 61  # the window, rounded up
    # Another token of the same user is counted apart.
    _, personal = _personal_token(limited_app)
    assert _me(client, personal).status_code == 200


def test_endpoints_are_counted_apart(limited_app):
    client = limited_app.test_client()
    token = _tokens(client)["access_token"]
    for _ in range(3):
        assert _me(client, token).status_code == 200
    assert _me(client, token).status_code == 429
    response = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 204
    assert response.headers["X-RateLimit-Limit"] == "3"


# -- one Redis call a request: fixed windows on the clock (webapp/api/limits.py) -------


def test_the_count_is_one_key_and_the_reset_is_the_end_of_the_minute(limited_app, app_config):
    client = limited_app.test_client()
    token = _tokens(client)["access_token"]
    before = time.time()
    response = _me(client, token)
    after = time.time()
    reset = int(response.headers["X-RateLimit-Reset"])
    assert reset % 60 == 0 and before < reset <= after + 60
    counters = redis.Redis.from_url(app_config["REDIS_URL"])
    keys = [key for key in counters.keys("*") if b"api.auth.me" in key]
    assert len(keys) == 1 and int(counters.get(keys[0])) == 1
    assert _me(client, token).headers["X-RateLimit-Remaining"] == "1"
    assert int(counters.get(keys[0])) == 2


@pytest.fixture
def rebuild(app_config):
    """The plain test app is built again afterwards, so the shared limiter
    points back at the test servers."""
    from webapp import create_app

    yield lambda **changes: create_app({**app_config, **changes})
    create_app(app_config)


def test_the_pages_default_limit_does_not_reach_the_api(rebuild):
    app = rebuild(DEFAULT_RATE_LIMIT="2 per minute", API_RATE_LIMIT="100 per minute")
    client, token = _signed_in(app)
    responses = [_me(client, token) for _ in range(4)]
    assert [r.status_code for r in responses] == [200] * 4
    assert responses[-1].headers["X-RateLimit-Limit"] == "100"


def test_ratelimit_enabled_off_turns_the_api_limits_off_too(rebuild):
    app = rebuild(RATELIMIT_ENABLED=False, API_RATE_LIMIT="1 per minute")
    try:
        client, token = _signed_in(app)
        responses = [_me(client, token) for _ in range(2)]
        assert [r.status_code for r in responses] == [200, 200]
        assert "X-RateLimit-Limit" not in responses[-1].headers
    finally:
        rebuild(RATELIMIT_ENABLED=True)  # Flask-Limiter keeps `enabled` across init_app


def test_while_redis_is_down_the_api_counts_in_memory(rebuild):
    app = rebuild(REDIS_URL="redis://127.0.0.1:1/0", API_RATE_LIMIT="2 per minute")
    client, token = _signed_in(app)
    responses = [_me(client, token) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert _error(responses[-1])["code"] == "rate_limited"
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["1", "0", "0"]
    assert int(responses[-1].headers["Retry-After"]) > 0


# -- the batch's own limit, the monthly limits and the YouTube quota -----------------


@pytest.fixture
def batch_app(app_config):
    from webapp import create_app

    return create_app({**app_config, "API_BATCH_RATE_LIMIT": "2 per minute", "MONTHLY_OPTIMIZATIONS_PER_USER": 4})


def test_a_monthly_limit_refusal_carries_its_numbers(batch_app, app_config):
    from tests.integration.api_helpers import api_client, demo_channel, video_ids

    owner = api_client(batch_app, "batcher@example.com")
    ids = video_ids(app_config["DATABASE_URL"], demo_channel(owner), 5)
    assert owner.post("/videos/batch-optimize", json={"video_ids": ids[:3]}).status_code == 202
    # 3 of 4 used: 2 more is over the month's limit, with the numbers.
    response = owner.post("/videos/batch-optimize", json={"video_ids": ids[3:5]})
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "monthly_limit_reached"
    assert "quota is 4 videos and 1 are left" in error["message"]
    assert {k: error["details"][k] for k in ("limit", "allowed", "used", "requested", "left")} == {
        "limit": "monthly_optimizations",
        "allowed": 4,
        "used": 3,
        "requested": 2,
        "left": 1,
    }
    assert error["details"]["resets_at"].endswith("+00:00")
    assert 0 < int(response.headers["Retry-After"]) <= 31 * 24 * 3600


def test_the_batch_endpoint_has_a_tighter_limit_of_its_own(app_config):
    from tests.integration.api_helpers import api_client, demo_channel, video_ids
    from webapp import create_app

    app = create_app({**app_config, "API_BATCH_RATE_LIMIT": "2 per minute"})
    owner = api_client(app, "batcher@example.com")
    ids = video_ids(app_config["DATABASE_URL"], demo_channel(owner), 3)
    for video in ids[:2]:
        response = owner.post("/videos/batch-optimize", json={"video_ids": [video]})
        assert response.status_code == 202, response.get_data(as_text=True)
    response = owner.post("/videos/batch-optimize", json={"video_ids": ids[2:3]})
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert response.headers["X-RateLimit-Limit"] == "2"
    assert int(response.headers["Retry-After"]) > 0
    # The rest of the API still answers the same token.
    assert owner.get("/channels").status_code == 200


def test_each_limit_of_the_batch_setting_counts(app_config):
    from tests.integration.api_helpers import api_client, demo_channel, video_ids
    from webapp import create_app

    app = create_app({**app_config, "API_BATCH_RATE_LIMIT": "5 per minute; 2 per day"})
    owner = api_client(app, "batcher@example.com")
    ids = video_ids(app_config["DATABASE_URL"], demo_channel(owner), 3)
    first = owner.post("/videos/batch-optimize", json={"video_ids": ids[:1]})
    assert first.status_code == 202
    assert first.headers["X-RateLimit-Limit"] == "2"  # the limit met first
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert owner.post("/videos/batch-optimize", json={"video_ids": ids[1:2]}).status_code == 202
    response = owner.post("/videos/batch-optimize", json={"video_ids": ids[2:3]})
    assert response.status_code == 429
    assert response.get_json()["error"]["details"] == {"limit": "2 per 1 day"}
    assert 0 < int(response.headers["Retry-After"]) <= 24 * 3600


def test_the_youtube_quota_refusal_carries_its_numbers(app):
    from optimizer.youtube import quota
    from reliability.db import transaction

    with app.app_context(), transaction() as cur:
        quota.record(cur, "videos.list", units=90)
    with app.app_context(), transaction() as cur, pytest.raises(quota.QuotaBudgetExceeded) as refused:
        quota.check_budget(cur, 20, 100)
    assert refused.value.details is not None
    assert {k: refused.value.details[k] for k in ("units_needed", "units_used_today", "daily_budget")} == {
        "units_needed": 20,
        "units_used_today": 90,
        "daily_budget": 100,
    }
    assert refused.value.retry_after is not None and 0 < refused.value.retry_after <= 25 * 3600
