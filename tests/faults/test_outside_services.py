"""The outside services failing while the app works: Claude overloaded,
failing and slow; SerpAPI down; YouTube's quota running out and YouTube
answering 5xx in the middle of a sync. Each on the real stack, each
checked from the database: every run and sync reaches a final state (or
resumes), nothing twice, no history lost, no 500 on the pages watched."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from tests.fakes.google import fake_google_fixture
from tests.faults import decide, steps
from tests.faults.stack import PageWatch, free_port, sql

fake_google = fake_google_fixture()
VIDEOS = 6


def _batch(services, stack, fake_claude) -> tuple[int, list[dict]]:
    """A creator optimizes VIDEOS demo videos while the run page is watched."""
    http = steps.creator(stack)
    channel = steps.demo_channel(http, stack)
    run_id = steps.optimize(http, stack, channel, count=VIDEOS)
    with PageWatch(http, stack.base_url, [f"/channels/{channel}/runs/{run_id}", f"/channels/{channel}"]) as watch:
        steps.wait_for_run_final(services.database_url, run_id)
    watch.assert_no_500()
    steps.assert_run_whole(services.database_url, run_id)
    steps.assert_no_stranded_work(services.database_url)
    decide.assert_ledger_matches(services.database_url, fake_claude)
    return run_id, sql(services.database_url, "SELECT engine, notes FROM suggestions WHERE run_id = %s", (run_id,))


@pytest.mark.parametrize("fault", ["overloaded", "api_error"])
def test_claude_overloaded_or_failing_gives_rule_based_suggestions(services, app_stack, fake_claude, fault):
    stack = app_stack(LLM_MAX_CONCURRENCY="2")
    fake_claude.inject(fault, times=1000)
    try:
        _, suggestions = _batch(services, stack, fake_claude)
    finally:
        fake_claude.reset_counters()
    assert {s["engine"] for s in suggestions} == {"heuristic"}
    assert all(any("rule-based suggestion" in note for note in s["notes"]) for s in suggestions)
    # The breaker opened after 5 failed calls: far fewer than 2 models x 6 videos were sent.
    [line] = sql(services.database_url, "SELECT count(*) AS n FROM usage_ledger WHERE service = 'anthropic'")
    assert 5 <= line["n"] < 2 * VIDEOS


def test_claude_slow_past_its_timeout_gives_rule_based_suggestions(services, app_stack, fake_claude):
    stack = app_stack(LLM_MAX_CONCURRENCY="2", ANTHROPIC_TIMEOUT_S="1")
    fake_claude.latency_s = 2.5
    try:
        _, suggestions = _batch(services, stack, fake_claude)
    finally:
        fake_claude.latency_s = 0.0
    assert {s["engine"] for s in suggestions} == {"heuristic"}
    outcomes = sql(services.database_url, "SELECT DISTINCT outcome FROM usage_ledger WHERE service = 'anthropic'")
    assert [o["outcome"] for o in outcomes] == ["timeout"]


def test_serpapi_down_still_gives_claude_suggestions(services, app_stack, fake_claude):
    stack = app_stack(SERPAPI_API_KEY="fault-suite-key", SERPAPI_BASE_URL=f"http://127.0.0.1:{free_port()}")
    _, suggestions = _batch(services, stack, fake_claude)
    assert {s["engine"] for s in suggestions} == {"claude"}
    assert fake_claude.total_calls == VIDEOS


TOKEN_KEY = Fernet.generate_key().decode()


def _youtube_stack(app_stack, fake_google, *names, wait: bool = True):
    return app_stack(*names, wait=wait, **fake_google.settings(), TOKEN_ENCRYPTION_KEY=TOKEN_KEY)


def test_youtube_quota_exceeded_mid_sync_stops_and_the_next_sync_resumes(services, app_stack, fake_google):
    channel_yt = fake_google.world.add_channel("owner-quota", n_videos=200)
    web = _youtube_stack(app_stack, fake_google, "web", "cron")
    http = steps.creator(web)
    channel = decide.connect_youtube(http, web, fake_google, "owner-quota")  # its first sync waits for a worker
    # Enough for channels.list and two pages (playlistItems + videos) of the four.
    fake_google.quota.daily_limit = fake_google.quota.used() + 1 + 2 * 2
    with PageWatch(http, web.base_url, [f"/channels/{channel}", "/channels"]) as watch:
        _youtube_stack(app_stack, fake_google, "worker", wait=False)
        [first] = decide.wait_for_sync_final(services.database_url, channel, steps.RECOVERY_S)
        assert first["status"] == "quota_exceeded", first
        assert len(sql(services.database_url, "SELECT id FROM videos WHERE channel_id = %s", (channel,))) == 100

        fake_google.quota.daily_limit = 10_000  # a new day's quota
        assert decide.press(http, web, f"/channels/{channel}/sync", f"/channels/{channel}").status_code == 302
        runs = decide.wait_for_sync_final(services.database_url, channel, steps.RECOVERY_S)
    watch.assert_no_500()
    assert [r["status"] for r in runs] == ["quota_exceeded", "succeeded"]
    decide.assert_videos_whole(services.database_url, channel, set(channel_yt.video_ids))
    steps.assert_no_stranded_work(services.database_url)


def test_youtube_5xx_mid_sync_is_retried_and_the_sync_finishes(services, app_stack, fake_google):
    channel_yt = fake_google.world.add_channel("owner-5xx", n_videos=120)
    web = _youtube_stack(app_stack, fake_google, "web", "cron")
    http = steps.creator(web)
    channel = decide.connect_youtube(http, web, fake_google, "owner-5xx")
    # More failures in a row than the client's own retries: the job fails and RQ runs it again.
    fake_google.faults.inject("backendError", times=4, endpoint="videos.list")
    with PageWatch(http, web.base_url, [f"/channels/{channel}"]) as watch:
        _youtube_stack(app_stack, fake_google, "worker", wait=False)
        runs = decide.wait_for_sync_final(services.database_url, channel, steps.RECOVERY_S)
    watch.assert_no_500()
    assert [r["status"] for r in runs] == ["succeeded"], runs
    assert fake_google.faults.pending == 0
    decide.assert_videos_whole(services.database_url, channel, set(channel_yt.video_ids))
    steps.assert_no_stranded_work(services.database_url)
