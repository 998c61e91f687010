"""Helpers used by many tests: CSRF tokens, register, log in, log out."""

from __future__ import annotations

import re

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


STRONG_PASSWORD = "correct horse battery staple"


def register(client, email: str = "creator@example.com", password: str = STRONG_PASSWORD):
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
