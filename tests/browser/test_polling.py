"""Fragments that follow slow work (a run, an apply, a sync) keep following
it through a lost poll: a flaky network or a busy server's 503 once ended
the chain, and "Working..." stayed on screen for good (static/js/app.js)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Route, expect

from tests.browser.helpers import demo_channel, open_video, register
from tests.fakes.anthropic import default_answer

pytestmark = pytest.mark.browser

JOB_TIMEOUT_MS = 30_000
CLAUDE_SECONDS = 4  # long enough that the run page polls while the job works
RETRY_AFTER_S = 7


def _slow_answer(body: dict) -> dict:
    time.sleep(CLAUDE_SECONDS)
    return default_answer(body)


def test_the_run_page_keeps_following_the_job_through_a_lost_poll_and_a_503_with_retry_after(
    page, live, fake_anthropic
):
    fake_anthropic.respond_with(_slow_answer)
    register(page)
    demo_channel(page)
    open_video(page)
    refused: list[str] = []
    polled_at: list[float] = []

    def flaky(route: Route) -> None:
        polling = route.request.headers.get("hx-request") == "true"
        if polling:
            polled_at.append(time.monotonic())
        if polling and not refused:
            refused.append("network")
            route.abort("connectionreset")
        elif polling and len(refused) == 1:
            refused.append("503")
            route.fulfill(
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
                content_type="application/json",
                body='{"error": {"message": "Busy."}}',
            )
        else:
            route.continue_()

    page.route(re.compile(r"/runs/\d+$"), flaky)
    page.get_by_role("button", name="Optimize this video").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    expect(page.get_by_text(re.compile("Working"))).to_be_visible()
    expect(page.get_by_text("Done: 1 suggestion ready.")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    assert refused == ["network", "503"]
    # The server's Retry-After outlasts the pause the retries would take (4 s after a second failure).
    assert polled_at[2] - polled_at[1] >= RETRY_AFTER_S - 0.5, polled_at
