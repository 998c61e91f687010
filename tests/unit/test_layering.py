"""Layering rules that review keeps missing, checked on the source itself.

Views hold no SQL: every query lives in a store module (store.py, or the
domain module owning the entity) and views call it on the cursor of their
unit of work (reliability/db.py). Jobs hold none either: a job step opens
the transaction and calls the owners. Below the views, SQL is only in
modules named store.py / *_store.py or in the owners listed in SQL_OWNERS.
And errors are raised as the AppError family (reliability/errors.py),
never with Flask's ``abort()``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEBAPP = ROOT / "webapp"

# View modules that are not found by their name or by defining a Blueprint:
# they render pages or guard requests and call stores, like routes do.
EXPLICIT_VIEWS = (
    "webapp/admin_rq.py",
    "webapp/accounts/recovery.py",
    "webapp/accounts/signup.py",
    "webapp/channels/access.py",
    "webapp/channels/connect.py",
    "webapp/channels/invitations.py",
    "webapp/channels/members.py",
    "webapp/videos/history.py",
)

# Modules that own a table (or a column set) and so hold its SQL though their
# name does not end in store.py: each keeps an entity's states and moves, or
# is the one writer of its table. Add one only for a new entity's owner.
SQL_OWNERS = (
    "optimizer/experiments.py",  # experiments: started by an apply, measured later
    "optimizer/runs.py",  # optimization_runs and optimization_run_videos: states and moves
    "optimizer/suggestions.py",  # suggestions: their lifecycle
    "optimizer/usage_ledger.py",  # usage_ledger: every paid call's line
    "optimizer/video_history.py",  # metadata_versions: keeping a version, listing, restoring
    "optimizer/youtube/quota.py",  # quota_ledger and quota reservations
    "optimizer/youtube/sync_runs.py",  # sync_runs: states and moves
    "optimizer/youtube/tokens.py",  # oauth_tokens: encrypted, refreshed under a lock
    "optimizer/youtube/transcripts.py",  # transcripts: fetched once, stored here
    "webapp/accounts/sessions.py",  # user_sessions: server-side sessions
    "webapp/accounts/tokens.py",  # account_tokens: one-time links
)
# Infrastructure below every layer: the pool, the schema, the audit trail, the mail outbox.
INFRA_SQL = (
    "reliability/audit.py",
    "reliability/db.py",
    "reliability/embedded.py",
    "reliability/mail_outbox.py",
    "reliability/migrations.py",
    "reliability/schema_file.py",
)

SQL = re.compile(
    r"\bSELECT\s[\s\S]*\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+(\s+\w+)?\s+SET\b|\bDELETE\s+FROM\b|\bSAVEPOINT\b"
)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _defines_blueprint(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Blueprint"
        for node in ast.walk(tree)
    )


def view_modules() -> list[Path]:
    """routes.py, *_routes.py, every module defining a Blueprint, and the
    explicit list above."""
    found = {ROOT / name for name in EXPLICIT_VIEWS}
    for path in WEBAPP.rglob("*.py"):
        if path.name == "routes.py" or path.name.endswith("_routes.py") or _defines_blueprint(_tree(path)):
            found.add(path)
    return sorted(found)


def sql_strings(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, text) of each string literal, f-string parts included, that
    reads as SQL."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            yield node.lineno, node.value.strip().splitlines()[0]


def abort_uses(tree: ast.Module) -> Iterator[int]:
    """Lines that import or call ``abort``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(alias.name == "abort" for alias in node.names):
            yield node.lineno
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name == "abort":
                yield node.lineno


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _is_store(path: Path) -> bool:
    return path.name == "store.py" or path.name.endswith("_store.py")


def modules_that_may_hold_no_sql() -> list[Path]:
    """Every job, and every optimizer/webapp/reliability module that is
    neither a store nor a listed owner."""
    allowed = {ROOT / name for name in (*SQL_OWNERS, *INFRA_SQL)}
    found = set((ROOT / "jobs").rglob("*.py"))
    for package in ("optimizer", "webapp", "reliability"):
        found.update(path for path in (ROOT / package).rglob("*.py") if not _is_store(path) and path not in allowed)
    return sorted(found)


def test_the_explicit_view_modules_exist():
    missing = [name for name in EXPLICIT_VIEWS if not (ROOT / name).is_file()]
    assert not missing, f"listed as views but gone (update EXPLICIT_VIEWS): {missing}"


def test_the_checker_recognises_sql_and_abort():
    source = '''
from flask import abort
QUERY = "SELECT id FROM users WHERE id = %s"
def view():
    cur.execute(f"UPDATE channels c SET title = {x}")
    cur.execute("""INSERT INTO t (a) VALUES (1)""")
    cur.execute("DELETE FROM t")
    label = "Select a channel from the list"
    abort(404)
'''
    tree = ast.parse(source)
    assert sorted(line for line, _ in sql_strings(tree)) == [3, 5, 6, 7]
    assert sorted(abort_uses(tree)) == [2, 9]


@pytest.mark.parametrize("path", view_modules(), ids=_relative)
def test_views_contain_no_sql(path: Path):
    found = list(sql_strings(_tree(path)))
    assert not found, f"{_relative(path)}: move these queries to a store module: {found}"


def test_the_listed_sql_owners_exist():
    missing = [name for name in (*SQL_OWNERS, *INFRA_SQL) if not (ROOT / name).is_file()]
    assert not missing, f"listed as owning SQL but gone (update SQL_OWNERS / INFRA_SQL): {missing}"


def test_jobs_hold_no_sql():
    """Checked by name as well as below, so that a job module never slips
    into an allowlist: a job step opens the transaction and calls owners."""
    found = [
        f"{_relative(path)}:{line}"
        for path in sorted((ROOT / "jobs").rglob("*.py"))
        for line, _ in sql_strings(_tree(path))
    ]
    assert not found, f"move these queries to the module owning the table: {found}"


@pytest.mark.parametrize("path", modules_that_may_hold_no_sql(), ids=_relative)
def test_sql_lives_only_in_stores_and_owners(path: Path):
    found = list(sql_strings(_tree(path)))
    assert not found, (
        f"{_relative(path)}: move these queries to a store (store.py / *_store.py) or the module owning the table "
        f"(SQL_OWNERS): {found}"
    )


def test_no_abort_in_webapp():
    found = [f"{_relative(path)}:{line}" for path in sorted(WEBAPP.rglob("*.py")) for line in abort_uses(_tree(path))]
    assert not found, f"raise a reliability.errors class (NotFound, PermissionDenied, ...) instead of abort(): {found}"
