"""Swagger UI at /api/docs and ReDoc at /api/redoc: each loads only pinned,
vendored files whose SRI hash is the local copy's sha384, from the CDN (with
the local copy named for the fallback) or from our own server, and runs
under a CSP of its own that allows inline styles and blob workers and
nothing else more than the site's: no inline or eval'd script. Every other
page keeps the site's stricter policy."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from reliability import db
from reliability.config import ROOT
from tests.unit.test_assets import sri_sha384

PAGES = {"/api/docs": ("swagger_ui", "swagger_ui_css"), "/api/redoc": ("redoc",)}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" or (tag == "link" and attributes.get("rel") == "stylesheet"):
            self.loaded.append(attributes)


def _tags(response) -> list[dict]:
    parser = _Tags()
    parser.feed(response.get_data(as_text=True))
    return parser.loaded


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.fixture
def client_with(app_config):
    from webapp import create_app

    def make(**changes):
        return create_app({**app_config, **changes}).test_client()

    yield make
    db.dispose_pool()


@pytest.mark.parametrize("path", sorted(PAGES))
def test_local_assets_carry_the_sha384_of_the_file_served(client_with, path):
    client = client_with(ASSETS_FROM_CDN=False)
    response = client.get(path)
    assert response.status_code == 200
    pinned = [tag for tag in _tags(response) if tag.get("integrity")]
    assert len(pinned) == len(PAGES[path])
    for tag in pinned:
        url = tag.get("src") or tag["href"]
        assert url.startswith("/static/vendor/"), url
        served = client.get(url)
        assert served.status_code == 200
        assert tag["integrity"] == sri_sha384(served.get_data()), url
        assert "data-fallback" not in tag
    starter = [tag for tag in _tags(response) if tag.get("src", "").endswith("/static/js/apidocs.js")]
    assert starter and (ROOT / "static" / "js" / "apidocs.js").exists()


@pytest.mark.parametrize("path", sorted(PAGES))
def test_cdn_assets_name_the_local_copy_with_the_same_hash(client_with, path):
    from webapp import ASSETS

    client = client_with(ASSETS_FROM_CDN=True)
    for tag in (t for t in _tags(client.get(path)) if t.get("integrity")):
        url = tag.get("src") or tag["href"]
        [name] = [n for n in PAGES[path] if ASSETS[n]["url"] == url]
        assert tag["integrity"] == sri_sha384((ROOT / "static" / ASSETS[name]["local"]).read_bytes())
        assert tag["data-fallback"] == "/static/" + ASSETS[name]["local"]


@pytest.mark.parametrize("path", sorted(PAGES))
def test_the_docs_pages_have_their_own_csp(client, path):
    csp = _csp(client.get(path))
    assert "'unsafe-inline'" in csp["style-src"] and "blob:" in csp["worker-src"]
    assert not {"'unsafe-inline'", "'unsafe-eval'", "blob:", "data:"} & set(csp["script-src"])
    assert csp["connect-src"] == ["'self'"] and csp["object-src"] == ["'none'"]


def test_other_pages_keep_the_stricter_policy(client):
    csp = _csp(client.get("/login"))
    assert "'unsafe-inline'" not in csp["style-src"] and "worker-src" not in csp


def test_the_pages_point_at_the_openapi_document(client):
    for path in PAGES:
        assert 'data-spec-url="/api/v1/openapi.json"' in client.get(path).get_data(as_text=True)
    assert client.get("/api/v1/openapi.json").status_code == 200
