"""reliability.db against a real PostgreSQL: the waiting pool, recovery from
killed backends, transactions, retries, statement timeouts, bulk writes and
the health check. Every failure here is produced by the server itself."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg2
import psycopg2.errors
import pytest
from psycopg2 import sql

from reliability import db
from reliability.errors import PoolExhausted


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


def backend_listed(outside, pid: int) -> bool:
    with outside.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
        return cur.fetchone()[0] > 0


def rows_of(outside, table: str, order_by: str = "id") -> list[tuple]:
    with outside.cursor() as cur:
        cur.execute(sql.SQL("SELECT * FROM {} ORDER BY {}").format(sql.Identifier(table), sql.Identifier(order_by)))
        return cur.fetchall()


def small_pool(dsn: str, **overrides) -> db.ConnectionPool:
    return db.ConnectionPool(
        db.PoolSettings(**{"dsn": dsn, "size": 1, "max_overflow": 1, "wait_timeout_s": 0.5, **overrides})
    )


# -- 1. the pool waits, then gives up -----------------------------------------


def test_pool_waits_for_the_timeout_then_raises_pool_exhausted(migrated):
    pool = small_pool(migrated[0])
    first, second = pool.acquire(), pool.acquire()
    try:
        assert first is not second
        assert pool.status() == {"size": 1, "max_overflow": 1, "open": 2, "in_use": 2, "idle": 0, "waiting": 0}

        started = time.monotonic()
        with pytest.raises(PoolExhausted):
            pool.acquire()
        elapsed = time.monotonic() - started
        assert 0.4 <= elapsed < 2.0, f"gave up after {elapsed:.3f}s, expected about 0.5s"

        started = time.monotonic()
        with pytest.raises(PoolExhausted):
            pool.acquire(timeout=0.05)  # an explicit timeout wins over the setting
        assert time.monotonic() - started < 0.4

        # Giving up leaves no trace: nobody waiting, nothing extra counted.
        assert pool.status() == {"size": 1, "max_overflow": 1, "open": 2, "in_use": 2, "idle": 0, "waiting": 0}
    finally:
        pool.release(first)
        pool.release(second)
    # Only `size` connections are kept; the overflow one is closed on release.
    assert pool.status() == {"size": 1, "max_overflow": 1, "open": 1, "in_use": 0, "idle": 1, "waiting": 0}
    assert not first.closed and second.closed
    pool.close()
    assert first.closed


def test_a_waiting_caller_gets_a_connection_released_within_the_timeout(migrated):
    pool = small_pool(migrated[0], wait_timeout_s=5)
    first, second = pool.acquire(), pool.acquire()
    got: dict = {}

    def waiter():
        started = time.monotonic()
        try:
            got["conn"] = pool.acquire()
        except Exception as exc:  # reported below
            got["error"] = exc
        got["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=waiter)
    thread.start()
    try:
        wait_until(lambda: pool.status()["waiting"] == 1)
        assert pool.status() == {"size": 1, "max_overflow": 1, "open": 2, "in_use": 2, "idle": 0, "waiting": 1}
        time.sleep(0.3)
        pool.release(first)
        thread.join(5)
        assert not thread.is_alive()
        assert "error" not in got, got.get("error")
        assert got["conn"] is first  # handed over, not a new connection
        assert 0.25 <= got["elapsed"] < 4.0
        assert pool.status() == {"size": 1, "max_overflow": 1, "open": 2, "in_use": 2, "idle": 0, "waiting": 0}
        with got["conn"].cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        thread.join(5)
        pool.release(second)
        if "conn" in got:
            pool.release(got["conn"])
        pool.close()


def test_a_failed_connect_gives_its_slot_back(migrated):
    pool = db.ConnectionPool(
        db.PoolSettings(dsn="postgresql://postgres@127.0.0.1:1/x", size=1, max_overflow=0, wait_timeout_s=0.2)
    )
    for _ in range(3):  # a leaked slot would turn the later attempts into PoolExhausted
        with pytest.raises(db.DatabaseError) as caught:
            pool.acquire()
        assert not isinstance(caught.value, PoolExhausted)
        assert isinstance(caught.value.__cause__, psycopg2.OperationalError)
    assert pool.status()["open"] == 0 and pool.status()["in_use"] == 0


# -- 2. killed backends are replaced without a failed request -----------------


@pytest.mark.parametrize("ping_after_idle_s", [3600, 0], ids=["socket-check", "idle-ping"])
def test_a_terminated_backend_is_replaced_without_a_failed_request(use_pool, outside, ping_after_idle_s):
    pool = use_pool(ping_after_idle_s=ping_after_idle_s)
    with db.transaction() as cur:
        cur.execute("SELECT pg_backend_pid() AS pid")
        old_pid = cur.fetchone()["pid"]
    assert pool.status()["idle"] == 1

    with outside.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (old_pid,))
        assert cur.fetchone()[0] is True
    wait_until(lambda: not backend_listed(outside, old_pid))

    with db.transaction() as cur:
        cur.execute("SELECT 1 AS one, pg_backend_pid() AS pid")
        row = cur.fetchone()
    assert row["one"] == 1
    assert row["pid"] != old_pid
    assert pool.status()["in_use"] == 0 and pool.status()["open"] == 1


def test_every_idle_connection_killed_still_no_failed_request(use_pool, outside):
    pool = use_pool(size=3)
    conns = [pool.acquire() for _ in range(3)]
    pids = [c.get_backend_pid() for c in conns]
    for conn in conns:
        pool.release(conn)
    with outside.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
    wait_until(lambda: not any(backend_listed(outside, pid) for pid in pids))

    for _ in range(3):
        with db.transaction() as cur:
            cur.execute("SELECT pg_backend_pid() AS pid")
            assert cur.fetchone()["pid"] not in pids
    assert pool.status()["in_use"] == 0


def _query_start(outside, pid: int):
    with outside.cursor() as cur:
        cur.execute("SELECT query_start FROM pg_stat_activity WHERE pid = %s", (pid,))
        return cur.fetchone()[0]


@pytest.mark.parametrize(("ping_after_idle_s", "pinged"), [(0, True), (3600, False)])
def test_idle_connections_are_pinged_only_after_the_idle_time(use_pool, outside, ping_after_idle_s, pinged):
    pool = use_pool(ping_after_idle_s=ping_after_idle_s)
    conn = pool.acquire()
    pid = conn.get_backend_pid()
    pool.release(conn)
    before = _query_start(outside, pid)
    time.sleep(0.01)

    conn = pool.acquire()
    try:
        assert conn.get_backend_pid() == pid  # same live connection reused
        after = _query_start(outside, pid)
    finally:
        pool.release(conn)
    # A ping is a round trip the server sees; without one acquire costs none.
    assert (after != before) is pinged


# -- 3. transactions ----------------------------------------------------------


def test_transaction_commits_on_success_and_rolls_back_on_exception(use_pool, scratch_table, outside):
    pool = use_pool()
    table = scratch_table("id int PRIMARY KEY, note text")
    insert = sql.SQL("INSERT INTO {} (id, note) VALUES (%s, %s)").format(sql.Identifier(table))

    with db.transaction() as cur:
        cur.execute(insert, (1, "kept"))
    with pytest.raises(RuntimeError, match="boom"):
        with db.transaction() as cur:
            cur.execute(insert, (2, "rolled back"))
            raise RuntimeError("boom")
    # A database error rolls back the statements before it too.
    with pytest.raises(psycopg2.errors.UniqueViolation):
        with db.transaction() as cur:
            cur.execute(insert, (3, "rolled back"))
            cur.execute(insert, (1, "duplicate"))

    assert rows_of(outside, table) == [(1, "kept")]
    assert pool.status()["in_use"] == 0 and pool.status()["idle"] >= 1

    # The connection that saw the error went back clean, not in an aborted transaction.
    with db.transaction() as cur:
        cur.execute(insert, (4, "after error"))
    assert rows_of(outside, table) == [(1, "kept"), (4, "after error")]


def test_a_borrowed_connection_left_mid_transaction_is_rolled_back_on_return(use_pool, scratch_table, outside):
    pool = use_pool(size=1, max_overflow=0)
    table = scratch_table("id int PRIMARY KEY")
    with db.get_db_connection() as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(sql.Identifier(table)))
        pid = conn.get_backend_pid()
        # no commit
    assert rows_of(outside, table) == []
    with db.get_db_connection() as conn:
        assert conn.get_backend_pid() == pid
        assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    assert pool.status() == {"size": 1, "max_overflow": 0, "open": 1, "in_use": 0, "idle": 1, "waiting": 0}


# -- 4. retries ---------------------------------------------------------------


def test_a_terminated_backend_is_retried(use_pool):
    pool = use_pool()
    pids: list[int] = []

    def work():
        with db.transaction() as cur:
            cur.execute("SELECT pg_backend_pid() AS pid")
            pids.append(cur.fetchone()["pid"])
            if len(pids) == 1:
                cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            cur.execute("SELECT 42 AS answer")
            return cur.fetchone()["answer"]

    assert db.retry_on_db_error(max_retries=3, backoff_factor=0.01)(work)() == 42
    assert len(pids) == 2 and pids[0] != pids[1]
    assert pool.status()["in_use"] == 0

    # The error the server produced is one the classifier calls transient;
    # a lost connection reaches the caller as DatabaseError (a 503), not 500.
    pids.clear()
    with pytest.raises(db.DatabaseError) as caught:
        work()
    assert isinstance(caught.value.__cause__, psycopg2.OperationalError)
    assert db.is_transient_db_error(caught.value)


def test_a_serialization_failure_is_retried_and_sees_fresh_data(use_pool, scratch_table, outside):
    use_pool()
    table = scratch_table("id int PRIMARY KEY, v int NOT NULL")
    with outside.cursor() as cur:
        cur.execute(sql.SQL("INSERT INTO {} VALUES (1, 0)").format(sql.Identifier(table)))
    select = sql.SQL("SELECT v FROM {} WHERE id = 1").format(sql.Identifier(table))
    update = sql.SQL("UPDATE {} SET v = %s WHERE id = 1").format(sql.Identifier(table))
    errors: list[BaseException] = []
    calls = 0

    @db.retry_on_db_error(max_retries=3, backoff_factor=0.01)
    def increment():
        nonlocal calls
        calls += 1
        try:
            with db.transaction() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                cur.execute(select)
                value = cur.fetchone()["v"]
                if calls == 1:  # another session commits a change in between
                    with outside.cursor() as other:
                        other.execute(sql.SQL("UPDATE {} SET v = v + 100 WHERE id = 1").format(sql.Identifier(table)))
                cur.execute(update, (value + 1,))
        except Exception as exc:
            errors.append(exc)
            raise

    increment()
    assert calls == 2
    assert len(errors) == 1 and isinstance(errors[0], psycopg2.errors.SerializationFailure)
    assert rows_of(outside, table) == [(1, 101)]  # no lost update


def test_invalid_sql_is_not_retried(use_pool):
    use_pool()
    calls = 0

    @db.retry_on_db_error(max_retries=3, backoff_factor=0.01)
    def broken():
        nonlocal calls
        calls += 1
        with db.transaction() as cur:
            cur.execute("SELEC 1")

    with pytest.raises(psycopg2.errors.SyntaxError):
        broken()
    assert calls == 1


def test_a_constraint_violation_is_not_retried(use_pool, scratch_table):
    use_pool()
    table = scratch_table("id int PRIMARY KEY")
    calls = 0

    @db.retry_on_db_error(max_retries=3, backoff_factor=0.01)
    def duplicate():
        nonlocal calls
        calls += 1
        with db.transaction() as cur:
            cur.execute(sql.SQL("INSERT INTO {} VALUES (1), (1)").format(sql.Identifier(table)))

    with pytest.raises(psycopg2.errors.UniqueViolation):
        duplicate()
    assert calls == 1


def test_a_statement_timeout_is_not_retried(use_pool):
    use_pool()
    calls = 0

    @db.retry_on_db_error(max_retries=3, backoff_factor=0.01)
    def slow():
        nonlocal calls
        calls += 1
        with db.transaction(statement_timeout_ms=100) as cur:
            cur.execute("SELECT pg_sleep(1)")

    with pytest.raises(psycopg2.errors.QueryCanceled):
        slow()
    assert calls == 1


def test_retries_stop_after_max_retries(use_pool):
    pool = use_pool()
    calls = 0

    @db.retry_on_db_error(max_retries=2, backoff_factor=0.01)
    def always_killed():
        nonlocal calls
        calls += 1
        with db.transaction() as cur:
            cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with pytest.raises(db.DatabaseError):
        always_killed()
    assert calls == 3
    assert pool.status()["in_use"] == 0


# -- 5. statement timeouts ----------------------------------------------------


def test_the_statement_timeout_cancels_a_long_query(use_pool):
    use_pool(size=1, max_overflow=0, statement_timeout_ms=200)
    started = time.monotonic()
    with pytest.raises(psycopg2.errors.QueryCanceled):
        with db.transaction() as cur:
            cur.execute("SELECT pg_sleep(2)")
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 1.5, f"cancelled after {elapsed:.3f}s"
    # The same connection is still usable afterwards.
    with db.transaction() as cur:
        cur.execute("SELECT 1 AS one")
        assert cur.fetchone()["one"] == 1


def test_a_transaction_can_lengthen_the_timeout_for_itself_only(use_pool):
    use_pool(size=1, max_overflow=0, statement_timeout_ms=200)
    started = time.monotonic()
    with db.transaction(statement_timeout_ms=5000) as cur:
        cur.execute("SELECT pg_sleep(0.5)")
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone()["statement_timeout"] == "5s"
        pid = cur.connection.get_backend_pid()
    assert time.monotonic() - started >= 0.5
    with db.transaction() as cur:  # same connection, back to the default
        assert cur.connection.get_backend_pid() == pid
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone()["statement_timeout"] == "200ms"
        with pytest.raises(psycopg2.errors.QueryCanceled):
            cur.execute("SELECT pg_sleep(0.5)")


def test_a_transaction_can_shorten_the_timeout_for_itself_only(use_pool):
    use_pool(size=1, max_overflow=0, statement_timeout_ms=30_000)
    started = time.monotonic()
    with pytest.raises(psycopg2.errors.QueryCanceled):
        with db.transaction(statement_timeout_ms=200) as cur:
            pid = cur.connection.get_backend_pid()
            cur.execute("SELECT pg_sleep(2)")
    assert time.monotonic() - started < 1.5
    with db.transaction() as cur:
        assert cur.connection.get_backend_pid() == pid
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone()["statement_timeout"] == "30s"


# -- 6. bulk writes -----------------------------------------------------------


def test_bulk_insert_of_ten_thousand_rows(use_pool, scratch_table, outside):
    use_pool()
    table = scratch_table("id int PRIMARY KEY, label text NOT NULL")
    written = db.bulk_insert(table, ["id", "label"], ((i, f"row {i}") for i in range(10_000)))
    assert written == 10_000
    with outside.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM {}").format(sql.Identifier(table))
        )
        assert cur.fetchone() == (10_000, 10_000, 0, 9_999)


def test_bulk_insert_is_one_transaction_across_pages(use_pool, scratch_table, outside):
    use_pool()
    table = scratch_table("id int PRIMARY KEY")
    rows = [(i,) for i in range(2_500)] + [(0,)]  # the last page repeats a key
    with pytest.raises(psycopg2.errors.UniqueViolation):
        db.bulk_insert(table, ["id"], rows, page_size=1_000)
    assert rows_of(outside, table) == []


def test_bulk_insert_inside_a_callers_transaction_follows_it(use_pool, scratch_table, outside):
    use_pool()
    table = scratch_table("id int PRIMARY KEY")
    with pytest.raises(RuntimeError):
        with db.transaction() as cur:
            assert db.bulk_insert(table, ["id"], [(1,), (2,)], cur=cur) == 2
            raise RuntimeError("abandon")
    assert rows_of(outside, table) == []
    assert db.bulk_insert(table, ["id"], []) == 0


def test_bulk_upsert_updates_existing_rows_and_inserts_new_ones(use_pool, scratch_table, outside):
    use_pool()
    table = scratch_table("id int PRIMARY KEY, label text NOT NULL, hits int NOT NULL DEFAULT 0")
    db.bulk_insert(table, ["id", "label", "hits"], [(i, f"old {i}", 1) for i in range(1, 6)])

    written = db.bulk_upsert(table, ["id", "label", "hits"], [(i, f"new {i}", 2) for i in range(3, 8)], ["id"])
    assert written == 5
    assert rows_of(outside, table) == [
        (1, "old 1", 1),
        (2, "old 2", 1),
        (3, "new 3", 2),
        (4, "new 4", 2),
        (5, "new 5", 2),
        (6, "new 6", 2),
        (7, "new 7", 2),
    ]

    # Only the named columns are updated.
    db.bulk_upsert(table, ["id", "label", "hits"], [(1, "label only", 99)], ["id"], update_columns=["label"])
    # Nothing to update: existing rows are left alone, new ones still inserted.
    assert db.bulk_upsert(table, ["id", "label"], [(2, "ignored"), (8, "inserted")], ["id"], update_columns=[]) == 1
    rows = {r[0]: r[1:] for r in rows_of(outside, table)}
    assert rows[1] == ("label only", 1)
    assert rows[2] == ("old 2", 1)
    assert rows[8] == ("inserted", 0)


HOSTILE_VALUES = [
    "O'Brien",
    "'); DROP TABLE victim; --",
    '"; DELETE FROM victim; --',
    "semi;colon; and \\ backslash",
    "%s %(name)s {} $1",
    "dollar $$ quoted $$ and E'\\x00'",
    "ünïcødé ✓ 🚀",
]


def test_values_are_stored_verbatim(use_pool, scratch_table, outside):
    use_pool()
    victim = scratch_table("id int", name=f"victim_{uuid.uuid4().hex[:8]}")
    table = scratch_table("id int PRIMARY KEY, body text NOT NULL")
    rows = [(i, v.replace("victim", victim)) for i, v in enumerate(HOSTILE_VALUES)]
    assert db.bulk_insert(table, ["id", "body"], rows) == len(rows)
    assert rows_of(outside, table) == rows
    assert db.bulk_upsert(table, ["id", "body"], [(0, rows[1][1])], ["id"]) == 1
    assert rows_of(outside, table)[0] == (0, rows[1][1])
    assert rows_of(outside, victim) == []  # still there, untouched


def test_odd_identifiers_are_quoted(use_pool, scratch_table, outside):
    use_pool()
    table = scratch_table('"id" int PRIMARY KEY, "co""l; x" text', name='we"ird')
    assert db.bulk_insert(table, ["id", 'co"l; x'], [(1, "a")]) == 1
    assert db.bulk_upsert(table, ["id", 'co"l; x'], [(1, "b"), (2, "c")], ["id"]) == 2
    assert rows_of(outside, table) == [(1, "b"), (2, "c")]


def test_injection_through_a_name_fails_cleanly(use_pool, scratch_table, outside):
    use_pool()
    victim = scratch_table("id int PRIMARY KEY")
    with outside.cursor() as cur:
        cur.execute(sql.SQL("INSERT INTO {} VALUES (7)").format(sql.Identifier(victim)))
    hostile_table = f"{victim} (id) VALUES (1); DROP TABLE {victim}; --"
    with pytest.raises(psycopg2.errors.UndefinedTable):
        db.bulk_insert(hostile_table, ["id"], [(1,)])
    with pytest.raises(psycopg2.errors.UndefinedColumn):
        db.bulk_insert(victim, [f'id) VALUES (1); DROP TABLE "{victim}"; --'], [(1,)])
    with pytest.raises(psycopg2.errors.UndefinedColumn):
        db.bulk_upsert(victim, ["id"], [(1,)], ["id"], update_columns=["id = 0; --"])
    assert rows_of(outside, victim) == [(7,)]


# -- 7. health ----------------------------------------------------------------


def test_health_check_reports_a_healthy_database(use_pool):
    use_pool(size=2, max_overflow=1)
    result = db.health_check()
    assert result["healthy"] is True
    assert result["connection_test"] is True
    assert isinstance(result["response_time_ms"], float) and 0 <= result["response_time_ms"] < 2000
    assert "error" not in result
    pool = result["pool"]
    assert {"size": 2, "in_use": 0, "waiting": 0}.items() <= pool.items()
    assert pool["idle"] == 1  # the connection it used went back


def test_health_check_counts_connections_in_use(use_pool):
    pool = use_pool(size=2, max_overflow=1)
    held = pool.acquire()
    try:
        result = db.health_check()
    finally:
        pool.release(held)
    assert result["healthy"] is True
    # status is read after its own connection went back: one held, one idle
    assert {"size": 2, "in_use": 1, "idle": 1, "waiting": 0, "open": 2}.items() <= result["pool"].items()


def test_health_check_reports_an_unreachable_database_without_raising(use_pool):
    use_pool(dsn="postgresql://postgres@127.0.0.1:1/x", size=1, max_overflow=0)
    for _ in range(2):  # and the failed attempt leaves no slot taken
        started = time.monotonic()
        result = db.health_check(timeout=0.5)
        assert time.monotonic() - started < 5
        assert result["healthy"] is False
        assert result["connection_test"] is False
        assert result["error"] == "database_unavailable"
        assert isinstance(result["response_time_ms"], float)
        assert {"size": 1, "in_use": 0, "idle": 0, "waiting": 0}.items() <= result["pool"].items()


def test_health_check_reports_a_busy_pool(use_pool):
    pool = use_pool(size=1, max_overflow=0)
    held = pool.acquire()
    try:
        result = db.health_check(timeout=0.2)
    finally:
        pool.release(held)
    assert result["healthy"] is False
    assert result["error"] == "database_busy"
    assert result["pool"]["in_use"] == 1
