"""Helpers used by many tests: CSRF tokens, register, log in, log out."""

from __future__ import annotations

import re

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


STRONG_PASSWORD = "correct horse battery staple"
# A fragment that follows slow work asks for itself again (templates with data-poll;
# static/js/app.js asks again after a failed poll): present while the work runs, gone after.
POLLING = 'hx-trigger="load delay:1s, yco-poll" data-poll'


def register(client, email: str = "creator@example.com", password: str = STRONG_PASSWORD):
    """Create an account and log in with it, as a person would: registering
    answers "check your inbox" for any address and logs nobody in (so it
    cannot tell a new address from a taken one). Returns the /register
    answer; the client is logged in when the account was new."""
    response = post_register(client, email, password)
    if response.status_code == 302:
        login(client, email, password)
    return response


def post_register(client, email: str = "creator@example.com", password: str = STRONG_PASSWORD):
    """Only the registration form, nothing after it."""
    page = client.get("/register")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/register",
        data={"email": email, "password": password, "confirm": password, "csrf_token": token},
    )


def login(client, email: str = "creator@example.com", password: str = STRONG_PASSWORD, **extra):
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, **extra})


def logout(client):
    page = client.get("/settings")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/logout", data={"csrf_token": token})
