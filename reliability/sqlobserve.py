"""Statement observers: which SQL a piece of code runs, without patching it.

Every pooled connection (reliability.db) is an ``ObservedConnection``; tests
use ``observe_statements()`` to assert, for example, that a page runs the
same few queries whatever the number of videos.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import TYPE_CHECKING, Any

import psycopg2
import psycopg2.extensions

from reliability import metrics

# -- statement observers ----------------------------------------------------
#
# Tests (and, if ever wanted, monitoring) need to know which SQL a piece of
# code runs, e.g. "this page runs at most 8 queries whatever the number of
# videos", without patching our own functions. Every pooled connection is a
# ``ObservedConnection``: its ``cursor()`` hands out a subclass of whatever
# cursor class was asked for (plain, RealDictCursor, ...) whose ``execute`` /
# ``executemany`` call each function in ``statement_observers`` with
# ``(statement, params)`` before running the statement. ``execute_values``
# goes through ``execute``, so a bulk insert counts once per page sent.
# Not seen: the BEGIN/COMMIT/ROLLBACK psycopg2 sends by itself, ``callproc``
# and COPY. With no observer registered the cost is one list check per
# statement. Observers are process-wide (every thread, every connection of
# the pool): register them only around the code being measured, with
# ``observe_statements``.

StatementObserver = Callable[[Any, Any], None]
statement_observers: list[StatementObserver] = []


if TYPE_CHECKING:
    # The mixin is only ever combined with a cursor class (see _observed_cursor_class);
    # at run time it stays a plain mixin so any cursor class can come after it.
    _MixinBase = psycopg2.extensions.cursor
else:
    _MixinBase = object


class _ObservedCursorMixin(_MixinBase):
    # Each statement's time also goes to database_query_duration_seconds
    # (reliability/metrics.py): failed statements included, a slow one that
    # times out being the one an operator most needs to see.
    def execute(self, query: Any, vars: Any = None) -> None:
        if statement_observers:
            _notify(query, vars)
        started = perf_counter()
        try:
            return super().execute(query, vars)
        finally:
            metrics.query_took(perf_counter() - started)

    def executemany(self, query: Any, vars_list: Any) -> None:
        if statement_observers:
            vars_list = list(vars_list)
            for params in vars_list:
                _notify(query, params)
        started = perf_counter()
        try:
            return super().executemany(query, vars_list)
        finally:
            metrics.query_took(perf_counter() - started)


def _notify(query: Any, params: Any) -> None:
    for observer in list(statement_observers):
        observer(query, params)


_observed_cursor_classes: dict[type, type] = {}


def _observed_cursor_class(base: type) -> type:
    cls = _observed_cursor_classes.get(base)
    if cls is None:
        cls = _observed_cursor_classes.setdefault(
            base, type(f"Observed{base.__name__}", (_ObservedCursorMixin, base), {})
        )
    return cls


class ObservedConnection(psycopg2.extensions.connection):
    """A psycopg2 connection whose cursors report to ``statement_observers``;
    any ``cursor_factory`` keeps working (it is subclassed, not replaced)."""

    # The names of the statements prepared on this connection (reliability/prepared.py);
    # None where the pool runs them plain (DATABASE_PREPARED_STATEMENTS=false).
    prepared_statements: set[str] | None = None

    # The stubs list withhold before scrollable; psycopg2's own signature (kept here) is the other way round.
    def cursor(  # type: ignore[override]
        self,
        name: str | bytes | None = None,
        cursor_factory: type[psycopg2.extensions.cursor] | None = None,
        scrollable: bool | None = None,
        withhold: bool = False,
    ) -> psycopg2.extensions.cursor:
        # The stubs type cursor_factory as always set; psycopg2 leaves it None unless someone sets it.
        own_factory: type | None = self.cursor_factory  # type: ignore[assignment]
        base: type = cursor_factory or own_factory or psycopg2.extensions.cursor
        if not issubclass(base, _ObservedCursorMixin):
            base = _observed_cursor_class(base)
        return super().cursor(name, cursor_factory=base, scrollable=scrollable, withhold=withhold)


@contextmanager
def observe_statements() -> Iterator[list[Any]]:
    """Collect the SQL statements the pool's connections run inside the block::

    with observe_statements() as statements:
        client.get("/page")
    assert len(statements) <= 8
    """
    seen: list[Any] = []

    def record(query: Any, params: Any) -> None:
        seen.append(query)

    statement_observers.append(record)
    try:
        yield seen
    finally:
        statement_observers.remove(record)
