"""A browser that cannot reach the CDN (a firewalled office, a flaky network)
still gets htmx and the styles: the pinned local copies stand in
(static/js/cdn-fallback.js), under the same CSP. The CDN is blocked in the
browser itself, so the test does not depend on whether this machine could
reach it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from reliability.config import ROOT
from tests.browser.conftest import DEFAULT_TIMEOUT_MS, VIEWPORT
from tests.browser.helpers import demo_channel, register, serve_youtube_images, video_links
from webapp import ASSETS

pytestmark = pytest.mark.browser

CDN_HOST = re.compile(r"^https://cdn\.jsdelivr\.net/")
CONTENT_TYPES = {"htmx": "application/javascript", "pico": "text/css"}
PICO_PRIMARY_HEX, PICO_PRIMARY_RGB = "#0172ad", "rgb(1, 114, 173)"  # Pico 2's light theme


@pytest.fixture
def cdn_page(browser, live, watch, cdn_server_url):
    """``cdn_page(reachable)``: a page of the ASSETS_FROM_CDN server in a
    browser whose requests to the CDN fail as they do behind a firewall, or,
    with ``reachable``, are answered with the pinned files as jsDelivr would.
    The CDN URLs it asked for are in ``page.cdn_requests``, the local copies
    in ``page.vendor_requests``."""
    contexts = []

    def make(reachable: bool = False):
        ctx = browser.new_context(base_url=cdn_server_url, viewport=VIEWPORT)
        contexts.append(ctx)
        ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
        ctx.on("page", watch.attach)
        serve_youtube_images(ctx)
        page = ctx.new_page()
        page.cdn_requests, page.vendor_requests = [], []
        page.on("request", lambda r: "/static/vendor/" in r.url and page.vendor_requests.append(r.url))

        def cdn(route):
            page.cdn_requests.append(route.request.url)
            if not reachable:
                route.abort("connectionrefused")
                return
            name = next(n for n, entry in ASSETS.items() if entry["url"] == route.request.url)
            route.fulfill(
                status=200,
                body=(ROOT / "static" / ASSETS[name]["local"]).read_bytes(),
                content_type=CONTENT_TYPES[name],
                headers={"Access-Control-Allow-Origin": "*"},
            )

        ctx.route(CDN_HOST, cdn)
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def _pico_variable(page, name: str) -> str:
    return page.evaluate("n => getComputedStyle(document.documentElement).getPropertyValue(n).trim()", name)


def _problems(watch) -> list[str]:
    """Console errors other than the CDN's failed loads (which a user behind
    a firewall sees too), and every page error and dialog."""
    other = [e for e in watch.console_errors if not ("Failed to load resource" in e and "cdn.jsdelivr.net" in e)]
    return other + watch.page_errors + watch.dialogs


def _assert_styled(page) -> None:
    """Pico applied: its variables, font and button colour (retried: Pico's
    transition animates the colour in)."""
    assert _pico_variable(page, "--pico-font-family"), "Pico's variables are not defined"
    assert _pico_variable(page, "--pico-primary-background") == PICO_PRIMARY_HEX
    expect(page.locator("body")).to_have_css("font-family", re.compile(r"^system-ui"))
    expect(page.get_by_role("main").get_by_role("button", name="Create account")).to_have_css(
        "background-color", PICO_PRIMARY_RGB
    )


def _assert_htmx_searches(page) -> None:
    """On the demo channel's page, typing in the search box filters the
    table: an htmx request and swap (the box has no submit button, so
    without htmx typing does nothing). htmx runs with our config from the
    <meta> tag, allowEval off, however late it arrived."""
    demo_channel(page)
    page.wait_for_function("() => window.htmx !== undefined")
    assert page.evaluate("htmx.config.allowEval") is False
    assert video_links(page).count() > 1
    first = video_links(page).first.inner_text().strip()
    with page.expect_request(lambda r: "q=" in r.url and r.headers.get("hx-request") == "true"):
        page.get_by_role("searchbox", name="Search titles").fill(first)
    expect(page.get_by_text(re.compile(r"^\d+ videos? matching"))).to_be_visible()
    expect(video_links(page)).to_have_count(1)


def test_without_the_cdn_the_local_copies_give_styles_and_htmx(cdn_page, watch):
    page = cdn_page(reachable=False)
    page.goto("/register")
    assert sorted(Path(url).name for url in page.cdn_requests) == ["htmx.min.js", "pico.min.css"]

    _assert_styled(page)
    register(page)
    _assert_htmx_searches(page)
    # every page's layout (templates/base.html) loads these two; the API reference pages' assets are their own
    assert {Path(url).name for url in page.vendor_requests} == {Path(ASSETS[k]["local"]).name for k in ("htmx", "pico")}

    assert not [e for e in watch.console_errors if "Content Security Policy" in e], watch.console_errors
    assert not _problems(watch), _problems(watch)


def test_with_the_cdn_no_local_copy_is_loaded(cdn_page, watch):
    page = cdn_page(reachable=True)
    page.goto("/register")
    _assert_styled(page)
    register(page)
    _assert_htmx_searches(page)
    assert len(page.cdn_requests) >= 2
    assert page.vendor_requests == []
    watch.assert_clean()
