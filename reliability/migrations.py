"""Apply ``sql/migrations/NNNN_name.sql`` in order, once each.

Each file runs in its own transaction and is recorded in
``schema_migrations`` with a checksum. A session-level advisory lock makes it
safe for two processes (say a release phase and a developer) to migrate at
the same moment: the second waits, then finds nothing left to do. Applied
files are append-only: a changed checksum stops the run with a clear error.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import psycopg2

from reliability.db import Connection, Cursor, get_db_connection
from reliability.errors import ConfigError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql" / "migrations"
# Any fixed 64-bit number, the same in every process of this app.
ADVISORY_LOCK_KEY = 7_263_540_118_001
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migration files in version order; a misnamed file is an error."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ConfigError(f"migration file {path.name}: expected NNNN_lowercase_name.sql")
        found.append(Migration(match.group(1), path.stem, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ConfigError("two migration files share a version number")
    return found


def upgrade(directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration to the pool's database; returns the names applied."""
    migrations = discover(directory)
    with get_db_connection(timeout=30) as conn:
        try:
            return upgrade_connection(conn, migrations)
        finally:
            _leave_session(conn)


def upgrade_connection(conn: Connection, migrations: list[Migration]) -> list[str]:
    """Apply the pending ones of ``migrations`` on ``conn`` (pooled or not:
    ``make schema`` migrates a scratch database through a plain connection);
    returns the names applied. Leaves ``conn`` in autocommit, timeout lifted."""
    conn.autocommit = True
    with conn.cursor() as cur:
        # The pool's statement timeout (DATABASE_STATEMENT_TIMEOUT_MS,
        # 30 s) is meant for requests: under it a migration that runs
        # longer could never be applied, and a second process waiting
        # here for a long first one failed instead of waiting. Lift it
        # for this session; _leave_session puts it back.
        cur.execute("SET statement_timeout = 0")
        cur.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
    applied_now: list[str] = []
    try:
        _ensure_table(conn)
        done = _applied(conn)
        for migration in migrations:
            if _check_or_skip(migration, done):
                continue
            _apply(conn, migration)
            applied_now.append(migration.name)
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    return applied_now


def _leave_session(conn: Connection) -> None:
    """Hand the connection back to the pool as it was lent: the request
    statement timeout in force again (RESET returns to the value the pool
    connected with) and autocommit off. One that cannot be reset is closed,
    so the pool discards it rather than lend out a session without a timeout."""
    try:
        with conn.cursor() as cur:
            cur.execute("RESET statement_timeout")
        conn.autocommit = False
    except psycopg2.Error:
        conn.close()


def status(directory: Path = MIGRATIONS_DIR) -> list[tuple[str, bool]]:
    """(name, applied?) for every migration file."""
    with get_db_connection() as conn:
        conn.autocommit = True
        try:
            _ensure_table(conn)
            done = _applied(conn)
        finally:
            conn.autocommit = False
    return [(m.name, m.version in done) for m in discover(directory)]


def pending(cur: Cursor, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Names of the migration files not yet applied, read without writing
    anything (for the startup check and /health/ready; ``status`` creates
    the bookkeeping table)."""
    cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = cur.fetchone()
    done: set[str] = set()
    if row and row[0]:
        cur.execute("SELECT version FROM schema_migrations")
        done = {version for (version,) in cur.fetchall()}
    return [m.name for m in _discovered(directory) if m.version not in done]


@lru_cache(maxsize=4)
def _discovered(directory: Path) -> tuple[Migration, ...]:
    # The files a process ships with do not change while it runs.
    return tuple(discover(directory))


def _ensure_table(conn: Connection) -> None:
    with conn.cursor() as cur:
        cur.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    text PRIMARY KEY,
                   name       text NOT NULL,
                   checksum   text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )


def _applied(conn: Connection) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute("SELECT version, checksum FROM schema_migrations")
        return dict(cur.fetchall())


def _check_or_skip(migration: Migration, done: dict[str, str]) -> bool:
    if migration.version not in done:
        return False
    if done[migration.version] != migration.checksum:
        raise ConfigError(
            f"migration {migration.name} was changed after it was applied; "
            "migrations are append-only: add a new file instead"
        )
    return True


def _apply(conn: Connection, migration: Migration) -> None:
    log.info("applying migration", extra={"migration": migration.name})
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute(migration.sql)
            cur.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.autocommit = True
