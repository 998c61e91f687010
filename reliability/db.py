"""PostgreSQL access: the per-process connection pool (the pool itself is
reliability/pool.py), transactions, reads outside a transaction, retries of
transient errors, bulk writes and the health check.

Usage::

    with transaction() as cur:          # commit on success, rollback on error
        cur.execute("SELECT ...", params)

    with get_db_connection() as conn:   # a raw connection, returned afterwards
        ...

    with observe_statements() as seen:  # the SQL the pool runs in the block
        ...                             # (tests: query counts per page)

Who owns a transaction (the unit of work):

- Store functions (``store.py`` modules, or the domain module owning the
  entity) hold the SQL. They take ``cur`` as their first parameter and never
  open, commit or roll back a transaction; a store that needs to survive an
  expected constraint error uses a SAVEPOINT on the caller's cursor.
- The use case opens exactly one ``with transaction() as cur:`` around the
  store calls that must commit together: a domain/service function, a job
  step, or a view. A view may open it and call store functions (that is the
  request's unit of work), but holds no SQL text
  (tests/unit/test_layering.py checks).
- Settings reach stores and domain code as arguments, never through
  ``flask.current_app``: only the web layer reads the Flask config.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeAlias, TypeVar

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from psycopg2 import sql

from reliability import metrics
from reliability.errors import DatabaseError, PoolExhausted
from reliability.pool import Connection, ConnectionPool, PoolSettings, first_line
from reliability.sqlobserve import ObservedConnection, observe_statements, statement_observers  # noqa: F401

log = logging.getLogger(__name__)

# A row of transaction()'s default RealDictCursor.
Row: TypeAlias = dict[str, Any]
# A cursor from transaction() or conn.cursor(): RealDictCursor (dict rows) or a plain one (tuples).
# Any, because the same store functions take either and the stubs' fetchone() is Optional even
# where the query's shape (an aggregate, a RETURNING of a row just written) guarantees a row.
Cursor: TypeAlias = Any
_P = ParamSpec("_P")
_R = TypeVar("_R")

# -- the per-process pool -------------------------------------------------

_pool: ConnectionPool | None = None
_pool_pid: int | None = None
_pool_settings: PoolSettings | None = None
_pool_lock = threading.Lock()


def configure(settings: PoolSettings) -> None:
    """Set what the pool of this process will be made from (no connection yet)."""
    global _pool_settings, _pool, _pool_pid
    with _pool_lock:
        if _pool is not None and _pool_pid == os.getpid() and _pool.settings != settings:
            _pool.close()
            _pool = None
        _pool_settings = settings


def get_pool() -> ConnectionPool:
    """The pool of the current process, made on first use. After a fork the
    child never touches the parent's sockets: it starts a pool of its own."""
    global _pool, _pool_pid
    pid = os.getpid()
    if _pool is not None and _pool_pid == pid:
        return _pool
    with _pool_lock:
        if _pool is None or _pool_pid != pid:
            if _pool_settings is None:
                raise DatabaseError("The database is not configured.")
            _pool = ConnectionPool(_pool_settings)
            _pool_pid = pid
            metrics.pool_made(_pool.limit)
        return _pool


def dispose_pool() -> None:
    """Close this process's pool (tests, shutdown)."""
    global _pool
    with _pool_lock:
        if _pool is not None and _pool_pid == os.getpid():
            _pool.close()
            metrics.pool_made(0)  # this process may open no connection now
        _pool = None


@contextmanager
def get_db_connection(timeout: float | None = None) -> Iterator[Connection]:
    """Borrow a connection; it goes back to the pool whatever happens.
    A connection that failed at the connection level is discarded."""
    pool = get_pool()
    conn = pool.acquire(timeout)
    discard = False
    try:
        yield conn
    except psycopg2.Error as exc:
        if not is_connection_error(exc):
            raise
        # The server went away (restart, failover, killed backend), at a
        # statement or at commit: drop this connection and answer as the
        # pool does when it cannot connect (503 with Retry-After), not 500.
        discard = True
        log.warning("database connection lost: %s", first_line(exc))
        metrics.db_connection_error("lost")
        raise DatabaseError() from exc
    finally:
        pool.release(conn, discard=discard)


