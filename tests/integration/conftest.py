"""Fixtures for the database and migration tests: a module pool with chosen
settings (restored afterwards), an outside connection to watch or disturb the
server, and fresh empty databases on the same server."""

from __future__ import annotations

import uuid

import psycopg2
import pytest
from psycopg2 import sql

from reliability import db
from reliability.config import database_url_for


def admin_connection(url: str):
    """A plain psycopg2 connection in autocommit, outside any pool of ours.
    Its lock timeout turns a transaction leaked by the code under test (which
    would block clean-up such as DROP TABLE) into an error instead of a hang."""
    conn = psycopg2.connect(url, options="-c lock_timeout=10000")
    conn.autocommit = True
    return conn


@pytest.fixture
def outside(migrated):
    """A connection to the test database that the code under test never sees."""
    conn = admin_connection(migrated[0])
    yield conn
    conn.close()


@pytest.fixture
def use_pool(migrated):
    """Point reliability.db's process pool at chosen settings for one test;
    the session's settings come back afterwards."""
    saved = db._pool_settings

    def configure(**overrides) -> db.ConnectionPool:
        settings = db.PoolSettings(
            **{"dsn": migrated[0], "size": 2, "max_overflow": 2, "wait_timeout_s": 5, **overrides}
        )
        db.dispose_pool()
        db.configure(settings)
        return db.get_pool()

    yield configure
    db.dispose_pool()
    if saved is not None:
        db.configure(saved)


@pytest.fixture
def fresh_database(migrated):
    """The URL of a new, empty database on the test server; dropped afterwards."""
    name = f"yco_scratch_{uuid.uuid4().hex[:10]}"
    admin = admin_connection(migrated[0])
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield database_url_for(migrated[0], name)
        db.dispose_pool()  # a pool pointed at it must not keep it open
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


@pytest.fixture
def scratch_table(outside):
    """Create tables in the test database for one test; all are dropped afterwards.
    Call with the column list: ``scratch_table("id int primary key, v text")``."""
    created: list[str] = []

    def make(columns: str, name: str | None = None) -> str:
        name = name or f"scratch_{uuid.uuid4().hex[:10]}"
        with outside.cursor() as cur:
            cur.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(name), sql.SQL(columns)))
        created.append(name)
        return name

    yield make
    with outside.cursor() as cur:
        for name in created:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


# -- YouTube: for test modules that define a ``fake_google`` fixture ----------


@pytest.fixture
def yt_config(app_config, fake_google):
    """The app's configuration pointed at the module's Google fake."""
    from tests.integration.youtube_helpers import youtube_app_config

    return youtube_app_config(app_config, fake_google)


@pytest.fixture
def yt_app(yt_config):
    from webapp import create_app

    return create_app(yt_config)


@pytest.fixture
def creator(yt_app):
    """A logged-in creator's browser."""
    from tests.helpers import register

    client = yt_app.test_client()
    register(client, "creator@example.com")
    return client
