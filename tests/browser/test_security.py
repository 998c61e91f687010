"""What a hostile title, a hostile model answer or a forged request can do
in a real browser: nothing. Text shows literally, no script runs, no dialog
opens, and htmx requests carry the CSRF token that a forged POST lacks."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    CSRF_HEADER,
    connect_youtube_channel,
    csrf_token,
    demo_channel,
    open_video,
    register,
    reload_until,
    video_links,
    video_table,
)
from tests.fakes.anthropic import default_answer

pytestmark = pytest.mark.browser

XSS_TITLE = "<img src=x onerror=alert(1)>"
XSS_DESCRIPTION = "Watch this: <script>alert(2)</script> and <b>bold</b>"
SCRIPT = "<script>alert(1)</script>"
JOB_TIMEOUT_S = 30


def _owner() -> str:
    return f"owner-{uuid.uuid4().hex[:8]}"


def _scripts_mentioning(page, text: str) -> int:
    """<script> elements in the DOM whose code contains ``text``."""
    return page.evaluate("t => [...document.scripts].filter(s => s.text.includes(t)).length", text)


def _injected_images(page) -> int:
    return page.locator('img[src="x"], img[onerror]').count()


def test_a_video_title_holding_html_shows_as_text_and_runs_nothing(page, live, watch, fake_google):
    owner = _owner()
    channel = fake_google.world.add_channel(owner, "Hostile Kitchen", n_videos=2)
    fake_google.world.add_video(channel.id, title=XSS_TITLE, description=XSS_DESCRIPTION, tags=["<b>tag</b>"])

    register(page)
    connect_youtube_channel(page, fake_google, owner)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hostile Kitchen")
    # The first sync runs in the worker; the table shows what it stored.
    reload_until(page, lambda: expect(video_links(page)).to_have_count(3, timeout=1_000), timeout=JOB_TIMEOUT_S)
    expect(video_table(page).get_by_role("link", name=XSS_TITLE, exact=True)).to_have_text(XSS_TITLE)
    for link in page.get_by_role("link", name=XSS_TITLE, exact=True).all():  # the summary lists it too
        expect(link).to_have_text(XSS_TITLE)
    assert _injected_images(page) == 0

    # Searching for it echoes the text back in an htmx-swapped fragment.
    page.get_by_role("searchbox", name="Search titles").fill(XSS_TITLE)
    expect(page.get_by_text(f"1 video matching “{XSS_TITLE}”")).to_be_visible()
    expect(video_links(page)).to_have_count(1)
    assert _injected_images(page) == 0

    open_video(page, XSS_TITLE)
    expect(page.get_by_role("heading", level=1)).to_have_text(XSS_TITLE)
    expect(page.get_by_text(XSS_DESCRIPTION)).to_be_visible()
    expect(page.get_by_text("<b>tag</b>", exact=True)).to_be_visible()
    assert page.title().startswith(XSS_TITLE)
    assert _injected_images(page) == 0
    assert page.locator("main b").count() == 0
    assert _scripts_mentioning(page, "alert(") == 0

    watch.assert_clean()


def _answer_with_script(body: dict) -> dict:
    """A valid answer (the titles, description and tags pass YouTube's limits)
    whose free-text fields, which YouTube never sees, hold a script tag."""
    answer = default_answer(body)
    answer["primary_keyword"] = SCRIPT
    answer["titles"] = [{**t, "rationale": f"Because {SCRIPT}"} for t in answer["titles"]]
    answer["description_rationale"] = f"Why {SCRIPT}"
    answer["tags_rationale"] = f"Tags {SCRIPT}"
    return answer


def test_a_model_answer_holding_a_script_tag_shows_as_text_and_runs_nothing(page, live, watch, fake_anthropic):
    fake_anthropic.respond_with(_answer_with_script)
    fake_anthropic.latency_s = 1.0  # the run page is up, waiting, when the answer arrives through htmx

    register(page)
    demo_channel(page)
    open_video(page)
    video_url = page.url
    page.get_by_role("button", name="Optimize this video").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))

    expect(page.get_by_text("Done: 1 suggestion ready.")).to_be_visible(timeout=JOB_TIMEOUT_S * 1000)
    expect(page.get_by_text(f"Keyword: {SCRIPT}")).to_have_count(0)  # markup never becomes the public keyword
    assert fake_anthropic.total_calls >= 1
    assert _scripts_mentioning(page, "alert(1)") == 0

    # The video page shows the suggestion under review with its reasons, and
    # what the filter left out, all as text.
    page.goto(video_url)
    expect(page.get_by_text(f"Because {SCRIPT}").first).to_be_visible()
    page.get_by_text("Left out for safety").click()
    expect(page.get_by_text("The keyword:").first).to_be_visible()  # its brackets were mended away first
    assert _scripts_mentioning(page, "alert(1)") == 0

    watch.assert_clean()


def _htmx_requests(page) -> list:
    recorded = []
    page.on("request", lambda request: recorded.append(request) if request.headers.get("hx-request") else None)
    return recorded


def test_htmx_requests_carry_the_pages_csrf_token(page, live, watch, fake_google):
    owner = _owner()
    fake_google.world.add_channel(owner, "Token Kitchen", n_videos=4)
    register(page)
    connect_youtube_channel(page, fake_google, owner)
    finished = page.get_by_role("status").filter(has_text="Last sync finished")
    expect(finished).to_be_visible(timeout=JOB_TIMEOUT_S * 1000)  # the first sync (the fragment polls itself)
    reload_until(page, lambda: expect(video_links(page)).to_have_count(4, timeout=1_000), timeout=JOB_TIMEOUT_S)
    token = csrf_token(page)
    assert token == page.locator('input[name="csrf_token"]').first.input_value()
    sent = _htmx_requests(page)

    # A GET through htmx: the search box.
    first_title = video_links(page).first.inner_text()
    page.get_by_role("searchbox", name="Search titles").fill(first_title)
    expect(page.get_by_text(re.compile(r"^\d+ videos? matching “"))).to_be_visible()
    expect(video_links(page).filter(has_text=first_title).first).to_be_visible()
    searches = [r for r in sent if r.method == "GET" and "q=" in r.url]
    assert searches, [r.url for r in sent]
    assert all(r.headers.get(CSRF_HEADER.lower()) == token for r in searches)

    # A POST through htmx: "Sync now" swaps the sync status in place.
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/sync")) as posted:
        page.get_by_role("button", name="Sync now").click()
    assert posted.value.status == 200
    assert posted.value.request.headers.get(CSRF_HEADER.lower()) == token
    assert posted.value.request.headers.get("hx-request") == "true"
    expect(page.get_by_role("status").filter(has_text=re.compile(r"Syncing: \d|Last sync finished"))).to_be_visible()
    live.wait_for_jobs()

    watch.assert_clean()


def _channel_rows(page):
    page.goto("/channels")
    return page.get_by_role("main").get_by_role("row").filter(has=page.get_by_role("link"))


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(logged_in_page, live, watch):
    page = logged_in_page
    expect(_channel_rows(page)).to_have_count(0)
    token = csrf_token(page)

    missing = page.request.post("/channels/demo", max_redirects=0)
    assert missing.status == 400
    assert "did not come from this site" in missing.text()
    forged = page.request.post(
        "/channels/demo", form={"csrf_token": "forged"}, headers={CSRF_HEADER: "forged"}, max_redirects=0
    )
    assert forged.status == 400
    expect(_channel_rows(page)).to_have_count(0)

    # The same request with the page's token (as htmx sends it) does add the demo channel.
    allowed = page.request.post("/channels/demo", headers={CSRF_HEADER: token}, max_redirects=0)
    assert allowed.status in (302, 303), allowed.text()
    expect(_channel_rows(page)).to_have_count(1)
    expect(_channel_rows(page)).to_contain_text("Kitchen Basics")

    watch.assert_clean()