def is_connection_error(exc: BaseException) -> bool:
    """The connection, not the statement, failed: libpq lost the server
    (no SQLSTATE), the server is shutting down or starting (57P01-57P03),
    or a connection exception (class 08)."""
    if not isinstance(exc, psycopg2.Error):
        return False
    code = getattr(exc, "pgcode", None)
    if code:
        return code.startswith("08") or code in ("57P01", "57P02", "57P03")
    return isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError))


@contextmanager
def transaction(statement_timeout_ms: int | None = None, *, dict_rows: bool = True) -> Iterator[Cursor]:
    """A cursor inside one transaction: commit on success, rollback on any
    exception. ``statement_timeout_ms`` overrides the default for this
    transaction only (``SET LOCAL``)."""
    with get_db_connection() as conn:
        factory = psycopg2.extras.RealDictCursor if dict_rows else None
        try:
            with conn.cursor(cursor_factory=factory) as cur:
                if statement_timeout_ms is not None:
                    set_statement_timeout(cur, statement_timeout_ms)
                yield cur
            conn.commit()
        except BaseException:
            if not conn.closed:
                try:
                    conn.rollback()
                except psycopg2.Error:
                    pass
            raise


@contextmanager
def reading(*, dict_rows: bool = True) -> Iterator[Cursor]:
    """A cursor for work that only reads, outside any transaction: each
    statement is its own (autocommit), so no BEGIN and COMMIT travel to the
    server: one round trip per query instead of three. Each statement sees
    what was committed when it began; a page that reads a data version
    first and the data after it therefore sees data at least that new.
    Never for writes: two writes here would not commit together."""
    with get_db_connection() as conn:
        factory = psycopg2.extras.RealDictCursor if dict_rows else None
        conn.autocommit = True  # client-side only: the connection is idle, nothing is sent
        try:
            with conn.cursor(cursor_factory=factory) as cur:
                yield cur
        finally:
            if not conn.closed:
                try:
                    conn.autocommit = False
                except psycopg2.Error:
                    pass  # a broken connection: the pool discards it


def set_statement_timeout(cur: Cursor, milliseconds: int) -> None:
    """Override the statement timeout until the end of the current transaction."""
    cur.execute("SELECT set_config('statement_timeout', %s, true)", (f"{int(milliseconds)}ms",))


# -- retries ----------------------------------------------------------------

_TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "57P01",  # admin_shutdown (pg_terminate_backend, restart)
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (server starting)
}


def is_transient_db_error(exc: BaseException) -> bool:
    """True for errors that a fresh attempt can fix: a lost connection, a
    serialization failure or a deadlock. A bad query, a constraint violation
    or a statement timeout is never retried."""
    if isinstance(exc, DatabaseError) and not isinstance(exc, PoolExhausted):
        return isinstance(exc.__cause__, (psycopg2.OperationalError, psycopg2.InterfaceError))
    if not isinstance(exc, psycopg2.Error):
        return False
    code = getattr(exc, "pgcode", None)
    if code:
        return code in _TRANSIENT_SQLSTATES or code.startswith("08")
    # No SQLSTATE: libpq itself failed (connection lost, server closed it).
    return isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError))


