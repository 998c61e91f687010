"""Accounts as a user meets them: register, log in and out, change the
password, delete the account; what is stored (a bcrypt hash, the audit
trail); and the two CLI commands an operator runs, against the real
PostgreSQL of the test session."""

from __future__ import annotations

import re
import uuid

import psycopg2
import psycopg2.extras
import pytest

from reliability import db
from reliability.config import database_url_for
from reliability.pool import pool_settings_from_config
from tests.helpers import STRONG_PASSWORD, csrf_from, login, logout, register

BAD_CREDENTIALS = "Incorrect email or password."
NEW_PASSWORD = "violet lantern orbit meadow"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _query(app, statement: str, params=()) -> list[dict]:
    conn = psycopg2.connect(app.config["DATABASE_URL"])
    try:
        with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(statement, params)
            return [dict(row) for row in cur.fetchall()]
    finally:
        conn.close()


def _users(app) -> list[dict]:
    return _query(app, "SELECT id, email, password_hash, role, session_version FROM users ORDER BY id")


def _logged_in(client) -> bool:
    return client.get("/dashboard").status_code == 200


def _form_error(response) -> str | None:
    match = re.search(r'<p class="flash flash-error" role="alert">(.*?)</p>', _text(response), re.S)
    return match.group(1).strip() if match else None


def _post_settings(client, path: str, data: dict):
    token = csrf_from(_text(client.get("/settings")))
    return client.post(path, data={**data, "csrf_token": token})


def _change_password(client, current: str, new: str, confirm: str | None = None):
    return _post_settings(
        client,
        "/settings/password",
        {"current_password": current, "password": new, "confirm": new if confirm is None else confirm},
    )


def _delete_account(client, password: str, confirm: bool = True):
    data = {"current_password": password}
    if confirm:
        data["confirm"] = "y"
    return _post_settings(client, "/settings/delete", data)


def _create_admin(app, email: str, password: str = STRONG_PASSWORD):
    return app.test_cli_runner().invoke(
        args=["users", "create-admin", "--email", email, "--password-stdin"], input=password + "\n"
    )


# -- register, log out, log in --------------------------------------------------------------


def test_register_log_out_and_log_in_again(client):
    response = register(client)  # then logs in: registering logs nobody in
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/register/check-inbox")
    assert "creator@example.com" in _text(client.get("/dashboard"))

    response = logout(client)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    assert "You are logged out." in _text(client.get("/login"))
    assert not _logged_in(client)

    response = login(client)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard")
    assert "creator@example.com" in _text(client.get("/dashboard"))


def test_login_is_case_insensitive_for_the_email(client):
    register(client, "Creator@Example.com")
    logout(client)
    assert login(client, "creator@EXAMPLE.com").status_code == 302
    assert _logged_in(client)


def test_password_is_stored_as_a_bcrypt_hash(app, client):
    register(client)
    [user] = _users(app)
    stored = user["password_hash"]
    assert stored.startswith("$2b$")
    assert len(stored) == 60
    assert STRONG_PASSWORD not in stored
    assert user["role"] == "member"


def test_unknown_email_and_wrong_password_get_the_same_answer(client):
    register(client)
    logout(client)
    unknown = login(client, "nobody@example.com")
    wrong = login(client, "creator@example.com", "a wrong but long password")
    assert unknown.status_code == wrong.status_code == 401
    assert _form_error(unknown) == _form_error(wrong) == BAD_CREDENTIALS
    for response in (unknown, wrong):
        text = _text(response).lower()
        assert "no account" not in text and "not found" not in text
    assert not _logged_in(client)


def test_duplicate_email_in_another_case_makes_no_account_and_first_account_kept(app, client):
    register(client, "creator@example.com")
    logout(client)
    [before] = _users(app)

    other = app.test_client()
    response = register(other, "CREATOR@Example.COM", NEW_PASSWORD)
    # The same answer as for a new address (tests/integration/test_mail.py
    # compares the two); the owner gets a notice by mail.
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/register/check-inbox")
    assert "already exists" not in _text(other.get("/register/check-inbox"))
    assert not _logged_in(other)

    assert _users(app) == [before]
    assert login(client, "creator@example.com", STRONG_PASSWORD).status_code == 302
    assert login(other, "creator@example.com", NEW_PASSWORD).status_code == 401


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "Use at least 12 characters"),
        ("password", "Use at least 12 characters"),
        ("password1234", "too easy to guess"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
        ("longcreator@example.com", "cannot be your email address"),
    ],
)
def test_weak_password_is_refused_with_a_message(app, client, password, message):
    response = register(client, "longcreator@example.com", password)
    assert response.status_code == 400
    assert message in _text(response)
    assert 'aria-invalid="true"' in _text(response)
    assert _users(app) == []


