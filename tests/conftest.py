"""Test set-up: real PostgreSQL and Redis, a fresh schema, a clean slate
for every test.

With TEST_DATABASE_URL / TEST_REDIS_URL the suite uses those servers (CI
uses the machine's own); otherwise it starts embedded ones in a temporary
directory. The suite creates its own database on the server and drops it at
the end, so it never touches the data of whatever database the URL names.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import redis

from reliability import db, migrations
from reliability.embedded import start_postgres, start_redis

TEST_DB_NAME = f"yco_test_{os.getpid()}"
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _admin_exec(url: str, statement: str) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def service_urls():
    """(database_url, redis_url) of servers that live for the whole session."""
    tmp = Path(tempfile.mkdtemp(prefix="yco-test-"))
    stoppers = []
    try:
        admin_url = os.environ.get("TEST_DATABASE_URL")
        if not admin_url:
            admin_url, stop = start_postgres(tmp / "postgres", database="postgres", delete_on_stop=True)
            stoppers.append(stop)
        redis_url = os.environ.get("TEST_REDIS_URL")
        if not redis_url:
            redis_url, stop = start_redis(tmp / "redis")
            stoppers.append(stop)
        _admin_exec(admin_url, f'DROP DATABASE IF EXISTS "{TEST_DB_NAME}"')
        _admin_exec(admin_url, f'CREATE DATABASE "{TEST_DB_NAME}"')
        database_url = _with_database(admin_url, TEST_DB_NAME)
        _export_for_subprocesses(database_url, redis_url, tmp)
        yield database_url, redis_url
        db.dispose_pool()
        _admin_exec(admin_url, f'DROP DATABASE IF EXISTS "{TEST_DB_NAME}" WITH (FORCE)')
    finally:
        for stop in reversed(stoppers):
            stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _export_for_subprocesses(database_url: str, redis_url: str, tmp: Path) -> None:
    """Servers, workers and CLI commands started by tests read these."""
    os.environ.update(
        ENVIRONMENT="test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY=TEST_SECRET_KEY,
        INSTANCE_DIR=str(tmp / "instance"),
        BCRYPT_ROUNDS="4",
        ASSETS_FROM_CDN="false",
        LOG_LEVEL="warning",
    )


@pytest.fixture(scope="session")
def migrated(service_urls):
    database_url, _ = service_urls
    db.configure(db.PoolSettings(dsn=database_url, size=5, max_overflow=5, wait_timeout_s=5))
    migrations.upgrade()
    return service_urls


def _user_tables(cur) -> list[str]:
    cur.execute(
        """SELECT tablename FROM pg_tables
           WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"""
    )
    return [row[0] for row in cur.fetchall()]


@pytest.fixture
def clean_state(migrated):
    """Empty tables and an empty Redis database before each test."""
    database_url, redis_url = migrated
    conn = psycopg2.connect(database_url)
    try:
        with conn, conn.cursor() as cur:
            tables = _user_tables(cur)
            if tables:
                cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    finally:
        conn.close()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return migrated


@pytest.fixture
def app_config(clean_state):
    database_url, redis_url = clean_state
    return {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "BCRYPT_ROUNDS": 4,
        "ASSETS_FROM_CDN": False,
    }


@pytest.fixture
def app(app_config):
    from webapp import create_app

    application = create_app(app_config)
    yield application
    db.dispose_pool()


@pytest.fixture
def client(app):
    return app.test_client()
