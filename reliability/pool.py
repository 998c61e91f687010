"""The connection pool: waiting, self-healing, one per process (made by
reliability/db.py's ``get_pool``).

Why our own pool rather than ``psycopg2.pool.ThreadedConnectionPool``: that
pool raises at once when it is empty (a burst of requests turns into errors
instead of a short wait), never checks that a connection is still alive (a
restarted server or ``pg_terminate_backend`` costs a failed request), and is
unsafe to create before a fork. This one waits up to a timeout, checks
connections that may have died, and is created lazily in each process.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import psycopg2
import psycopg2.extensions

from reliability import metrics
from reliability.errors import DatabaseError, PoolExhausted
from reliability.sqlobserve import ObservedConnection

log = logging.getLogger("reliability.db")

Connection: TypeAlias = psycopg2.extensions.connection

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
            log.warning("database connection failed: %s", first_line(exc))
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


def first_line(exc: BaseException) -> str:
    """An error's first line, for a log line that must stay one line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
