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


def test_named_placeholders_are_numbered_once_each_and_a_list_stands_for_a_set(app):
    named = Statement(
        "test_named",
        "SELECT %(a)s::int + %(b)s::int + %(a)s::int AS n, 3 = ANY(%(set)s::int[]) AS has_three, %(b)s::int AS b",
    )
    values = {"b": 10, "a": 1, "set": [1, 2, 3]}
    with db.reading() as cur:
        named.execute(cur, values)
        assert cur.fetchone() == {"n": 12, "has_three": True, "b": 10}
        assert "yco_test_named" in _prepared_here(cur)
    with db.transaction() as cur:  # plain SQL, the same answer
        named.execute(cur, {**values, "set": [4]})
        assert cur.fetchone() == {"n": 12, "has_three": False, "b": 10}


def test_a_statement_mixing_placeholder_kinds_is_refused():
    with pytest.raises(ValueError, match="mixed placeholders"):
        Statement("test_mixed", "SELECT %(a)s, %s")


def test_the_channel_dashboard_runs_prepared(app):
    """The dashboard's queries, the page's heaviest to plan, run as EXECUTE
    and give the same rows as plain SQL (inside a transaction) does."""
    from webapp.channels import dashboard_store

    with db.transaction() as cur:
        cur.execute("INSERT INTO users (email, password_hash) VALUES ('dash@example.com', 'x') RETURNING id")
        user_id = cur.fetchone()["id"]
        cur.execute(
            "INSERT INTO channels (youtube_channel_id, title, uploads_playlist_id, created_by)"
            " VALUES ('UCdash', 'Dash', 'UUdash', %s) RETURNING id",
            (user_id,),
        )
        channel_id = cur.fetchone()["id"]
        cur.execute(
            "INSERT INTO videos (channel_id, youtube_video_id, title, view_count, seo_score)"
            " VALUES (%s, 'dash1', 'Low', 50, 10), (%s, 'dash2', 'High', 90, 95)",
            (channel_id, channel_id),
        )
        plain = (dashboard_store.summary(cur, channel_id), dashboard_store.needs_attention(cur, channel_id))
    with db.observe_statements() as statements, db.reading() as cur:
        prepared = (dashboard_store.summary(cur, channel_id), dashboard_store.needs_attention(cur, channel_id))
    assert [str(s).split(" (")[0] for s in statements] == [
        "EXECUTE yco_dashboard_summary",
        "EXECUTE yco_dashboard_needs_attention",
    ]
    assert prepared == plain
    assert [row["title"] for row in prepared[1]] == ["Low"]  # the low-score video, and only it


def test_a_literal_percent_sign_means_the_same_prepared_and_plain(app):
    modulo = Statement("test_modulo", "SELECT %(a)s::int %% 3 AS r, '100%%' AS label")
    with db.reading() as cur:
        modulo.execute(cur, {"a": 7})
        assert cur.fetchone() == {"r": 1, "label": "100%"}
    with db.transaction() as cur:
        modulo.execute(cur, {"a": 7})
        assert cur.fetchone() == {"r": 1, "label": "100%"}


def test_the_wrong_kind_of_parameters_is_refused_on_both_paths(app):
    named = Statement("test_named_kind", "SELECT %(a)s::int AS a")
    positional = Statement("test_positional_kind", "SELECT %s::int AS a")
    for run in (db.reading, db.transaction):
        with run() as cur:
            with pytest.raises(TypeError):
                named.execute(cur, (1,))
            with pytest.raises(TypeError):
                positional.execute(cur, {"a": 1})
