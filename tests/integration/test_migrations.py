"""reliability.migrations against a real PostgreSQL: idempotent upgrades,
two concurrent `flask db upgrade` processes, and refusal of edited or
misnamed migration files. Each test migrates a fresh empty database."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest

from reliability import migrations
from reliability.errors import ConfigError
from tests.integration.conftest import admin_connection

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [m.name for m in migrations.discover()]


def recorded(url: str) -> list[tuple[str, str, str]]:
    conn = admin_connection(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
            return cur.fetchall()
    finally:
        conn.close()


def table_exists(url: str, name: str) -> bool:
    conn = admin_connection(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def advisory_locks(url: str) -> list[bool]:
    """`granted` for every advisory lock in the database named by url."""
    conn = admin_connection(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                """SELECT granted FROM pg_locks
                   WHERE locktype = 'advisory'
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
            )
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


@contextmanager
def pool_connection(pool):
    conn = pool.acquire()
    try:
        yield conn
    finally:
        pool.release(conn)


@pytest.fixture
def fresh(fresh_database, use_pool):
    """A fresh empty database with the process pool pointed at it."""
    use_pool(dsn=fresh_database)
    return fresh_database


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_upgrade_applies_everything_once_then_nothing(fresh):
    assert SHIPPED, "no migrations shipped"
    assert migrations.status() == [(name, False) for name in SHIPPED]

    assert migrations.upgrade() == SHIPPED
    first = recorded(fresh)
    assert [row[1] for row in first] == SHIPPED
    assert all(row[2] == m.checksum for row, m in zip(first, migrations.discover(), strict=True))
    assert table_exists(fresh, "users") and table_exists(fresh, "audit_log")

    assert migrations.upgrade() == []
    assert recorded(fresh) == first
    assert migrations.status() == [(name, True) for name in SHIPPED]
    assert advisory_locks(fresh) == []  # the lock was given back


def _flask_upgrade(database_url: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_concurrent_cli_upgrades_apply_each_migration_once(fresh):
    # Hold the migration lock so that both processes are surely waiting on it
    # at the same time, then let them race.
    holder = admin_connection(fresh)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (migrations.ADVISORY_LOCK_KEY,))
        procs = [_flask_upgrade(fresh), _flask_upgrade(fresh)]
        deadline = time.monotonic() + 60
        while advisory_locks(fresh).count(False) < 2:
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                outputs = [p.communicate(timeout=30) for p in procs]
                pytest.fail(f"both upgrades should be waiting on the lock: {outputs}")
            time.sleep(0.05)
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (migrations.ADVISORY_LOCK_KEY,))
            assert cur.fetchone()[0] is True
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        holder.close()

    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {out}\nstderr: {err}"
    stdouts = sorted(out.strip() for out, _ in outputs)
    assert stdouts == sorted([f"applied: {', '.join(SHIPPED)}", "database is up to date"])
    versions = [row[0] for row in recorded(fresh)]
    assert versions == sorted(set(versions)) and len(versions) == len(SHIPPED)


