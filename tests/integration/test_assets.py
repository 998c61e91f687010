"""The page's htmx and Pico CSS tags: from the CDN with SRI, naming the local
copy the browser falls back to (static/js/cdn-fallback.js); and the local
copy that the app serves has exactly the hash the tag demands. The fallback
itself runs in a browser: tests/browser/test_assets.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from reliability import db
from tests.unit.test_assets import sri_sha384

CDN = "https://cdn.jsdelivr.net/"


class _Tags(HTMLParser):
    """The <script> and <link rel=stylesheet> tags of a page, as attribute dicts."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.sheets: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes)
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.sheets.append(attributes)


def _tags(client, path: str = "/login") -> _Tags:
    response = client.get(path)
    assert response.status_code == 200
    parser = _Tags()
    parser.feed(response.get_data(as_text=True))
    return parser


@pytest.fixture
def client_with(app_config):
    from webapp import create_app

    def make(**changes):
        return create_app({**app_config, **changes}).test_client()

    yield make
    create_app(app_config)
    db.dispose_pool()


def test_cdn_tags_carry_sri_and_a_local_copy_with_the_same_hash(client_with):
    client = client_with(ASSETS_FROM_CDN=True)
    page = _tags(client)
    cdn_tags = [t for t in page.scripts if t.get("src", "").startswith(CDN)]
    cdn_tags += [t for t in page.sheets if t["href"].startswith(CDN)]
    assert len(cdn_tags) == 2, "htmx and Pico CSS come from the CDN"
    for tag in cdn_tags:
        assert re.fullmatch(r"sha384-[A-Za-z0-9+/]{64}", tag["integrity"]), tag
        assert tag["crossorigin"] == "anonymous", tag
        local = client.get(tag["data-fallback"])
        assert local.status_code == 200, tag
        assert sri_sha384(local.data) == tag["integrity"], tag


def test_the_fallback_script_follows_htmx_and_comes_before_app_js(client_with):
    """Deferred scripts run in document order: the fallback must see htmx's
    outcome, and app.js needs nothing from it."""
    sources = [t.get("src", "") for t in _tags(client_with(ASSETS_FROM_CDN=True)).scripts]
    htmx = next(i for i, src in enumerate(sources) if src.startswith(CDN) and "htmx" in src)
    fallback = sources.index("/static/js/cdn-fallback.js")
    assert htmx < fallback < sources.index("/static/js/app.js")
    assert all("defer" in t for t in _tags(client_with(ASSETS_FROM_CDN=True)).scripts if t.get("src"))


def test_local_assets_need_no_fallback(client_with):
    client = client_with(ASSETS_FROM_CDN=False)
    page = _tags(client)
    assert not [t for t in page.scripts + page.sheets if CDN in (t.get("src") or t.get("href") or "")]
    assert "/static/js/cdn-fallback.js" not in [t.get("src") for t in page.scripts]
    for tag in [t for t in page.scripts if "vendor/" in t.get("src", "")] + [
        t for t in page.sheets if "vendor/" in t["href"]
    ]:
        assert "data-fallback" not in tag
        assert sri_sha384(client.get(tag.get("src") or tag["href"]).data) == tag["integrity"]