def test_mismatched_confirmation_is_refused(app, client):
    page = client.get("/register")
    response = client.post(
        "/register",
        data={
            "email": "creator@example.com",
            "password": STRONG_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_from(_text(page)),
        },
    )
    assert response.status_code == 400
    assert "The passwords do not match." in _text(response)
    assert _users(app) == []


# -- change password -------------------------------------------------------------------------


def test_change_password_logs_out_other_sessions_and_new_password_works(app):
    laptop, phone = app.test_client(), app.test_client()
    register(laptop)
    assert login(phone).status_code == 302
    assert phone.get("/settings").status_code == 200

    response = _change_password(laptop, STRONG_PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert "Other devices have been logged out." in _text(laptop.get("/settings"))
    assert _logged_in(laptop)  # the device that changed it stays in

    bounced = phone.get("/settings")
    assert bounced.status_code == 302
    assert "/login" in bounced.headers["Location"]

    fresh = app.test_client()
    assert login(fresh, password=STRONG_PASSWORD).status_code == 401
    assert login(fresh, password=NEW_PASSWORD).status_code == 302


def test_change_password_also_ends_a_remembered_session(app):
    laptop, phone = app.test_client(), app.test_client()
    register(laptop)
    assert login(phone, remember="y").status_code == 302
    # The browser was closed: only the remember cookie is left, and it works.
    phone.delete_cookie("yco_session")
    assert _logged_in(phone)

    assert _change_password(laptop, STRONG_PASSWORD, NEW_PASSWORD).status_code == 302
    phone.delete_cookie("yco_session")
    assert not _logged_in(phone)


def test_change_password_needs_the_current_password(app, client):
    register(client)
    response = _change_password(client, "not my current password", NEW_PASSWORD)
    assert response.status_code == 400
    assert "That is not your current password." in _text(response)
    logout(client)
    assert login(client, password=STRONG_PASSWORD).status_code == 302


def test_change_password_applies_the_policy(client):
    register(client)
    response = _change_password(client, STRONG_PASSWORD, "short")
    assert response.status_code == 400
    assert "Use at least 12 characters" in _text(response)
    logout(client)
    assert login(client, password=STRONG_PASSWORD).status_code == 302


# -- delete account --------------------------------------------------------------------------


def test_delete_account_requires_the_password_then_login_fails(app, client):
    register(client)

    response = _delete_account(client, "")
    assert response.status_code == 400
    assert "Enter your password to confirm." in _text(response)
    response = _delete_account(client, "a wrong but long password")
    assert response.status_code == 400
    assert "That is not your password." in _text(response)
    response = _delete_account(client, STRONG_PASSWORD, confirm=False)
    assert response.status_code == 400
    assert "Tick the box to confirm." in _text(response)
    assert len(_users(app)) == 1

    response = _delete_account(client, STRONG_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    assert "Your account was deleted." in _text(client.get("/login"))
    assert _users(app) == []
    assert not _logged_in(client)
    response = login(client)
    assert response.status_code == 401
    assert _form_error(response) == BAD_CREDENTIALS


def test_the_only_admin_cannot_delete_their_account(app, client):
    assert _create_admin(app, "admin@example.com").exit_code == 0
    assert login(client, "admin@example.com").status_code == 302

    response = _delete_account(client, STRONG_PASSWORD)
    assert response.status_code == 400
    assert "You are the only admin." in _text(response)
    assert [u["email"] for u in _users(app)] == ["admin@example.com"]
    assert _logged_in(client)

    # With a second admin, the first may go.
    assert _create_admin(app, "second-admin@example.com").exit_code == 0
    assert _delete_account(client, STRONG_PASSWORD).status_code == 302
    assert [u["email"] for u in _users(app)] == ["second-admin@example.com"]


# -- audit trail -----------------------------------------------------------------------------


def test_audit_log_records_each_account_change(app, client):
    response = client.get("/register")
    token = csrf_from(_text(response))
    created = client.post(
        "/register",
        data={
            "email": "creator@example.com",
            "password": STRONG_PASSWORD,
            "confirm": STRONG_PASSWORD,
            "csrf_token": token,
        },
        headers={"X-Request-ID": "support-ticket-4242"},
    )
    assert created.status_code == 302
    [user] = _users(app)
    assert login(client).status_code == 302
    assert _change_password(client, STRONG_PASSWORD, NEW_PASSWORD).status_code == 302
    assert _delete_account(client, NEW_PASSWORD).status_code == 302

    rows = _query(
        app, "SELECT action, actor_id, actor_email, target_type, target_id, request_id FROM audit_log ORDER BY id"
    )
    assert [r["action"] for r in rows] == ["user.created", "user.login", "user.password_changed", "user.deleted"]
    # The events stay after the account is gone, under one keyed pseudonym instead of the address and the id.
    [pseudonym] = {row["actor_email"] for row in rows}
    assert pseudonym.startswith("deleted-user:") and "creator" not in pseudonym
    for row in rows:
        assert (row["target_type"], row["target_id"]) == ("user", pseudonym)
        assert row["actor_id"] is None  # the account no longer exists
    assert rows[0]["request_id"] == "support-ticket-4242"  # a user's reference finds the row


def test_failed_login_changes_nothing_in_the_audit_log(app, client):
    register(client)  # and logs in
    logout(client)
    login(client, password="a wrong but long password")
    actions = [r["action"] for r in _query(app, "SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["user.created", "user.login"]


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_create_admin_makes_an_admin_who_can_log_in(app, client):
    result = _create_admin(app, "admin@example.com")
    assert result.exit_code == 0, result.output
    assert "created admin admin@example.com" in result.output
    [user] = _users(app)
    assert user["role"] == "admin"
    assert user["password_hash"].startswith("$2b$")
    assert STRONG_PASSWORD not in result.output
    assert login(client, "admin@example.com").status_code == 302
    assert client.get("/admin/users").status_code == 200


def test_cli_create_admin_promotes_an_existing_member(app, client):
    register(client, "member@example.com")
    assert client.get("/admin/users").status_code == 404
    result = _create_admin(app, "MEMBER@example.com")
    assert result.exit_code == 0, result.output
    assert "member@example.com is now an admin" in result.output
    assert [u["role"] for u in _users(app)] == ["admin"]
    assert client.get("/admin/users").status_code == 200
    actions = [r["action"] for r in _query(app, "SELECT action FROM audit_log ORDER BY id")]
    assert actions[-1] == "user.role_changed"


def test_cli_create_admin_refuses_a_weak_password(app):
    result = _create_admin(app, "admin@example.com", "short")
    assert result.exit_code != 0
    assert "Use at least 12 characters" in result.output
    assert _users(app) == []


@pytest.fixture
def empty_database(app):
    """A new, empty database on the test server; the app's own pool
    settings come back afterwards and the database is dropped."""
    name = f"yco_cli_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(app.config["DATABASE_URL"])
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield database_url_for(app.config["DATABASE_URL"], name)
        db.dispose_pool()
        db.configure(pool_settings_from_config(app.config))
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def test_cli_db_upgrade_creates_the_schema_once(app_config, empty_database):
    from webapp import create_app

    fresh = create_app({**app_config, "DATABASE_URL": empty_database})
    runner = fresh.test_cli_runner()

    status = runner.invoke(args=["db", "status"])
    assert status.exit_code == 0, status.output
    assert "pending  0001_users_and_audit" in status.output

    first = runner.invoke(args=["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert "applied: 0001_users_and_audit" in first.output

    again = runner.invoke(args=["db", "upgrade"])
    assert again.exit_code == 0, again.output
    assert "database is up to date" in again.output
    assert "applied  0001_users_and_audit" in runner.invoke(args=["db", "status"]).output

    # The new schema works: an account can be registered on it.
    client = fresh.test_client()
    assert register(client).status_code == 302
    assert _logged_in(client)
