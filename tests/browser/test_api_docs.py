"""Swagger UI (/api/docs) and ReDoc (/api/redoc) render the API's operations
in Chromium under their own CSP, from the vendored files, with no console
error (a CSP violation is one) and nothing fetched from another origin."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _same_origin_only(page, base_url: str) -> list[str]:
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: r.url.startswith(("http:", "https:")) and not r.url.startswith(base_url) and elsewhere.append(r.url),
    )
    return elsewhere


def test_swagger_ui_lists_every_operation(page, live, watch):
    elsewhere = _same_origin_only(page, live.url)
    page.goto(f"{live.url}/api/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.get_by_text("/api/v1/videos/batch-optimize", exact=True)).to_be_visible()
    assert page.locator(".opblock").count() >= 21
    assert elsewhere == []
    watch.assert_clean()


# ReDoc 2 always shows its maker's logo from their CDN; the page's CSP
# (img-src 'self' data:) refuses it, so a reader's address goes to no third
# party, and ReDoc hides the broken image itself.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_redoc_shows_the_operations(page, live, watch):
    elsewhere = _same_origin_only(page, live.url)
    page.goto(f"{live.url}/api/redoc")
    expect(page.get_by_role("heading", name="Optimize a batch of one channel's videos")).to_be_visible()
    assert set(elsewhere) <= {REDOC_LOGO}
    expect(page.locator(f'img[src="{REDOC_LOGO}"]')).to_have_count(0)
    assert all(REDOC_LOGO in error for error in watch.console_errors), watch.console_errors
    watch.console_errors.clear()
    watch.assert_clean()
