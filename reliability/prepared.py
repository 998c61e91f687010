"""Server-side prepared statements for the few queries run on every request.

PostgreSQL plans a plain statement each time it gets it. For the hot
lookups (the session behind a cookie, a channel with the caller's role,
today's quota, an API token's family) planning was most of the server's
work: 82 to 130 µs of PostgreSQL CPU a statement, 32 to 42 µs once
prepared (measured one statement at a time on a local server). A page runs
three of them, an API call two. The channel dashboard's two queries and its
transcripts count are prepared too: planning them cost about 0.7 ms each
time a change to the channel made the page compute them afresh.

A statement is prepared on a connection the first time it runs there, and
``EXECUTE``d from then on. Only outside a transaction (``db.reading()``):
there a failed ``EXECUTE`` can be repaired and run again, which inside a
transaction would abort the caller's work. Two failures are repaired:

- the server no longer knows the statement (``DISCARD ALL``, a pooler
  handing over another server connection): it is prepared again;
- the table's columns changed under it (a migration while the app runs:
  ``SELECT c.*`` would now return other columns): it is dropped and
  prepared again.

A transaction-mode pooler (PgBouncer) cannot keep SQL-level prepared
statements at all: ``DATABASE_PREPARED_STATEMENTS=false`` runs them plain.
``PREPARE`` is not shown to statement observers (tests count round trips
per request; the one-time ``PREPARE`` of a connection is not one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import psycopg2
import psycopg2.extensions

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
# psycopg2's placeholders, and "%%" for a literal "%" (which PREPARE, sent
# without parameters, must get as "%").
_PLACEHOLDER = re.compile(r"%%|%\((\w+)\)s|%s")
_UNDEFINED_STATEMENT = "26000"  # invalid_sql_statement_name
_FEATURE_NOT_SUPPORTED = "0A000"  # "cached plan must not change result type"


class Statement:
    """One SQL statement, prepared per connection. Its placeholders are
    either all positional (``%s``, run with a tuple) or all named
    (``%(name)s``, run with a mapping; a name may appear more than once).
    A list can stand where a set of values is meant (``= ANY(%s)``);
    ``IN %s`` with a tuple cannot be prepared. PostgreSQL infers each
    parameter's type when it prepares the statement: cast one it cannot
    infer (``%s::interval``), or a number may come back as text."""

    def __init__(self, name: str, sql: str) -> None:
        names: list[str] = []
        positional = 0

        def number(match: re.Match[str]) -> str:
            nonlocal positional
            if match.group(0) == "%%":
                return "%"
            if match.group(1) is None:
                positional += 1
                return f"${positional}"
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        numbered = _PLACEHOLDER.sub(number, sql)
        if not _NAME.match(name) or (names and positional):
            raise ValueError(f"not a statement name, or mixed placeholders: {name!r}")
        self.name = f"yco_{name}"
        self.sql = sql
        self.names: tuple[str, ...] = tuple(names)
        self.params = len(names) or positional
        self._prepare = f"PREPARE {self.name} AS {numbered}"
        placeholders = ", ".join(["%s"] * self.params)
        self._execute = f"EXECUTE {self.name} ({placeholders})" if self.params else f"EXECUTE {self.name}"

    def execute(self, cur: Any, params: tuple[Any, ...] | Mapping[str, Any] = ()) -> None:
        """Run the statement on ``cur``; fetch its rows as after ``cur.execute``."""
        if isinstance(params, Mapping) != bool(self.names):
            # The same refusal on both paths, prepared or plain.
            raise TypeError(f"{self.name} takes {'a mapping' if self.names else 'a tuple'} of parameters")
        conn = cur.connection
        prepared: set[str] | None = getattr(conn, "prepared_statements", None)
        if prepared is None or not conn.autocommit:
            cur.execute(self.sql, params)
            return
        values = tuple(params[name] for name in self.names) if isinstance(params, Mapping) else params
        if self.name not in prepared:
            _unobserved(conn, self._prepare)
            prepared.add(self.name)
        try:
            cur.execute(self._execute, values)
        except psycopg2.Error as exc:
            if not _repairable(exc):
                raise
            prepared.discard(self.name)
            _unobserved(conn, f"DEALLOCATE {self.name}", missing_ok=True)
            _unobserved(conn, self._prepare)
            prepared.add(self.name)
            cur.execute(self._execute, values)


def _repairable(exc: psycopg2.Error) -> bool:
    if exc.pgcode == _UNDEFINED_STATEMENT:
        return True
    return exc.pgcode == _FEATURE_NOT_SUPPORTED and "cached plan" in str(exc)


def _unobserved(conn: psycopg2.extensions.connection, statement: str, *, missing_ok: bool = False) -> None:
    # psycopg2's own cursor, not the observed one the connection hands out.
    with psycopg2.extensions.cursor(conn) as cur:
        try:
            cur.execute(statement)
        except psycopg2.Error as exc:
            if not (missing_ok and exc.pgcode == _UNDEFINED_STATEMENT):
                raise
