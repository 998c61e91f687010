"""What an ordinary request no longer pays for (issue 14), with the
guarantees that must hold anyway."""

from __future__ import annotations

import re

from tests.integration.channel_helpers import query, user_client

EMAIL = "costs@example.com"


def _session_cookie_sent(response) -> bool:
    return any(h.startswith("yco_session=") for h in response.headers.getlist("Set-Cookie"))


def test_the_session_cookie_is_sent_again_only_when_it_changes_or_its_session_slides(app):
    client = user_client(app, EMAIL)
    client.get("/channels")
    unchanged = client.get("/channels")
    assert unchanged.status_code == 200 and not _session_cookie_sent(unchanged)
    # Six minutes later the server-side session is touched (its expiry slides):
    # the cookie is sent again so that its own expiry slides with it.
    query(
        app.config["DATABASE_URL"],
        "UPDATE user_sessions SET last_seen_at = now() - interval '6 minutes' WHERE revoked_at IS NULL",
    )
    touched = client.get("/channels")
    assert touched.status_code == 200 and _session_cookie_sent(touched)
    assert not _session_cookie_sent(client.get("/channels"))


def test_logout_still_ends_the_session_at_once(app):
    client = user_client(app, EMAIL)
    stolen = client.get_cookie("yco_session").value
    other = app.test_client()
    other.set_cookie("yco_session", stolen)
    assert other.get("/channels").status_code == 200
    page = client.get("/channels").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert other.get("/channels").status_code == 302  # to the login page, at once


def _csrf_values(html: str) -> set[str]:
    return set(re.findall(r'name="csrf_token" type="hidden" value="([^"]+)"', html)) | set(
        re.findall(r'"X-CSRFToken": "([^"]+)"', html)
    )


def test_the_empty_login_form_from_the_cache_carries_each_visitors_own_token(app):
    from webapp.page_cache import CSRF_SLOT as TOKEN_SLOT

    visitors = [app.test_client() for _ in range(3)]
    tokens = []
    for client in visitors:
        html = client.get("/login").get_data(as_text=True)
        assert TOKEN_SLOT not in html
        [token] = _csrf_values(html)  # the form's and the htmx header's: one token, this visitor's
        tokens.append(token)
    assert len(set(tokens)) == 3
    assert app.extensions["page_cache"].hits >= 2  # rendered once
    # Each token is good for its own visitor's session only.
    user_client(app, EMAIL)
    form = {"email": EMAIL, "password": "wrong password here", "next": ""}
    assert visitors[0].post("/login", data={**form, "csrf_token": tokens[1]}).status_code == 400
    assert visitors[0].post("/login", data={**form, "csrf_token": tokens[0]}).status_code == 401


def test_a_login_page_with_something_of_its_own_is_rendered_for_it(app):
    client = app.test_client()
    html = client.get("/login?next=/channels/7").get_data(as_text=True)
    assert 'value="/channels/7"' in html
    redirected = client.get("/channels")  # "Please log in to see that page." is flashed
    assert redirected.status_code == 302
    assert "Please log in to see that page." in client.get("/login").get_data(as_text=True)
