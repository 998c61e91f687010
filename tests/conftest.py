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
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.errors
import pytest
import redis
from hypothesis import settings as hypothesis_settings

from reliability import db, migrations
from reliability.config import database_url_for
from reliability.embedded import start_postgres, start_redis

# Property tests draw new examples on every local run, to find what no one
# thought of; under CI they draw the same ones every run (hypothesis's
# derandomize), so that a run's verdict is the code's, not the draw's. An
# example a local run finds goes into the test as an @example.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

TEST_DB_NAME = f"yco_test_{os.getpid()}"
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"


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
        redis_url = _redis_db_of_this_worker(os.environ.get("TEST_REDIS_URL"))
        if not redis_url:
            redis_url, stop = start_redis(tmp / "redis")
            stoppers.append(stop)
        _admin_exec(admin_url, f'DROP DATABASE IF EXISTS "{TEST_DB_NAME}"')
        _admin_exec(admin_url, f'CREATE DATABASE "{TEST_DB_NAME}"')
        database_url = database_url_for(admin_url, TEST_DB_NAME)
        _export_for_subprocesses(database_url, redis_url, tmp)
        yield database_url, redis_url
        db.dispose_pool()
        _admin_exec(admin_url, f'DROP DATABASE IF EXISTS "{TEST_DB_NAME}" WITH (FORCE)')
    finally:
        for stop in reversed(stoppers):
            stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _redis_db_of_this_worker(url: str | None) -> str | None:
    """Under pytest-xdist (``-n 2``) every worker flushes its Redis database
    before each test, so each gets one of its own: gw0 the URL's database,
    gw1 the next one, and so on (Redis has 16)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    database = base + int(worker[2:])
    if database > 15:
        raise pytest.UsageError(f"TEST_REDIS_URL: database {base} + worker {worker} is past Redis's 16 databases")
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


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


def empty_tables(cur) -> None:
    """Every row gone and every id sequence back at its start, as TRUNCATE ...
    RESTART IDENTITY does. DELETE rather than
    TRUNCATE: a TRUNCATE makes new files for each table and index, about half
    a second for the schema, before every test; deleting the few rows a test
    made takes milliseconds."""
    tables = _user_tables(cur)
    if not tables:
        return
    # One statement, so foreign keys are checked once every table is empty
    # (some tables reference each other: no order of DELETEs would do).
    *first, last = tables
    ctes = ", ".join(f'd{i} AS (DELETE FROM "{t}")' for i, t in enumerate(first))
    cur.execute((f"WITH {ctes} " if ctes else "") + f'DELETE FROM "{last}"')
    cur.execute(
        """SELECT setval(format('%%I.%%I', s.schemaname, s.sequencename), s.start_value, false)
           FROM pg_sequences s
           JOIN pg_class seq ON seq.relname = s.sequencename AND seq.relnamespace = 'public'::regnamespace
           JOIN pg_depend d ON d.objid = seq.oid AND d.deptype IN ('a', 'i')
           JOIN pg_class owner ON owner.oid = d.refobjid
           WHERE s.schemaname = 'public' AND owner.relname = ANY(%s)
             AND s.last_value IS NOT NULL  -- NULL: never used since its start""",
        (tables,),
    )


def empty_database(database_url: str, attempts: int = 5) -> None:
    """empty_tables, again when PostgreSQL picks it as a deadlock's victim: a
    request the previous test's page started (an htmx poll, a worker's job) can
    still be writing rows while they are deleted; its transaction ends and the
    next try deletes what it wrote."""
    for attempt in range(attempts):
        conn = psycopg2.connect(database_url)
        try:
            with conn, conn.cursor() as cur:
                empty_tables(cur)
            return
        except psycopg2.errors.DeadlockDetected:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
        finally:
            conn.close()


@pytest.fixture
def clean_state(migrated):
    """Empty tables and an empty Redis database before each test."""
    database_url, redis_url = migrated
    empty_database(database_url)
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