def retry_on_db_error(
    max_retries: int = 3, backoff_factor: float = 0.5, max_backoff_s: float = 10.0
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Retry the decorated function on transient database errors, with
    exponential backoff and full jitter. The function must be safe to run
    again: put the whole transaction inside it."""

    def decorator(func: Callable[_P, _R]) -> Callable[_P, _R]:
        @wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            attempt = 0
            while True:
                try:
                    return func(*args, **kwargs)
                except Exception as exc:
                    if attempt >= max_retries or not is_transient_db_error(exc):
                        raise
                    delay = min(max_backoff_s, backoff_factor * (2**attempt)) * random.random()
                    attempt += 1
                    log.warning(
                        "transient database error, retrying",
                        extra={"attempt": attempt, "delay_s": round(delay, 3), "error": first_line(exc)},
                    )
                    time.sleep(delay)

        return wrapper

    return decorator


_Q = ParamSpec("_Q")


@retry_on_db_error()
def read(query: Callable[Concatenate[Cursor, _Q], _R], *args: _Q.args, **kwargs: _Q.kwargs) -> _R:
    """``query(cur, *args, **kwargs)`` on a cursor of its own, run again
    on a transient error: the unit of work of a step that only reads one
    thing (a store function that takes the cursor first). No transaction
    round trips (``reading``): the user loader runs this on every request."""
    with reading() as cur:
        return query(cur, *args, **kwargs)


# -- bulk writes ------------------------------------------------------------


def _table_identifier(table: str) -> sql.Composable:
    """``schema.table`` or ``table``, each part quoted as an identifier."""
    return sql.Identifier(*table.split(".", 1))


def _column_list(columns: Sequence[str]) -> sql.Composable:
    if not columns:
        raise ValueError("at least one column is needed")
    return sql.SQL(", ").join(sql.Identifier(c) for c in columns)


def bulk_insert(
    table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, page_size: int = 1000, cur: Cursor = None
) -> int:
    """Insert many rows with ``execute_values``; returns the number inserted.
    Values always travel as parameters, names as quoted identifiers."""
    query = sql.SQL("INSERT INTO {} ({}) VALUES %s").format(_table_identifier(table), _column_list(columns))
    return _execute_values(query, rows, page_size, cur)


def upsert_query(
    table: str, columns: Sequence[str], conflict_columns: Sequence[str], update_columns: Sequence[str] | None = None
) -> sql.Composed:
    """``INSERT … VALUES %s ON CONFLICT (…) DO UPDATE SET …`` for
    execute_values; ``update_columns`` defaults to every column outside the
    conflict key. Callers may append ``RETURNING …``."""
    if update_columns is None:
        update_columns = [c for c in columns if c not in conflict_columns]
    action: sql.Composable
    if update_columns:
        action = sql.SQL("DO UPDATE SET {}").format(
            sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in update_columns)
        )
    else:
        action = sql.SQL("DO NOTHING")
    return sql.SQL("INSERT INTO {} ({}) VALUES %s ON CONFLICT ({}) {}").format(
        _table_identifier(table), _column_list(columns), _column_list(conflict_columns), action
    )


def bulk_upsert(
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    conflict_columns: Sequence[str],
    update_columns: Sequence[str] | None = None,
    *,
    page_size: int = 1000,
    cur: Cursor = None,
) -> int:
    """Insert or update on conflict; returns the number of rows written."""
    return _execute_values(upsert_query(table, columns, conflict_columns, update_columns), rows, page_size, cur)


def _execute_values(query: sql.Composable, rows: Iterable[Sequence[Any]], page_size: int, cur: Cursor) -> int:
    all_rows = list(rows)
    if not all_rows:
        return 0
    if cur is not None:
        return _execute_pages(cur, query, all_rows, page_size)
    with transaction(dict_rows=False) as own_cur:
        return _execute_pages(own_cur, query, all_rows, page_size)


def _execute_pages(cur: Cursor, query: sql.Composable, rows: list[Sequence[Any]], page_size: int) -> int:
    written = 0
    for start in range(0, len(rows), page_size):
        psycopg2.extras.execute_values(cur, query, rows[start : start + page_size], page_size=page_size)
        written += cur.rowcount
    return written


# -- health -----------------------------------------------------------------


def health_check(timeout: float = 2.0) -> dict[str, Any]:
    """Pool status and a live round trip, for /health and monitoring."""
    started = time.perf_counter()
    result: dict[str, Any] = {"healthy": False, "connection_test": False}
    pool: ConnectionPool | None
    try:
        pool = get_pool()
        with get_db_connection(timeout=timeout) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            row = cur.fetchone()
            result["connection_test"] = row is not None and row[0] == 1
            conn.rollback()
        result["healthy"] = result["connection_test"]
    except Exception as exc:  # health must report, never raise
        result["error"] = getattr(exc, "code", type(exc).__name__)
        pool = _pool if _pool_pid == os.getpid() else None
    result["response_time_ms"] = round((time.perf_counter() - started) * 1000, 2)
    result["pool"] = pool.status() if pool else None
    return result
