"""The API's skeleton: every error under /api/ is the JSON envelope with a
stable code (unknown route, wrong method, too large, bad JSON, 401, CSRF),
an unauthenticated call is 401 JSON and never a redirect to /login, and a
cookie-authenticated write needs the CSRF header while a bearer one does not.

Real PostgreSQL and Redis of the test session."""

from __future__ import annotations

from tests.helpers import csrf_from, register

ENVELOPE_KEYS = {"code", "message", "request_id", "details"}


def _error(response) -> dict:
    body = response.get_json()
    assert body is not None, response.get_data(as_text=True)
    assert set(body) == {"error"}
    assert set(body["error"]) == ENVELOPE_KEYS
    assert body["error"]["request_id"]
    return body["error"]


def test_unknown_route_under_api_is_a_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_wrong_method_is_a_json_405(client):
    response = client.delete("/api/v1/auth/me")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_too_large_a_body_is_a_json_413(client, app):
    response = client.post(
        "/api/v1/auth/token",
        data=b'{"email": "' + b"x" * app.config["MAX_CONTENT_LENGTH"] + b'"}',
        content_type="application/json",
    )
    assert response.status_code == 413
    assert _error(response)["code"] == "payload_too_large"


def test_no_credentials_is_401_json_not_a_redirect(client):
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert "Location" not in response.headers
    assert _error(response)["code"] == "authentication_required"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_malformed_authorization_header_is_401_invalid_token(client):
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token abc"):
        response = client.get("/api/v1/auth/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert _error(response)["code"] == "invalid_token"


def test_the_session_cookie_authenticates_api_reads(client):
    register(client)
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 200
    assert response.get_json()["authenticated_by"] == "session"


def test_a_cookie_write_without_the_csrf_header_is_refused(client):
    register(client)
    response = client.post("/api/v1/auth/logout", json={})
    assert response.status_code == 400
    assert _error(response)["code"] == "csrf_failed"
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    response = client.post("/api/v1/auth/logout", json={}, headers={"X-CSRFToken": token})
    assert response.status_code == 204


def test_pages_outside_the_api_keep_their_html_errors(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
