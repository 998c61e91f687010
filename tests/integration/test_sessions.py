"""Server-side sessions (issue 10, items 2 and 3): a cookie captured before
logout, "log out everywhere", an ended device or a password change is
useless afterwards, remember-me cookie included; the session id is new at
login and at a password change; a stolen cookie shows up, with the thief's
address, on the owner's list of sessions, where it can be ended.

Real PostgreSQL and Redis of the test session; the attacker is a second
test client that replays a copied cookie."""

from __future__ import annotations

import re

import redis

from tests.helpers import STRONG_PASSWORD, csrf_from, login, logout
from tests.integration.channel_helpers import query

EMAIL = "owner@example.com"
NEW_PASSWORD = "a completely different passphrase"
THIEF = {"REMOTE_ADDR": "203.0.113.66", "HTTP_USER_AGENT": "ThiefBrowser/1.0"}


def _make_user(app, email: str = EMAIL) -> None:
    from reliability.db import transaction
    from webapp.accounts.passwords import hash_password
    from webapp.accounts.store import create_user

    with app.app_context(), transaction() as cur:
        create_user(cur, email, hash_password(STRONG_PASSWORD, app.config["BCRYPT_ROUNDS"]))


def _logged_in_client(app, email: str = EMAIL, **extra):
    client = app.test_client()
    response = login(client, email, **extra)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def _cookie(client, name: str = "yco_session") -> str:
    cookie = client.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    return cookie.value


def _replay(app, cookies: dict[str, str], environ: dict | None = None):
    """A new browser (the attacker's) holding only ``cookies``."""
    client = app.test_client()
    if environ:
        client.environ_base.update(environ)
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def _reaches_settings(client) -> bool:
    response = client.get("/settings")
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


def _post(client, url: str, page: str = "/settings"):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token})


def _session_rows(app) -> list[dict]:
    return query(app.config["DATABASE_URL"], "SELECT * FROM user_sessions ORDER BY id")


# -- item 2: logout really ends the session ---------------------------------


def test_a_cookie_captured_before_logout_gets_the_login_page_after_it(app):
    _make_user(app)
    owner = _logged_in_client(app)
    captured = _cookie(owner)
    assert _reaches_settings(_replay(app, {"yco_session": captured}))  # the capture works while logged in

    assert logout(owner).status_code == 302
    # The ended session is dead in PostgreSQL: emptying Redis brings nothing back.
    redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()
    assert not _reaches_settings(_replay(app, {"yco_session": captured}))
    assert _session_rows(app)[0]["revoked_at"] is not None


def test_a_remember_me_cookie_captured_before_logout_is_dead_after_it(app):
    _make_user(app)
    owner = _logged_in_client(app, remember="y")
    remembered = _cookie(owner, "remember_token")
    # The browser was closed: the remember-me cookie alone logs back in.
    assert _reaches_settings(_replay(app, {"remember_token": remembered}))

    logout(owner)
    assert not _reaches_settings(_replay(app, {"remember_token": remembered}))


def test_log_out_everywhere_ends_every_session_and_remember_me_of_the_user(app):
    _make_user(app)
    _make_user(app, "neighbour@example.com")
    laptop = _logged_in_client(app)
    phone = _logged_in_client(app, remember="y")
    neighbour = _logged_in_client(app, "neighbour@example.com")
    captured = {"laptop": _cookie(laptop), "phone": _cookie(phone), "phone remember": _cookie(phone, "remember_token")}

    page = laptop.get("/settings").get_data(as_text=True)
    assert "Log out everywhere" in page
    response = _post(laptop, "/settings/sessions/end-all")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "logged out everywhere" in laptop.get("/login").get_data(as_text=True)

    assert not _reaches_settings(laptop)
    assert not _reaches_settings(phone)
    assert not _reaches_settings(_replay(app, {"yco_session": captured["laptop"]}))
    assert not _reaches_settings(_replay(app, {"yco_session": captured["phone"]}))
    assert not _reaches_settings(_replay(app, {"remember_token": captured["phone remember"]}))
    assert _reaches_settings(neighbour)  # another user's sessions are not touched
    assert login(app.test_client(), EMAIL).status_code == 302  # and the owner can log in again


