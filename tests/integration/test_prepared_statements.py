"""The hot lookups run as server-side prepared statements: prepared once per
connection, repaired when the server forgot them or the table changed under
them, plain inside transactions and where the setting turns them off."""

from __future__ import annotations

import psycopg2
import pytest

from reliability import db
from reliability.prepared import Statement
from webapp.accounts import sessions


def _prepared_here(cur) -> set[str]:
    cur.execute("SELECT name FROM pg_prepared_statements")
    return {row["name"] for row in cur.fetchall()}


def test_a_hot_statement_is_prepared_once_per_connection_and_runs_as_one_statement(app):
    with db.observe_statements() as statements, db.reading() as cur:
        assert sessions.load(cur, "no-such-session") is None
        assert sessions.load(cur, "no-such-session") is None
    # The one-time PREPARE is not a round trip a request pays: two loads, two statements.
    assert [str(s).split(" (")[0] for s in statements] == ["EXECUTE yco_session_user"] * 2
    with db.reading() as cur:
        assert "yco_session_user" in _prepared_here(cur)


def test_a_statement_the_server_forgot_is_prepared_again(app):
    one = Statement("test_forgotten", "SELECT %s::int + 1 AS n")
    with db.reading() as cur:
        one.execute(cur, (1,))
        assert cur.fetchone() == {"n": 2}
        cur.execute("DEALLOCATE ALL")  # as DISCARD ALL or a pooler's other server connection would
        one.execute(cur, (2,))
        assert cur.fetchone() == {"n": 3}


def test_a_table_changed_under_a_prepared_statement_still_answers_with_its_new_columns(app):
    star = Statement("test_star", "SELECT * FROM prepared_probe WHERE a = %s")
    with db.reading() as cur:
        cur.execute("CREATE TEMP TABLE prepared_probe (a int)")
        try:
            cur.execute("INSERT INTO prepared_probe VALUES (1)")
            star.execute(cur, (1,))
            assert cur.fetchone() == {"a": 1}
            cur.execute("ALTER TABLE prepared_probe ADD COLUMN b text DEFAULT 'new'")  # a migration while serving
            star.execute(cur, (1,))
            assert cur.fetchone() == {"a": 1, "b": "new"}
        finally:
            cur.execute("DROP TABLE prepared_probe")


def test_inside_a_transaction_a_statement_runs_plain(app):
    with db.observe_statements() as statements, db.transaction() as cur:
        sessions.load(cur, "no-such-session")
    assert len(statements) == 1 and str(statements[0]).lstrip().startswith("SELECT")


def test_a_wrong_statement_fails_as_plain_sql_would(app):
    wrong = Statement("test_wrong", "SELECT no_such_column FROM pg_class WHERE oid = %s")
    with db.reading() as cur, pytest.raises(psycopg2.errors.UndefinedColumn):
        wrong.execute(cur, (1,))


def test_turned_off_every_statement_runs_plain(app_config):
    from webapp import create_app

    create_app({**app_config, "DATABASE_PREPARED_STATEMENTS": False})  # configures the pool afresh
    with db.observe_statements() as statements, db.reading() as cur:
        sessions.load(cur, "no-such-session")
        assert not {name for name in _prepared_here(cur) if name.startswith("yco_")}
    assert str(statements[0]).lstrip().startswith("SELECT")
