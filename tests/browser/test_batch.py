"""A batch of five in Chromium: select five videos, optimize them, accept
all, apply the accepted ones, and see every row applied and the channel
dashboard count them. The real server and worker do the work."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import demo_channel, register, video_table

pytestmark = pytest.mark.browser

JOB_TIMEOUT_MS = 45_000


def test_a_batch_of_five_accepted_and_applied_together(page, live, watch, shot):
    register(page)
    channel_id = demo_channel(page)
    rows = video_table(page).get_by_role("row")
    titles = []
    for row in rows.all()[1:6]:  # the first row is the header
        row.get_by_role("checkbox").check()
        titles.append(row.get_by_role("link").inner_text())
    page.get_by_role("button", name="Optimize selected").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    expect(page.get_by_text("Done: 5 suggestions ready.")).to_be_visible(timeout=JOB_TIMEOUT_MS)

    batch = page.locator("table.batch-table tbody tr")
    expect(batch).to_have_count(5)
    for title in titles:
        expect(batch.filter(has_text=title)).to_contain_text("Pending")
    accept_all = page.get_by_role("button", name="Accept all pending (5)")
    accept_all.focus()
    page.keyboard.press("Enter")  # keyboard works as well as the mouse
    expect(page.get_by_text("Accepted 5 suggestions.")).to_be_visible()
    expect(page.get_by_role("button", name="Apply accepted (5)")).to_be_enabled()
    expect(page.get_by_role("button", name="Accept all pending (0)")).to_be_disabled()
    shot(page, "optimization")

    page.get_by_role("button", name="Apply accepted (5)").click()
    expect(page.get_by_text("Applying 5 changes.")).to_be_visible()
    # Each row's state follows its apply job; the table stops refreshing when all are done.
    for title in titles:
        expect(batch.filter(has_text=title).locator(".state")).to_have_text("Applied", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#run-progress[hx-trigger]")).to_have_count(0)

    page.goto(f"/channels/{channel_id}")
    dashboard = page.get_by_role("region", name="Channel summary")
    expect(dashboard.locator("article").filter(has_text="applied this month")).to_have_text(
        re.compile(r"^\s*5\s*changes applied this month")
    )
    expect(dashboard.locator("article").filter(has_text="waiting for a decision")).to_have_text(
        re.compile(r"^\s*0\s*suggestions waiting for a decision")
    )
    watch.assert_clean()


def test_at_phone_width_each_row_shows_its_state_and_decision(page, live, watch):
    """390 px wide (a phone): the batch table's rows become cards, so the
    state and the Accept/Apply/Reject buttons are on screen, not scrolled off."""
    page.set_viewport_size({"width": 390, "height": 844})
    register(page)
    demo_channel(page)
    video_table(page).get_by_role("row").nth(1).get_by_role("checkbox").check()
    page.get_by_role("button", name="Optimize selected").click()
    expect(page.get_by_text("Done: 1 suggestion ready.")).to_be_visible(timeout=JOB_TIMEOUT_MS)

    row = page.locator("table.batch-table tbody tr").first
    for cell in (
        row.locator(".state"),
        row.get_by_role("button", name=re.compile(r"^Accept:")),
        row.get_by_role("button", name=re.compile(r"^Reject:")),
    ):
        expect(cell).to_be_visible()
        box = cell.bounding_box()  # where it is drawn, without scrolling the table sideways
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing pushes the page sideways
    watch.assert_clean()
