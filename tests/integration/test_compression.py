"""Response compression (webapp/compression.py), one test per rule: gzip or
brotli as the client asks, over 1 KB only, never /metrics, never what is
compressed already, never a CSRF token next to input the request chose
(BREACH), never a view that says so, and off with COMPRESSION_ENABLED."""

from __future__ import annotations

import gzip
import re

import brotli
import pytest
from flask import Response, g, render_template_string, request

from reliability import db
from reliability.db import transaction
from tests.helpers import STRONG_PASSWORD, csrf_from, login
from webapp.accounts.passwords import hash_password
from webapp.accounts.store import create_user
from webapp.compression import keep_uncompressed


@pytest.fixture
def make_app(app_config):
    from webapp import create_app

    def make(**overrides):
        return create_app({**app_config, **overrides})

    yield make
    db.dispose_pool()


@pytest.fixture
def site(make_app):
    """The app plus three test-only views, added before its first request."""
    app = make_app()
    app.add_url_rule("/test/png", "test_png", lambda: Response(b"\x89PNG" + b"\0" * 4000, mimetype="image/png"))
    app.add_url_rule("/test/token-shown-once", "test_once", _token_shown_once)
    app.add_url_rule("/test/big-json", "test_json", lambda: {"items": ["x" * 50] * 100})
    app.add_url_rule("/test/echo", "test_echo", _echo, methods=["GET", "POST"])
    return app


def _echo() -> str:
    return render_template_string(
        "<form method=post><input name=csrf_token value='{{ csrf_token() }}'>{{ text }}</form>{{ filler }}",
        text=request.form.get("text", ""),
        filler="." * 2000,
    )


def _token_shown_once() -> Response:
    keep_uncompressed()
    return Response("<p>your token: tok_" + "a" * 2000 + "</p>", mimetype="text/html")


def test_a_large_page_is_gzipped_for_a_client_that_asks(site):
    response = site.test_client().get("/login", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert b"<form" in gzip.decompress(response.data)
    assert int(response.headers["Content-Length"]) == len(response.data)


def test_brotli_is_chosen_when_the_client_offers_it(site):
    response = site.test_client().get("/login", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.headers["Content-Encoding"] == "br"
    assert b"<form" in brotli.decompress(response.data)


def test_a_client_that_asks_for_nothing_gets_plain_bytes(site):
    response = site.test_client().get("/login", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in response.headers
    assert b"<form" in response.data


def test_json_over_a_kilobyte_is_compressed_too(site):
    response = site.test_client().get("/test/big-json", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"


def test_a_response_under_a_kilobyte_is_left_alone(site):
    response = site.test_client().get("/health/live", headers={"Accept-Encoding": "gzip, br"})
    assert len(response.data) < 1024
    assert "Content-Encoding" not in response.headers


def test_metrics_are_never_compressed(site):
    client = site.test_client()
    for _ in range(3):
        client.get("/login")
    response = client.get("/metrics", headers={"Accept-Encoding": "gzip, br"})
    assert len(response.data) > 1024
    assert "Content-Encoding" not in response.headers
    assert b"http_requests_total" in response.data


def test_an_already_compressed_type_is_left_alone(site):
    response = site.test_client().get("/test/png", headers={"Accept-Encoding": "gzip, br"})
    assert len(response.data) > 1024
    assert "Content-Encoding" not in response.headers


def test_a_csrf_token_next_to_a_query_string_is_not_compressed(site):
    """BREACH: the query string is input an attacker's page can vary, and
    Flask-WTF's token is the same all session long (not masked per response)."""
    client = site.test_client()
    plain = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert plain.headers.get("Content-Encoding") == "gzip"  # the same page, no input: compressed
    reflected = client.get("/login?next=/channels/guess", headers={"Accept-Encoding": "gzip"})
    assert reflected.status_code == 200
    assert 'name="csrf_token"' in reflected.get_data(as_text=True)
    assert "Content-Encoding" not in reflected.headers


def test_a_page_with_a_token_answering_a_post_is_not_compressed(site):
    """Our forms answer a mistake with 400 (never compressed: not a 2xx); a
    view that echoes a posted form with 200 is covered all the same."""
    client = site.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    echoed = client.post(
        "/test/echo", data={"csrf_token": token, "text": "guess" * 300}, headers={"Accept-Encoding": "gzip"}
    )
    assert echoed.status_code == 200 and "guessguess" in echoed.get_data(as_text=True)
    assert "Content-Encoding" not in echoed.headers
    shown = client.get("/test/echo", headers={"Accept-Encoding": "gzip"})  # the same page, no input: compressed
    assert shown.headers.get("Content-Encoding") == "gzip"


def test_a_view_can_keep_its_secret_uncompressed(site):
    response = site.test_client().get("/test/token-shown-once", headers={"Accept-Encoding": "gzip, br"})
    assert len(response.data) > 1024
    assert "Content-Encoding" not in response.headers


def test_the_personal_token_page_is_never_compressed(make_app):
    """The answer that shows a new personal API token once is kept
    uncompressed by its view (keep_uncompressed), not only by the rule about
    a CSRF token next to a POST, which a change to the form could lose."""
    app = make_app()
    with app.app_context(), transaction() as cur:
        create_user(cur, "breach@example.com", hash_password(STRONG_PASSWORD, app.config["BCRYPT_ROUNDS"]))
    browser = app.test_client()
    assert login(browser, "breach@example.com").status_code == 302
    page = browser.get("/settings/api-tokens", headers={"Accept-Encoding": "gzip, br"})
    assert page.headers.get("Content-Encoding") == "br"  # the page without a token: compressed
    with browser:  # keeps the request's context, so its g can be read
        response = browser.post(
            "/settings/api-tokens",
            data={"name": "nightly script", "csrf_token": csrf_from(brotli.decompress(page.data).decode())},
            headers={"Accept-Encoding": "gzip, br"},
        )
        assert g.get("keep_uncompressed") is True
    assert response.status_code == 201 and len(response.data) > 1024
    assert "Content-Encoding" not in response.headers
    assert re.search(r"<code>ycopat_[A-Za-z0-9_-]+</code>", response.get_data(as_text=True))


def test_compression_can_be_switched_off(make_app):
    app = make_app(COMPRESSION_ENABLED=False)
    response = app.test_client().get("/login", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in response.headers
