"""Look-alike accounts (issue 10, item 6): an address typed in NFC or NFD,
in fullwidth letters or in another case is one account; accounts that
already collided are reported to the admin (migration 0009), never merged."""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

import psycopg2.errors
import pytest
from markupsafe import escape

from reliability import migrations
from tests.helpers import STRONG_PASSWORD, login, register
from tests.integration.conftest import admin_connection

UBER_NFC = unicodedata.normalize("NFC", "ü'ber@example.com")
UBER_NFD = unicodedata.normalize("NFD", "ü'ber@example.com")
FULLWIDTH_A = "\uff41@example.com"  # ａ@example.com
PLAIN_A = "a@example.com"
MIGRATION = "0009_email_lookalikes"


def _accounts(outside, address: str) -> list[tuple[int, str]]:
    """Every account whose address is `address` after NFKC and lower case,
    compared here in Python, apart from the code under test."""
    key = unicodedata.normalize("NFKC", address).lower()
    with outside.cursor() as cur:
        cur.execute("SELECT id, email FROM users ORDER BY id")
        return [row for row in cur.fetchall() if unicodedata.normalize("NFKC", row[1]).lower() == key]


def _signed_in_as(client) -> str:
    page = client.get("/settings")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_nfc_and_nfd_and_another_case_register_as_one_account(app, outside):
    assert UBER_NFC != UBER_NFD
    first = app.test_client()
    assert register(first, UBER_NFC).status_code == 302
    for variant in (UBER_NFD, UBER_NFC.upper()):
        response = register(app.test_client(), variant)
        assert response.status_code < 500
        assert len(_accounts(outside, UBER_NFC)) == 1, variant
    # Whichever form the owner types, it is their account.
    other_device = app.test_client()
    assert login(other_device, UBER_NFD).status_code == 302
    assert str(escape(UBER_NFC)) in _signed_in_as(other_device)


def test_fullwidth_letters_are_the_plain_address(app, outside):
    assert register(app.test_client(), PLAIN_A).status_code == 302
    assert register(app.test_client(), FULLWIDTH_A).status_code < 500
    assert [email for _, email in _accounts(outside, PLAIN_A)] == [PLAIN_A]


def test_a_fullwidth_address_is_stored_in_its_plain_form(app, outside):
    assert register(app.test_client(), FULLWIDTH_A).status_code == 302
    assert [email for _, email in _accounts(outside, PLAIN_A)] == [PLAIN_A]
    assert register(app.test_client(), PLAIN_A).status_code < 500
    assert len(_accounts(outside, PLAIN_A)) == 1


def test_the_admin_create_command_finds_the_look_alike_account(app, outside):
    assert register(app.test_client(), UBER_NFC).status_code == 302
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "--email", UBER_NFD, "--password-stdin"], input=STRONG_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "is now an admin" in result.output
    with outside.cursor() as cur:
        cur.execute("SELECT role FROM users")
        assert [row[0] for row in cur.fetchall()] == ["admin"]


def _insert_lookalike(outside, email: str) -> None:
    """An account as it could exist before migration 0009."""
    with outside.cursor() as cur:
        cur.execute("INSERT INTO users (email, password_hash, email_lookalike) VALUES (%s, 'x', true)", (email,))


def _admin_client(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "--email", "boss@example.com", "--password-stdin"], input=STRONG_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    client = app.test_client()
    login(client, "boss@example.com")
    return client


def test_the_admin_users_page_reports_old_look_alikes(app, client, outside):
    register(client, UBER_NFC)
    _insert_lookalike(outside, UBER_NFD)
    admin = _admin_client(app)
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "Look-alike accounts" in page
    section = page[page.index('id="email-lookalikes"') :]
    assert str(escape(UBER_NFC)) in section and str(escape(UBER_NFD)) in section
    assert len(_accounts(outside, UBER_NFC)) == 2  # reported, not merged


def test_no_look_alike_report_when_there_is_none(app):
    page = _admin_client(app).get("/admin/users")
    assert page.status_code == 200
    assert "Look-alike accounts" not in page.get_data(as_text=True)


# -- the migration, on a scratch database ---------------------------------------------


@pytest.fixture
def before_0009(fresh_database, use_pool, tmp_path) -> tuple[str, Path]:
    """A scratch database migrated up to the migration before 0009."""
    use_pool(dsn=fresh_database)
    directory = tmp_path / "migrations"
    directory.mkdir()
    for migration in migrations.discover():
        if migration.name >= MIGRATION:
            break
        shutil.copy(migrations.MIGRATIONS_DIR / f"{migration.name}.sql", directory)
    migrations.upgrade(directory=directory)
    return fresh_database, directory


def test_the_migration_reports_existing_collisions_and_merges_nothing(before_0009):
    url, directory = before_0009
    emails = [UBER_NFC, UBER_NFD, PLAIN_A, FULLWIDTH_A, "a@\uff45xample.com", "alone@example.com"]
    conn = admin_connection(url)
    try:
        with conn.cursor() as cur:
            for email in emails:  # all allowed side by side before 0009
                cur.execute("INSERT INTO users (email, password_hash) VALUES (%s, 'x')", (email,))
        shutil.copy(migrations.MIGRATIONS_DIR / f"{MIGRATION}.sql", directory)
        assert migrations.upgrade(directory=directory) == [MIGRATION]

        with conn.cursor() as cur:
            cur.execute("SELECT email, email_lookalike FROM users ORDER BY id")
            assert cur.fetchall() == [
                (UBER_NFC, False),
                (UBER_NFD, True),
                (PLAIN_A, False),
                (FULLWIDTH_A, True),
                ("a@\uff45xample.com", True),
                ("alone@example.com", False),
            ]
            cur.execute("SELECT details FROM audit_log WHERE action = 'user.email_lookalikes_found' ORDER BY id")
            found = sorted(row[0]["emails"] for row in cur.fetchall())
        assert found == sorted([[UBER_NFC, UBER_NFD], [PLAIN_A, FULLWIDTH_A, "a@\uff45xample.com"]])

        from reliability.db import read
        from webapp.accounts import store

        assert [group["emails"] for group in read(store.email_lookalikes)] == [
            [UBER_NFC, UBER_NFD],
            [PLAIN_A, FULLWIDTH_A, "a@\uff45xample.com"],
        ]
        # New look-alikes are refused by the database itself, of old groups too.
        for email in ("A@EXAMPLE.COM", unicodedata.normalize("NFD", "Ü'BER@example.com"), "Alone@Example.com"):
            with pytest.raises(psycopg2.errors.UniqueViolation), conn.cursor() as cur:
                cur.execute("INSERT INTO users (email, password_hash) VALUES (%s, 'x')", (email,))
        with conn.cursor() as cur:
            cur.execute("INSERT INTO users (email, password_hash) VALUES ('new@example.com', 'x')")
    finally:
        conn.close()
