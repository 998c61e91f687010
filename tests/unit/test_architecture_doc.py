"""docs/architecture.md is the map a newcomer reads first; these checks keep
it from rotting silently when a module moves or a route is added.

Every path written in backticks that looks like a repository file (it has a
slash and ends with .py, .html, .sql, .txt or .md) must exist, and one that
ends with a slash must be a directory. Every endpoint of the app (Flask's
static files and the vendored RQ dashboard aside) must be named in it."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from reliability.config import ROOT
from webapp import create_app

DOC = ROOT / "docs" / "architecture.md"
BACKTICKED = re.compile(r"`([^`\s]+)`")
FILE_PATH = re.compile(r"[\w.-]+(?:/[\w.-]+)+\.(?:py|html|sql|txt|md)")
DIRECTORY_PATH = re.compile(r"[\w.-]+(?:/[\w.-]+)*/")
FOREIGN_ENDPOINT = re.compile(r"static|rq_dashboard\..+")


def backticked_paths(text: str) -> list[str]:
    """The backticked strings that name a file or a directory of the repo."""
    return [
        token for token in BACKTICKED.findall(text) if FILE_PATH.fullmatch(token) or DIRECTORY_PATH.fullmatch(token)
    ]


def missing_paths(text: str) -> list[str]:
    missing = []
    for path in backticked_paths(text):
        target = ROOT / path
        exists = target.is_dir() if path.endswith("/") else target.is_file()
        if not exists:
            missing.append(path)
    return sorted(set(missing))


@pytest.fixture(scope="module")
def app() -> Flask:
    # create_app opens no connection, so the URLs only have to be well formed.
    return create_app(
        {
            "ENVIRONMENT": "test",
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "SECRET_KEY": "test-architecture-doc",
        }
    )


def test_the_path_finder_reads_paths_as_meant() -> None:
    text = (
        "`webapp/videos/routes.py` `sql/migrations/` `templates/base.html` "
        "`store.py` `videos.show` `flask db upgrade` `python -m jobs.cron`"
    )
    assert backticked_paths(text) == ["webapp/videos/routes.py", "sql/migrations/", "templates/base.html"]
    assert missing_paths("`webapp/nowhere.py` `optimizer/` `no/such/dir/`") == ["no/such/dir/", "webapp/nowhere.py"]


def test_every_path_in_the_architecture_doc_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert len(backticked_paths(text)) > 50, "expected the map to name the files it describes"
    assert missing_paths(text) == [], "docs/architecture.md names paths that do not exist (moved or renamed?)"


def test_every_endpoint_is_on_the_map(app: Flask) -> None:
    named = set(BACKTICKED.findall(DOC.read_text(encoding="utf-8")))
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if not FOREIGN_ENDPOINT.fullmatch(rule.endpoint)}
    assert endpoints, "no routes found"
    assert sorted(endpoints - named) == [], "endpoints missing from docs/architecture.md (add them to their feature)"
