"""A creator's whole journey in Chromium: register, add the demo channel,
optimize a video with Claude (the local fake), apply the suggestion, see the
new title and the history, compare versions, restore the old title.

The real web server and a real RQ worker do everything; the test only
clicks, types and reads. It also takes the README's screenshots
(``make screenshots``)."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    demo_channel,
    login,
    open_video,
    register,
    reload_until,
    video_links,
    video_table,
    wait_until,
)
from tests.fakes.anthropic import default_answer

pytestmark = pytest.mark.browser

NEW_TITLES = [
    "Lemon Garlic Chicken in One Pan: Ready in 30 Minutes",
    "How to Make One-Pan Lemon Garlic Chicken (Step by Step)",
    "One-Pan Chicken Explained: What Nobody Tells You",
]
EDITED_TITLE = "One-Pan Lemon Garlic Chicken: My Weeknight Favourite"
JOB_TIMEOUT_MS = 30_000


def _answer_with_known_titles(body: dict) -> dict:
    """Claude's usual answer for the video asked about, with title options the test knows."""
    answer = default_answer(body)
    answer["titles"] = [{"title": t, "rationale": "Leads with what viewers search for."} for t in NEW_TITLES]
    return answer


def _history(page):
    """The video page's History section."""
    return page.locator("section").filter(has=page.get_by_role("heading", name="History", exact=True))


def test_register_optimize_apply_compare_and_restore(page, live, watch, shot, fake_anthropic):
    fake_anthropic.respond_with(_answer_with_known_titles)
    heading = page.get_by_role("heading", level=1)

    email = register(page)
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()
    shot(page, "dashboard")

    demo_channel(page)
    expect(video_links(page)).to_have_count(48)
    page.get_by_label("Sort").select_option(label="Lowest SEO score")  # htmx swaps the table, pushes the URL
    expect(page).to_have_url(re.compile(r"sort=seo"))
    for box in video_table(page).get_by_role("checkbox").all()[:3]:
        box.check()
    page.evaluate("window.scrollTo(0, 0)")  # the dashboard and the first rows
    shot(page, "channel", full_page=False)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Channels").click()
    expect(heading).to_have_text("Channels")
    channel_link = page.get_by_role("main").get_by_role("link", name=re.compile("Kitchen Basics"))
    expect(channel_link).to_be_visible()
    shot(page, "channels")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "phone-channels")
    page.set_viewport_size({"width": 1280, "height": 860})

    channel_link.click()
    old_title = open_video(page)
    video_url = page.url
    assert old_title not in NEW_TITLES

    page.get_by_role("button", name="Optimize this video").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    # The run page refreshes itself (htmx) until the worker has made the suggestion.
    row = page.get_by_role("row").filter(has_text=NEW_TITLES[0])
    expect(row).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_text("Done: 1 suggestion ready.")).to_be_visible()
    expect(row).to_contain_text("Claude")

    # Review on the video page: pick the second title, then edit it by hand.
    page.goto(video_url)
    panel = page.locator("section.review-panel")
    expect(panel.get_by_role("heading", name=re.compile("Suggestion"))).to_contain_text("Pending")
    panel.get_by_label(NEW_TITLES[1]).check()
    title_box = panel.get_by_label("Your own title")
    expect(title_box).to_have_value(NEW_TITLES[1])  # picking a ranked title copies it into the box
    title_box.fill("x" * 101)  # typing selects "Write my own"; the live check answers while typing
    expect(panel.get_by_label("Write my own")).to_be_checked()
    expect(panel.locator(".counter.over")).to_have_text("101 / 100 characters")
    expect(panel.get_by_text("YouTube allows 100")).to_be_visible()
    title_box.fill(EDITED_TITLE)
    expect(panel.get_by_text("Within YouTube's limits.")).to_be_visible()
    expect(
        panel.get_by_role("insertion").filter(has_text="Weeknight").first
    ).to_be_visible()  # the diff against the current title
    shot(page, "review")
    panel.get_by_role("button", name="Apply to YouTube").click()
    # The panel follows the apply job by itself and reloads the page when the change has landed.
    expect(heading).to_have_text(EDITED_TITLE, timeout=JOB_TIMEOUT_MS)
    history = _history(page)
    expect(history.get_by_role("row").filter(has_text=EDITED_TITLE)).to_contain_text("Applied suggestion")
    expect(history.get_by_role("row").filter(has_text=old_title)).to_have_count(1)
    shot(page, "video")

    # Compare the two versions (htmx swaps the word diff in and pushes its URL).
    history.get_by_role("button", name="Compare").click()
    expect(page).to_have_url(re.compile(r"/compare\?"))
    expect(page.get_by_role("insertion").filter(has_text="Weeknight").first).to_be_visible()
    expect(page.get_by_role("deletion").first).to_be_visible()
    page.reload()  # the pushed URL is a page of its own
    expect(heading).to_have_text("Compare versions")
    expect(page.get_by_role("insertion").filter(has_text="Weeknight").first).to_be_visible()
    shot(page, "compare")

    page.goto(video_url)
    _history(page).get_by_role("row").filter(has_text=old_title).get_by_role("button", name="Restore").click()
    expect(page.get_by_text("Restoring version 1.")).to_be_visible()
    reload_until(page, lambda: expect(heading).to_have_text(old_title, timeout=1_000), timeout=JOB_TIMEOUT_MS / 1000)
    restored = _history(page).get_by_role("row").filter(has_text=old_title)
    expect(restored).to_have_count(2)  # the demo's original and the restore of it
    expect(restored.first).to_contain_text("Restore")

    # Everything is still there after logging out and in again.
    page.get_by_role("button", name="Log out").click()
    login(page, email)
    expect(page.get_by_role("main").get_by_role("link", name=re.compile("Kitchen Basics"))).to_be_visible()

    watch.assert_clean()


def test_connect_button_reaches_google_and_comes_back_connected(page, live, watch, fake_google):
    owner = f"owner-{uuid.uuid4().hex[:8]}"
    fake_google.world.add_channel(owner, "Button Kitchen", n_videos=1)
    fake_google.oauth.consent(owner)
    register(page)
    page.goto("/channels")

    page.get_by_role("button", name="Connect a YouTube channel").click()
    # Google's fake consents at once and sends the browser back to the app's callback.
    wait_until(
        lambda: re.search(r"/channels/\d+", page.url) or watch.console_errors,
        15,
        "the channel page or an error",
        page=page,
    )
    watch.assert_clean()
    expect(page.get_by_role("heading", level=1)).to_have_text("Button Kitchen")
