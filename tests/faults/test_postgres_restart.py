"""PostgreSQL killed (kill -9 of the postmaster and its backends) and
started again: while pages load, during a batch, during an apply.

What must hold (issue 11, item 5 and the paid answers of item 7): every
answer is a page or a 503 with Retry-After, never a 500; the broken
connections are dropped and the pages load again once the server is back;
the batch finishes with one suggestion per video and Claude asked once per
video (an answer that arrived while the database was away is kept and
used by the retry); every apply finishes once, with history whole."""

from __future__ import annotations

import time

import requests

from optimizer.pipeline import KEPT_NOTE
from tests.faults import decide, steps
from tests.faults.stack import PageWatch, sql, wait_for

OUTAGE_S = 3


def _outage(services, seconds: float = OUTAGE_S) -> None:
    services.kill_postgres()
    time.sleep(seconds)
    services.start_postgres()


def _all_load(http: requests.Session, base_url: str, paths: list[str]) -> bool:
    try:
        return all(http.get(base_url + path, timeout=10).status_code == 200 for path in paths)
    except requests.RequestException:
        return False


def test_postgres_killed_while_pages_load(services, app_stack):
    stack = app_stack("web")
    http = steps.creator(stack)
    channel = steps.demo_channel(http, stack)
    [video] = sql(services.database_url, "SELECT min(id) AS id FROM videos")
    paths = [f"/channels/{channel}", f"/channels/{channel}/videos/{video['id']}", "/dashboard"]
    history = steps.history_counts(services.database_url)

    with PageWatch(http, stack.base_url, paths, every_s=0.1) as watch:
        time.sleep(1)
        _outage(services)
        wait_for(lambda: _all_load(http, stack.base_url, paths), 30, "every page to load again")
    watch.assert_no_500()
    refused = [status for _, status in watch.statuses if status == 503]
    assert refused, "no page was refused while the database was away: the fault was not seen"
    assert steps.history_counts(services.database_url) == history


def test_postgres_killed_during_a_batch_asks_claude_once_per_video(services, app_stack, fake_claude):
    fake_claude.latency_s = 1.0
    try:
        stack = app_stack(LLM_MAX_CONCURRENCY="1")
        http = steps.creator(stack)
        channel = steps.demo_channel(http, stack)
        run_id = steps.optimize(http, stack, channel, count=5)
        with PageWatch(http, stack.base_url, [f"/channels/{channel}/runs/{run_id}"]) as watch:
            steps.wait_for_run_progress(services.database_url, run_id, done=2)
            wait_for(lambda: fake_claude.in_flight_now, 10, "a Claude call in flight", interval=0.02)
            _outage(services)  # its answer arrives while the database is away
            steps.wait_for_run_final(services.database_url, run_id)
        watch.assert_no_500()
    finally:
        fake_claude.latency_s = 0.0
    steps.assert_run_whole(services.database_url, run_id)
    steps.assert_no_stranded_work(services.database_url)
    assert fake_claude.total_calls == 5, "a paid answer was asked for again"
    [kept] = sql(
        services.database_url,
        "SELECT count(*) AS n FROM suggestions WHERE run_id = %s AND %s = ANY(notes)",
        (run_id, KEPT_NOTE),
    )
    assert kept["n"] == 1, "the answer in flight at the kill was not the one kept and used"
    decide.assert_ledger_matches(services.database_url, fake_claude)


def test_postgres_killed_during_an_apply_applies_each_once(services, app_stack):
    stack = app_stack()
    http = steps.creator(stack)
    channel = steps.demo_channel(http, stack)
    run_id = steps.optimize(http, stack, channel, count=6)
    steps.wait_for_run_final(services.database_url, run_id)
    history = steps.history_counts(services.database_url)

    with PageWatch(http, stack.base_url, [f"/channels/{channel}/runs/{run_id}"]) as watch:
        decide.accept_and_apply(http, stack, channel, run_id)
        _outage(services)
        applies = decide.wait_for_applies_final(services.database_url, run_id, steps.RECOVERY_S)
    watch.assert_no_500()
    assert [a["status"] for a in applies] == ["applied"] * 6, applies
    after = steps.history_counts(services.database_url)
    assert all(after.get(video, 0) >= n for video, n in history.items()), "a history version was lost"
    versions = sql(
        services.database_url,
        """SELECT suggestion_id, count(*) AS n FROM metadata_versions
                                             WHERE source = 'apply' GROUP BY suggestion_id""",
    )
    assert sorted(v["suggestion_id"] for v in versions) == sorted(a["id"] for a in applies)
    assert {v["n"] for v in versions} == {1}, versions  # each change written once
    steps.assert_no_stranded_work(services.database_url)