# -- item 3: what the app protects, and how ---------------------------------


def test_the_session_id_is_new_at_login_so_a_planted_cookie_never_logs_in(app):
    _make_user(app)
    victim = app.test_client()
    victim.get("/login")
    planted = _cookie(victim)  # what an attacker could have set before the login
    assert login(victim, EMAIL).status_code == 302
    assert _cookie(victim) != planted
    assert not _reaches_settings(_replay(app, {"yco_session": planted}))

    # Each login is its own session: logging out of one leaves the other.
    other = _logged_in_client(app)
    logout(victim)
    assert _reaches_settings(other)


def test_a_password_change_ends_every_earlier_cookie_and_rotates_this_one(app):
    _make_user(app)
    laptop = _logged_in_client(app, remember="y")
    phone = _logged_in_client(app, remember="y")
    before = {
        "yco_session": _cookie(laptop),
        "remember": _cookie(laptop, "remember_token"),
        "phone": _cookie(phone),
        "phone remember": _cookie(phone, "remember_token"),
    }

    token = csrf_from(laptop.get("/settings").get_data(as_text=True))
    response = laptop.post(
        "/settings/password",
        data={
            "current_password": STRONG_PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert _reaches_settings(laptop)  # the browser that changed it stays in, with a new session
    assert _cookie(laptop) != before["yco_session"]
    for name, value in before.items():
        cookie = "remember_token" if "remember" in name else "yco_session"
        assert not _reaches_settings(_replay(app, {cookie: value})), name


def test_a_stolen_cookie_is_listed_with_the_thiefs_address_and_ending_it_locks_the_thief_out(app):
    # The app does not bind a session to an address or a browser (that breaks
    # on mobile networks and a thief copies the user agent). A copied cookie
    # works from elsewhere until it is ended; the owner sees where it is used.
    _make_user(app)
    owner = _logged_in_client(app)
    thief = _replay(app, {"yco_session": _cookie(owner)}, THIEF)
    assert _reaches_settings(thief)
    owner.environ_base["HTTP_USER_AGENT"] = "OwnerBrowser/2.0"
    second = _logged_in_client(app)

    listing = second.get("/settings/sessions").get_data(as_text=True)
    assert THIEF["REMOTE_ADDR"] in listing  # the stolen session's last address
    assert "(this device)" in listing
    rows = _session_rows(app)
    assert len(rows) == 2 and rows[0]["last_ip"] == THIEF["REMOTE_ADDR"]

    response = _post(second, f"/settings/sessions/{rows[0]['id']}/end", page="/settings/sessions")
    assert response.status_code == 302
    assert not _reaches_settings(thief)
    assert not _reaches_settings(owner)  # the same session: the owner logs in again
    assert _reaches_settings(second)
    assert THIEF["REMOTE_ADDR"] not in second.get("/settings/sessions").get_data(as_text=True)


def test_nobody_can_end_another_users_session(app):
    _make_user(app)
    _make_user(app, "stranger@example.com")
    owner = _logged_in_client(app)
    stranger = _logged_in_client(app, "stranger@example.com")
    [owner_row] = [r for r in _session_rows(app) if r["user_id"] == 1]
    response = _post(stranger, f"/settings/sessions/{owner_row['id']}/end", page="/settings/sessions")
    assert response.status_code == 404
    assert _reaches_settings(owner)


def test_only_a_hash_of_the_session_token_is_stored(app):
    _make_user(app)
    owner = _logged_in_client(app, remember="y")
    serializer = app.session_interface.get_signing_serializer(app)
    token = serializer.loads(_cookie(owner))["_user_id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
    [row] = _session_rows(app)
    assert token.encode() not in bytes(row["token_hash"])
    assert token not in str(row)