def test_two_concurrent_cli_upgrades_without_a_head_start(fresh):
    procs = [_flask_upgrade(fresh), _flask_upgrade(fresh)]
    outputs = [p.communicate(timeout=60) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {out}\nstderr: {err}"
    assert [row[1] for row in recorded(fresh)] == SHIPPED


def test_an_applied_migration_that_changed_is_refused(fresh, tmp_path):
    write(tmp_path, "0001_first.sql", "CREATE TABLE mig_first (id int);")
    assert migrations.upgrade(directory=tmp_path) == ["0001_first"]
    before = recorded(fresh)

    write(tmp_path, "0001_first.sql", "CREATE TABLE mig_first (id int, extra text);")
    write(tmp_path, "0002_second.sql", "CREATE TABLE mig_second (id int);")
    with pytest.raises(ConfigError, match="0001_first was changed after it was applied"):
        migrations.upgrade(directory=tmp_path)
    assert recorded(fresh) == before
    assert not table_exists(fresh, "mig_second")  # nothing after the refusal ran
    assert advisory_locks(fresh) == []  # the lock was released despite the error

    # Restoring the file lets the run continue where it stopped.
    write(tmp_path, "0001_first.sql", "CREATE TABLE mig_first (id int);")
    assert migrations.upgrade(directory=tmp_path) == ["0002_second"]
    assert table_exists(fresh, "mig_second")


def test_the_cli_reports_a_changed_migration_and_exits_non_zero(fresh):
    migrations.upgrade()
    conn = admin_connection(fresh)
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = '0001'")
    finally:
        conn.close()
    proc = _flask_upgrade(fresh)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "was changed after it was applied" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "bad_name",
    ["1_short.sql", "0002-dash.sql", "0002_Upper.sql", "0002_space name.sql", "abcd_letters.sql"],
)
def test_a_misnamed_migration_file_is_refused(fresh, tmp_path, bad_name):
    write(tmp_path, "0001_first.sql", "CREATE TABLE mig_first (id int);")
    write(tmp_path, bad_name, "CREATE TABLE mig_bad (id int);")
    with pytest.raises(ConfigError, match="expected NNNN_lowercase_name.sql"):
        migrations.upgrade(directory=tmp_path)
    # Refused before anything ran.
    assert not table_exists(fresh, "mig_first") and not table_exists(fresh, "mig_bad")


def test_two_files_with_one_version_are_refused(fresh, tmp_path):
    write(tmp_path, "0001_first.sql", "CREATE TABLE mig_first (id int);")
    write(tmp_path, "0001_again.sql", "CREATE TABLE mig_again (id int);")
    with pytest.raises(ConfigError, match="share a version"):
        migrations.upgrade(directory=tmp_path)
    assert not table_exists(fresh, "mig_first")


def test_a_failing_migration_is_rolled_back_and_not_recorded(fresh, tmp_path):
    write(tmp_path, "0001_first.sql", "CREATE TABLE mig_first (id int);")
    write(tmp_path, "0002_broken.sql", "CREATE TABLE mig_half (id int);\nSELEC broken;")
    write(tmp_path, "0003_later.sql", "CREATE TABLE mig_later (id int);")
    with pytest.raises(psycopg2.errors.SyntaxError):
        migrations.upgrade(directory=tmp_path)
    assert [row[1] for row in recorded(fresh)] == ["0001_first"]
    assert table_exists(fresh, "mig_first")
    assert not table_exists(fresh, "mig_half") and not table_exists(fresh, "mig_later")
    assert advisory_locks(fresh) == []

    write(tmp_path, "0002_broken.sql", "CREATE TABLE mig_half (id int);")
    assert migrations.upgrade(directory=tmp_path) == ["0002_broken", "0003_later"]


def test_a_migration_may_run_longer_than_the_request_statement_timeout(fresh_database, use_pool, tmp_path):
    pool = use_pool(dsn=fresh_database, size=1, max_overflow=0, statement_timeout_ms=200)
    write(tmp_path, "0001_slow.sql", "SELECT pg_sleep(0.6);\nCREATE TABLE mig_slow (id int);")
    assert migrations.upgrade(directory=tmp_path) == ["0001_slow"]
    assert table_exists(fresh_database, "mig_slow")
    # The pooled connection comes back with the request timeout in force.
    with pool_connection(pool) as conn, conn.cursor() as cur:
        assert not conn.autocommit
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone()[0] == "200ms"


def test_waiting_for_another_migrator_outlasts_the_statement_timeout(fresh_database, use_pool, tmp_path):
    use_pool(dsn=fresh_database, statement_timeout_ms=200)
    write(tmp_path, "0001_first.sql", "CREATE TABLE mig_first (id int);")
    holder = admin_connection(fresh_database)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (migrations.ADVISORY_LOCK_KEY,))
        result: dict = {}

        def run():
            try:
                result["applied"] = migrations.upgrade(directory=tmp_path)
            except Exception as exc:  # reported below
                result["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 10
        while advisory_locks(fresh_database).count(False) < 1 and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.02)
        time.sleep(0.6)  # three times the statement timeout
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (migrations.ADVISORY_LOCK_KEY,))
        thread.join(10)
    finally:
        holder.close()
    assert "error" not in result, repr(result.get("error"))
    assert result["applied"] == ["0001_first"]
