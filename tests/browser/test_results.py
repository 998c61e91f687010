"""The demo channel's results in Chromium under the real CSP: the Results
page and the changed video's chart render with no console error (a CSP
violation is one), the chart keeps to a phone's width, and the README's
screenshots of both are taken (``make screenshots``)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from optimizer import demo
from tests.browser.helpers import demo_channel, register

pytestmark = pytest.mark.browser


def test_demo_results_page_and_the_changed_videos_chart(page, live, watch, shot):
    register(page)
    channel_id = demo_channel(page)

    page.get_by_role("link", name="Results", exact=True).click()
    expect(page.get_by_role("heading", name="Did the changes help?", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/channels/{channel_id}/results$"))
    rows = page.locator("table.results-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Helped")
    expect(page.get_by_role("img", name=re.compile("Optimizations per day"))).to_be_visible()
    shot(page, "results")

    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Did the change help?")).to_be_visible()
    chart = page.get_by_role("img", name=re.compile("with and without the change"))
    expect(chart).to_be_visible()
    expect(page.locator("#experiment")).to_contain_text("This change helped")
    assert page.locator("#experiment polyline.chart-actual").count() >= 1
    # Styled by the stylesheet (no style attribute is allowed): the lines are drawn, not filled black.
    assert page.locator("#experiment polyline.chart-actual").first.evaluate("e => getComputedStyle(e).fill") == "none"
    page.set_viewport_size({"width": 1280, "height": 1000})  # the whole section in one picture
    page.locator("#experiment").evaluate("e => e.scrollIntoView()")
    shot(page, "experiment", full_page=False)

    page.set_viewport_size({"width": 390, "height": 844})
    box = chart.bounding_box()
    assert box is not None and box["width"] <= 390, box
    # The section keeps to the phone's width, its hidden data table too (clipped in a 1px box). (The rest of
    # the video page is not this test's: its description and tables are wider than a phone.)
    section = page.locator("#experiment")
    assert section.evaluate("e => e.scrollWidth <= e.clientWidth + 1 && e.getBoundingClientRect().right <= 391")

    watch.assert_clean()
    assert demo.CHANNEL_TITLE in page.content()
