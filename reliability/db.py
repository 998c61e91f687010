"""PostgreSQL access: a waiting, self-healing connection pool and transactions.

Why our own pool rather than ``psycopg2.pool.ThreadedConnectionPool``: that
pool raises at once when it is empty (a burst of requests turns into errors
instead of a short wait), never checks that a connection is still alive (a
restarted server or ``pg_terminate_backend`` costs a failed request), and is
unsafe to create before a fork. This one waits up to a timeout, checks
connections that may have died, and is created lazily in each process.

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
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeAlias, TypeVar

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from psycopg2 import sql

from reliability import metrics
from reliability.errors import DatabaseError, PoolExhausted
from reliability.sqlobserve import ObservedConnection, observe_statements, statement_observers  # noqa: F401

log = logging.getLogger(__name__)

Connection: TypeAlias = psycopg2.extensions.connection
# A row of transaction()'s default RealDictCursor.
Row: TypeAlias = dict[str, Any]
# A cursor from transaction() or conn.cursor(): RealDictCursor (dict rows) or a plain one (tuples).
# Any, because the same store functions take either and the stubs' fetchone() is Optional even
# where the query's shape (an aggregate, a RETURNING of a row just written) guarantees a row.
Cursor: TypeAlias = Any
_P = ParamSpec("_P")
_R = TypeVar("_R")

# Connections idle longer than this are pinged before use; a connection whose
# socket is readable while idle (the server sent a FATAL and closed it) is
# pinged at once, whatever its age.
DEFAULT_PING_AFTER_IDLE_S = 10.0


@dataclass(frozen=True)
class PoolSettings:
    dsn: str
    size: int = 10
    max_overflow: int = 20
    wait_timeout_s: float = 5.0
    statement_timeout_ms: int = 30_000
    ping_after_idle_s: float = DEFAULT_PING_AFTER_IDLE_S
    application_name: str = "yco"
    prepared_statements: bool = True  # reliability/prepared.py


def pool_settings_from_config(config: Mapping[str, Any]) -> PoolSettings:
    """PoolSettings from the checked configuration (see reliability.config)."""
    return PoolSettings(
        dsn=config["DATABASE_URL"],
        size=config["DATABASE_POOL_SIZE"],
        max_overflow=config["DATABASE_MAX_OVERFLOW"],
        wait_timeout_s=config["DATABASE_POOL_TIMEOUT_S"],
        statement_timeout_ms=config["DATABASE_STATEMENT_TIMEOUT_MS"],
        prepared_statements=config["DATABASE_PREPARED_STATEMENTS"],
    )


class ConnectionPool:
    """A thread-safe pool of ``size`` kept connections plus ``max_overflow``
    temporary ones. ``acquire`` waits for a free connection up to
    ``wait_timeout_s`` and then raises :class:`PoolExhausted`."""

    def __init__(self, settings: PoolSettings):
        self.settings = settings
        self._idle: deque[tuple[Connection, float]] = deque()
        self._total = 0
        self._in_use = 0
        self._waiting = 0
        self._cond = threading.Condition()
        self._closed = False

    @property
    def limit(self) -> int:
        return self.settings.size + self.settings.max_overflow

    def acquire(self, timeout: float | None = None) -> Connection:
        """Return a live connection, waiting up to ``timeout`` seconds."""
        conn, last_used = self._take_slot(self.settings.wait_timeout_s if timeout is None else timeout)
        try:
            if conn is None:
                conn = self._connect()
            elif not self._is_usable(conn, last_used):
                self._close_quietly(conn)
                conn = self._connect()
        except BaseException:
            with self._cond:
                self._total -= 1
                self._in_use -= 1
                metrics.pool_in_use(self._in_use)
                self._cond.notify()
            raise
        return conn

    def release(self, conn: Connection, *, discard: bool = False) -> None:
        """Give a connection back; broken or surplus ones are closed."""
        keep = not discard and not conn.closed and self._reset(conn)
        with self._cond:
            self._in_use -= 1
            metrics.pool_in_use(self._in_use)
            if keep and not self._closed and len(self._idle) < self.settings.size:
                self._idle.append((conn, time.monotonic()))
            else:
                self._total -= 1
                keep = False
            self._cond.notify()
        if not keep:
            self._close_quietly(conn)

    def status(self) -> dict[str, int]:
        with self._cond:
            return {
                "size": self.settings.size,
                "max_overflow": self.settings.max_overflow,
                "open": self._total,
                "in_use": self._in_use,
                "idle": len(self._idle),
                "waiting": self._waiting,
            }

    def close(self) -> None:
        """Close idle connections; connections in use close when released."""
        with self._cond:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
            self._total -= len(idle)
            self._cond.notify_all()
        for conn, _ in idle:
            self._close_quietly(conn)

    # -- internals -------------------------------------------------------

    def _take_slot(self, timeout: float) -> tuple[Connection | None, float]:
        """Reserve an idle connection or the right to open a new one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    if self._closed:
                        raise DatabaseError("The connection pool is closed.")
                    if self._idle:
                        self._in_use += 1
                        metrics.pool_in_use(self._in_use)
                        return self._idle.pop()  # most recently used: warmest
                    if self._total < self.limit:
                        self._total += 1
                        self._in_use += 1
                        metrics.pool_in_use(self._in_use)
                        return None, 0.0
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise PoolExhausted()
                    self._cond.wait(remaining)
            finally:
                self._waiting -= 1

    def _connect(self) -> Connection:
        s = self.settings
        try:
            conn = psycopg2.connect(
                s.dsn,
                connection_factory=ObservedConnection,
                connect_timeout=5,
                application_name=s.application_name,
                options=f"-c statement_timeout={int(s.statement_timeout_ms)}",
                keepalives=1,
                keepalives_idle=30,
            )
        except psycopg2.OperationalError as exc:
            log.warning("database connection failed: %s", _first_line(exc))
            metrics.db_connection_error("connect")
            raise DatabaseError() from exc
        conn.prepared_statements = set() if s.prepared_statements else None
        return conn

    def _is_usable(self, conn: Connection, last_used: float) -> bool:
        if conn.closed:
            return False
        idle_for = time.monotonic() - last_used
        if idle_for < self.settings.ping_after_idle_s and not _socket_has_data(conn):
            return True
        return _ping(conn)

    @staticmethod
    def _reset(conn: Connection) -> bool:
        """Leave the connection outside any transaction; False if broken."""
        try:
            status = conn.get_transaction_status()
            if status == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN:
                return False
            if status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                conn.rollback()
            return True
        except psycopg2.Error:
            return False

    @staticmethod
    def _close_quietly(conn: Connection) -> None:
        try:
            conn.close()
        except psycopg2.Error:
            pass


def _socket_has_data(conn: Connection) -> bool:
    """An idle connection never has bytes waiting unless the server is
    telling us it is closing it (or sent a notice): check without a round
    trip."""
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg2.Error):
        return True
    return bool(readable)


def _ping(conn: Connection) -> bool:
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        conn.rollback()
        return True
    except psycopg2.Error:
        return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
        log.warning("database connection lost: %s", _first_line(exc))
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
                        extra={"attempt": attempt, "delay_s": round(delay, 3), "error": _first_line(exc)},
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
