"""An endpoint's name says where its view lives: `videos.show` is in
webapp/videos/routes.py (a package's own blueprint holds its routes.py),
`channels.members.invite` in webapp/channels/members.py (every other module
with routes is a child blueprint named after its file). Only the names of
endpoints are checked; their URLs are the app's."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from reliability.config import ROOT
from webapp import create_app

# Endpoints that are not ours: Flask's static files and the vendored RQ dashboard.
FOREIGN = re.compile(r"static|rq_dashboard\..+")
# A literal endpoint given to url_for (templates and views) or to mailing.link.
ENDPOINT_REFERENCE = re.compile(r"""\b(?:url_for|link)\(\s*["']([a-z_.]+)["']""")


@pytest.fixture(scope="module")
def app() -> Flask:
    # create_app opens no connection, so the URLs only have to be well formed.
    return create_app(
        {
            "ENVIRONMENT": "test",
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "SECRET_KEY": "test-blueprint-names",
        }
    )


def module_named_by(endpoint: str) -> str:
    """`pkg.view` -> webapp.pkg.routes; `pkg.file.view` -> webapp.pkg.file."""
    *blueprints, _view = endpoint.split(".")
    assert len(blueprints) in (1, 2), f"{endpoint}: expected package.view or package.file.view"
    return "webapp." + ".".join(blueprints if len(blueprints) == 2 else [*blueprints, "routes"])


def our_endpoints(app: Flask) -> list[str]:
    return sorted({rule.endpoint for rule in app.url_map.iter_rules() if not FOREIGN.fullmatch(rule.endpoint)})


def test_every_endpoint_names_the_module_of_its_view(app):
    endpoints = our_endpoints(app)
    assert endpoints, "no routes found"
    misplaced = {
        endpoint: app.view_functions[endpoint].__module__
        for endpoint in endpoints
        if app.view_functions[endpoint].__module__ != module_named_by(endpoint)
    }
    assert misplaced == {}


def test_the_names_of_the_rules_are_checked_as_meant():
    assert module_named_by("videos.show") == "webapp.videos.routes"
    assert module_named_by("videos.history.restore") == "webapp.videos.history"
    with pytest.raises(AssertionError):
        module_named_by("show")


def test_every_endpoint_named_in_code_or_templates_exists(app):
    """A renamed endpoint left behind in a page that no test renders would be
    a 500 for whoever opens it."""
    files = [*(ROOT / "templates").rglob("*.html"), *(ROOT / "webapp").rglob("*.py")]
    named = {(path.relative_to(ROOT).as_posix(), name) for path in files for name in _references(path)}
    assert named, "no url_for references found"
    assert sorted(ref for ref in named if ref[1] not in app.view_functions) == []


def _references(path) -> list[str]:
    return ENDPOINT_REFERENCE.findall(path.read_text(encoding="utf-8"))
