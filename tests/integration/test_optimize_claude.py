"""Optimizing demo-channel videos with Claude: the Anthropic and SerpAPI
fakes on real HTTP, the web app's own pages and forms, and real RQ worker
processes. Nothing of the project is patched; configuration (the app's, and
the worker's environment) and the fakes steer what happens."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
import redis
from rq import Queue, Worker
from rq.registry import StartedJobRegistry

from optimizer import limits
from optimizer.pricing import Usage, cost_usd
from reliability import db
from tests.fakes.anthropic import default_answer, fake_anthropic_fixture
from tests.fakes.serpapi import fake_serpapi_fixture
from tests.integration.channel_helpers import user_client
from tests.integration.optimize_helpers import (
    import_demo,
    kill_tree,
    optimize,
    optimize_form,
    query,
    run_id_of,
    start_worker,
    stop_process,
    wait_for,
)
from tests.integration.youtube_helpers import page_text, run_worker_burst

PRIMARY, FALLBACK = "claude-sonnet-4-6", "claude-haiku-4-5"
REUSED_NOTE = "Reused the answer for the same video version: no new call was made."

fake_anthropic = fake_anthropic_fixture()
fake_serpapi = fake_serpapi_fixture()


@pytest.fixture
def config(app_config, fake_anthropic):
    """The app and its workers pointed at the Anthropic fake; no SerpAPI key
    unless a test adds one (an empty value is "not set")."""
    return {
        **app_config,
        **fake_anthropic.settings(),
        "ANTHROPIC_MODEL": PRIMARY,
        "ANTHROPIC_FALLBACK_MODELS": [FALLBACK],
        "ANTHROPIC_TIMEOUT_S": 20,
        "SERPAPI_API_KEY": "",
    }


def _site(config: dict) -> SimpleNamespace:
    from webapp import create_app

    app = create_app(config)
    client = user_client(app, "creator@example.com")
    channel = import_demo(client)
    _, _, ids = optimize_form(client, channel)
    return SimpleNamespace(app=app, client=client, channel=channel, ids=ids)


@pytest.fixture
def make_site(config):
    """``make_site(app_config)``: a creator logged in to an app made with that
    configuration, with the demo channel imported."""
    yield _site
    db.dispose_pool()


@pytest.fixture
def site(make_site, config):
    return make_site(config)


def _sql(config: dict, statement: str, params=()) -> list[dict]:
    return query(config["DATABASE_URL"], statement, params)


def _work(config: dict) -> None:
    result = run_worker_burst(config)
    assert result.returncode == 0, result.stderr[-3000:]


def _ask(site, config: dict, video_ids: list[int]) -> int:
    """Press Optimize for ``video_ids`` and let a real worker do the run."""
    response = optimize(site.client, site.channel, video_ids)
    assert response.status_code == 303, response.get_data(as_text=True)
    _work(config)
    return run_id_of(response)


def _suggestion(config: dict, run_id: int) -> dict:
    [row] = _sql(config, "SELECT * FROM suggestions WHERE run_id = %s", (run_id,))
    return row


def _ledger(config: dict, service: str = "anthropic") -> list[tuple]:
    rows = _sql(config, "SELECT model, outcome FROM usage_ledger WHERE service = %s ORDER BY id", (service,))
    return [(r["model"], r["outcome"]) for r in rows]


def _run_page(site, run_id: int) -> str:
    return page_text(site.client.get(f"/channels/{site.channel}/runs/{run_id}"))


# -- 1. fallbacks through the real job ----------------------------------------


def test_overloaded_primary_model_is_answered_by_the_fallback(site, config, fake_anthropic):
    fake_anthropic.inject("overloaded", times=1, model=PRIMARY)
    run_id = _ask(site, config, [site.ids[0]])

    suggestion = _suggestion(config, run_id)
    assert (suggestion["engine"], suggestion["model"]) == ("claude", FALLBACK)
    assert dict(fake_anthropic.calls) == {PRIMARY: 1, FALLBACK: 1}
    # What is stored is the fallback model's own answer to this video's prompt.
    [asked] = fake_anthropic.requests_for(FALLBACK)
    assert suggestion["titles"] == default_answer(asked.json)["titles"]
    assert _ledger(config) == [(PRIMARY, "overloaded"), (FALLBACK, "ok")]
    page = _run_page(site, run_id)
    assert "Done: 1 suggestion ready." in page and FALLBACK in page and "Rule-based" not in page


def test_when_every_model_fails_the_rule_based_engine_answers(site, config, fake_anthropic):
    fake_anthropic.inject("overloaded", times=1, model=PRIMARY)
    fake_anthropic.inject("api_error", times=1, model=FALLBACK)
    run_id = _ask(site, config, [site.ids[0]])

    suggestion = _suggestion(config, run_id)
    assert (suggestion["engine"], suggestion["model"]) == ("heuristic", None)
    assert (
        "Claude was busy (overloaded), then had a server error, so this is the rule-based suggestion."
        in suggestion["notes"]
    ), suggestion["notes"]
    assert limits.validate(suggestion["titles"][0]["title"], suggestion["description"], suggestion["tags"]) == []
    assert _ledger(config) == [(PRIMARY, "overloaded"), (FALLBACK, "server_error")]
    assert suggestion["cost_usd"] == 0
    page = _run_page(site, run_id)
    assert "Rule-based" in page and "Claude was busy (overloaded), then had a server error" in page
    assert "2 Claude calls failed ($0.0000), then rule-based" in page


def test_malformed_answer_is_repaired_by_the_same_model(site, config, fake_anthropic):
    fake_anthropic.inject("malformed_json", times=1, model=PRIMARY)
    run_id = _ask(site, config, [site.ids[0]])

    suggestion = _suggestion(config, run_id)
    assert (suggestion["engine"], suggestion["model"]) == ("claude", PRIMARY)
    assert dict(fake_anthropic.calls) == {PRIMARY: 2}
    first, repair = fake_anthropic.requests_for(PRIMARY)
    # The repair call carries the broken answer back with what was wrong with it.
    feedback = repair.json["messages"][-1]["content"][0]
    assert feedback["type"] == "tool_result" and feedback["is_error"] is True
    assert "titles must be three objects" in feedback["content"]
    assert repair.json["messages"][0] == first.json["messages"][0]
    assert _ledger(config) == [(PRIMARY, "invalid"), (PRIMARY, "ok")]
    assert len(suggestion["titles"]) == 3


def test_malformed_answer_and_malformed_repair_go_to_the_fallback(site, config, fake_anthropic):
    fake_anthropic.inject("malformed_json", times=2, model=PRIMARY)
    run_id = _ask(site, config, [site.ids[0]])

    suggestion = _suggestion(config, run_id)
    assert (suggestion["engine"], suggestion["model"]) == ("claude", FALLBACK)
    assert dict(fake_anthropic.calls) == {PRIMARY: 2, FALLBACK: 1}
    assert _ledger(config) == [(PRIMARY, "invalid"), (PRIMARY, "invalid"), (FALLBACK, "ok")]


def test_personal_data_in_a_description_never_reaches_claude(site, config, fake_anthropic):
    email, phone, secret = "maya.cooks@example.com", "+1 415-555-0123", "s3cr3t-T0KEN-value"
    link = f"https://shop.example.com/cart?token={secret}&ref=yt"
    video = site.ids[0]
    _sql(
        config,
        "UPDATE videos SET description = %s WHERE id = %s",
        (
            f"Recipe below!\nBusiness enquiries: {email}\nCall or text {phone}\nMy knives: {link}\n"
            "Subscribe for more: https://youtube.com/@kitchenbasics",
            video,
        ),
    )
    run_id = _ask(site, config, [video])

    sent = fake_anthropic.all_request_text()
    assert "Recipe below!" in sent  # the description was sent, scrubbed
    for private in (email, "maya.cooks", phone, "555-0123", secret, "token="):
        assert private not in sent, private
    for placeholder in (
        "[email removed]",
        "[phone removed]",
        "https://shop.example.com/[link with credentials removed]",
    ):
        assert placeholder in sent
    assert "https://youtube.com/@kitchenbasics" in sent  # a plain link is kept
    assert _suggestion(config, run_id)["engine"] == "claude"


# -- 2. cost ledger and cache ----------------------------------------------------


def test_tokens_and_cost_are_stored_and_shown_and_a_repeat_is_free(site, config, fake_anthropic):
    first_run = _ask(site, config, [site.ids[0]])
    first = _suggestion(config, first_run)
    usage = Usage(
        first["input_tokens"], first["output_tokens"], first["cache_read_tokens"], first["cache_write_tokens"]
    )
    reported = fake_anthropic.usage
    assert usage == Usage(
        reported.input_tokens,
        reported.output_tokens,
        reported.cache_read_input_tokens,
        reported.cache_creation_input_tokens,
    )
    # The channel context (instructions + channel, marked for caching) is written to the cache by the first call.
    assert usage.input_tokens > 0 and usage.output_tokens > 0 and usage.cache_write_tokens > 1000
    assert first["cost_usd"] == cost_usd(PRIMARY, usage) > 0

    # A second video reads that context from the cache, and costs less.
    second_run = _ask(site, config, [site.ids[1]])
    second = _suggestion(config, second_run)
    assert second["cache_read_tokens"] == usage.cache_write_tokens and second["cache_write_tokens"] == 0
    assert 0 < second["cost_usd"] < first["cost_usd"]

    spent = first["cost_usd"] + second["cost_usd"]
    [ledger] = _sql(
        config, "SELECT sum(cost_usd) AS cost, count(*) AS calls FROM usage_ledger WHERE service = 'anthropic'"
    )
    assert (ledger["cost"], ledger["calls"]) == (spent, 2)
    page = page_text(site.client.get("/usage"))
    assert "2 of 500" in page.replace('<small class="muted">', "")
    assert f"${spent:.2f} " in page and f"${spent:.4f}" in page and "Claude" in page

    # The same video again (same version, prompt version and model): the stored answer, no call.
    calls = fake_anthropic.total_calls
    again_run = _ask(site, config, [site.ids[0]])
    again = _suggestion(config, again_run)
    assert fake_anthropic.total_calls == calls
    assert (
        again_run != first_run and again["titles"] == first["titles"] and again["description"] == first["description"]
    )
    assert REUSED_NOTE in again["notes"] and again["cost_usd"] == 0
    assert _sql(config, "SELECT count(*) AS n FROM usage_ledger")[0]["n"] == 2
    assert REUSED_NOTE in _run_page(site, again_run)


def test_an_edited_video_is_asked_again(site, config, fake_anthropic):
    _ask(site, config, [site.ids[0]])
    # A new metadata version (as a sync or an apply stores it) makes the old answer stale.
    _sql(
        config,
        """INSERT INTO metadata_versions (video_id, source, title, description, tags, category_id, content_hash)
                    SELECT video_id, source, title || ' (edited)', description, tags, category_id, 'edited-hash'
                    FROM metadata_versions WHERE video_id = %s ORDER BY id DESC LIMIT 1""",
        (site.ids[0],),
    )
    run_id = _ask(site, config, [site.ids[0]])
    assert fake_anthropic.total_calls == 2
    assert REUSED_NOTE not in _suggestion(config, run_id)["notes"]


# -- 3. limits ---------------------------------------------------------------------


def test_monthly_optimization_quota_refuses_a_batch_that_does_not_fit(make_site, config):
    site = make_site({**config, "MONTHLY_OPTIMIZATIONS_PER_USER": 3})
    refused = optimize(site.client, site.channel, site.ids[:4], htmx=True)
    assert refused.status_code == 429
    error = refused.get_json()["error"]
    assert error["code"] == "monthly_limit_reached"
    assert error["message"].startswith("Your monthly optimization quota is 3 videos and 3 are left.")
    assert _sql(config, "SELECT count(*) AS n FROM optimization_runs")[0]["n"] == 0

    # Without htmx: back to the channel page, which says why.
    plain = optimize(site.client, site.channel, site.ids[:4])
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"/channels/{site.channel}")
    assert "Your monthly optimization quota is 3 videos and 3 are left." in page_text(
        site.client.get(plain.headers["Location"])
    )

    assert optimize(site.client, site.channel, site.ids[:3]).status_code == 303
    last = optimize(site.client, site.channel, site.ids[3:4], htmx=True)
    assert last.status_code == 429 and "and 0 are left" in last.get_json()["error"]["message"]
    assert _sql(config, "SELECT count(*) AS n FROM optimization_runs")[0]["n"] == 1


def test_a_zero_cost_cap_refuses_every_optimization(make_site, config):
    site = make_site({**config, "MONTHLY_COST_CAP_USD": 0})
    refused = optimize(site.client, site.channel, site.ids[:1], htmx=True)
    assert refused.status_code == 429
    assert "AI spending cap of $0.00 is reached" in refused.get_json()["error"]["message"]
    assert _sql(config, "SELECT count(*) AS n FROM optimization_runs")[0]["n"] == 0


def test_real_spending_reaches_the_cost_cap(make_site, config, fake_anthropic):
    site = make_site({**config, "MONTHLY_COST_CAP_USD": 0.001})
    _ask(site, config, [site.ids[0]])  # nothing spent yet: allowed; one Claude call costs about a cent
    [spent] = _sql(config, "SELECT sum(cost_usd) AS cost FROM usage_ledger")
    assert spent["cost"] > Decimal("0.001")
    refused = optimize(site.client, site.channel, site.ids[1:2], htmx=True)
    assert refused.status_code == 429
    assert f"spending cap of $0.00 is reached (${spent['cost']:.2f} spent)" in refused.get_json()["error"]["message"]
    assert fake_anthropic.total_calls == 1


# -- 4. keyword research ---------------------------------------------------------------


def test_keyword_research_is_stored_used_and_cached(make_site, config, fake_anthropic, fake_serpapi):
    serp = {**config, **fake_serpapi.settings()}
    site = make_site(serp)
    run_id = _ask(site, serp, [site.ids[0]])
    evidence = _suggestion(config, run_id)["keyword_evidence"]
    assert evidence["autocomplete"] and all(isinstance(s, str) for s in evidence["autocomplete"])
    assert evidence["top_results"] and all(r["title"] for r in evidence["top_results"])
    assert dict(fake_serpapi.calls) == {"google_autocomplete": 1, "youtube": 1}
    assert evidence["autocomplete"][0] in fake_anthropic.all_request_text()  # Claude saw the evidence
    assert _ledger(config, "serpapi") == [("google_autocomplete", "ok"), ("youtube", "ok")]

    # The same video with another model (so the stored answer is not simply
    # reused): Claude is asked again, SerpAPI is not; the research comes from Redis.
    other = {**serp, "ANTHROPIC_MODEL": FALLBACK, "ANTHROPIC_FALLBACK_MODELS": []}
    second = _ask(site, other, [site.ids[0]])
    assert dict(fake_anthropic.calls) == {PRIMARY: 1, FALLBACK: 1}
    assert dict(fake_serpapi.calls) == {"google_autocomplete": 1, "youtube": 1}
    assert _suggestion(config, second)["keyword_evidence"] == evidence


def test_without_a_serpapi_key_research_is_skipped_and_said_so(site, config, fake_serpapi):
    run_id = _ask(site, config, [site.ids[0]])
    suggestion = _suggestion(config, run_id)
    assert suggestion["engine"] == "claude"
    assert "Keyword research skipped: no SERPAPI_API_KEY is configured." in suggestion["notes"]
    assert suggestion["keyword_evidence"]["autocomplete"] == [] and fake_serpapi.requests == []
    assert "Keyword research skipped" in _run_page(site, run_id)


def test_a_serpapi_outage_still_gives_a_suggestion_with_a_note(make_site, config, fake_anthropic, fake_serpapi):
    serp = {**config, **fake_serpapi.settings()}
    site = make_site(serp)
    fake_serpapi.inject("server_error", times=2)
    run_id = _ask(site, serp, [site.ids[0]])
    suggestion = _suggestion(config, run_id)
    assert (suggestion["engine"], suggestion["model"]) == ("claude", PRIMARY)
    assert "Keyword research was unavailable; the suggestion relies on the transcript." in suggestion["notes"]
    assert suggestion["keyword_evidence"]["top_results"] == []
    assert ("google_autocomplete", "error") in _ledger(config, "serpapi")


# -- 5. a worker killed mid-batch -------------------------------------------------------


@pytest.mark.slow
def test_a_batch_survives_its_worker_being_killed(site, config, fake_anthropic, tmp_path):
    """RQ's own recovery, no operator: the killed job stays in the
    StartedJobRegistry until its heartbeat lapses (RQ: job monitoring interval
    30 s + 60 s); the next worker's start-up maintenance then marks it
    abandoned and, as it has retries left (jobs.enqueue.OPTIMIZE_RETRY), puts
    it back after the first retry interval (10 s) through the scheduler. About
    100 s in all, so this test is slow."""
    fake_anthropic.latency_s = 1.0
    # A killed work horse keeps its Claude slots until their leases expire
    # (4 x ANTHROPIC_TIMEOUT_S + 30 s): 10 s here keeps that below RQ's 90 s.
    work = {**config, "LLM_MAX_CONCURRENCY": 2, "ANTHROPIC_TIMEOUT_S": 10}
    videos = site.ids[:10]
    response = optimize(site.client, site.channel, videos)
    run_id = run_id_of(response)
    stored = lambda: _sql(config, "SELECT id, video_id FROM suggestions WHERE run_id = %s ORDER BY id", (run_id,))  # noqa: E731

    with open(tmp_path / "first.log", "w") as log:
        first = start_worker(work, log=log)
        try:
            before = wait_for(lambda: (rows := stored()) and len(rows) >= 3 and rows, 60, "three suggestions")
            killed = kill_tree(first)
        finally:
            stop_process(first)
    assert len(killed) >= 2  # the worker and its work horse
    before = stored()
    assert 3 <= len(before) < len(videos)
    assert _sql(config, "SELECT status FROM optimization_runs WHERE id = %s", (run_id,))[0]["status"] == "running"
    calls_at_kill = fake_anthropic.total_calls

    connection = redis.Redis.from_url(config["REDIS_URL"])
    started = StartedJobRegistry(queue=Queue("default", connection=connection))
    job_id = f"optimize-run-{run_id}"
    assert any(entry.startswith(job_id) for entry in map(bytes.decode, connection.zrange(started.key, 0, -1)))
    wait_for(lambda: started.get_expired_job_ids(), 150, "RQ to consider the killed job abandoned", interval=1)

    with open(tmp_path / "second.log", "w") as log:
        second = start_worker(work, log=log)
        try:
            wait_for(
                lambda: (
                    _sql(config, "SELECT status FROM optimization_runs WHERE id = %s", (run_id,))[0]["status"]
                    not in ("queued", "running")
                ),
                90,
                "the resumed run to finish",
                interval=0.5,
            )
        finally:
            stop_process(second)
    connection.close()

    rows = _sql(
        config, "SELECT video_id, count(*) AS n FROM suggestions WHERE run_id = %s GROUP BY video_id", (run_id,)
    )
    assert sorted(r["video_id"] for r in rows) == sorted(videos) and {r["n"] for r in rows} == {1}
    assert _sql(config, "SELECT status FROM optimization_runs WHERE id = %s", (run_id,))[0]["status"] == "succeeded"
    assert stored()[: len(before)] == before  # what was done before the kill was kept, not redone
    # Only the videos not stored yet were asked again (at most the 2 in flight were asked twice).
    assert fake_anthropic.total_calls - calls_at_kill == len(videos) - len(before)
    assert calls_at_kill <= len(before) + 2
    assert "Done: 10 suggestions ready." in _run_page(site, run_id)


# -- 6. the concurrency cap across processes ----------------------------------------------


def test_two_workers_never_exceed_the_llm_concurrency_cap(site, config, fake_anthropic):
    fake_anthropic.latency_s = 1.0
    work = {**config, "LLM_MAX_CONCURRENCY": 3}
    # Two workers already waiting (as in production), so each takes one of the two runs.
    workers = [start_worker(work), start_worker(work)]
    connection = redis.Redis.from_url(config["REDIS_URL"])
    try:
        wait_for(
            lambda: (
                len(Worker.all(connection=connection)) == 2
                and all(w.get_state() == "idle" for w in Worker.all(connection=connection))
            ),
            120,
            "two idle workers",
        )
        runs = [
            run_id_of(optimize(site.client, site.channel, site.ids[:6])),
            run_id_of(optimize(site.client, site.channel, site.ids[6:12])),
        ]
        wait_for(
            lambda: (
                _sql(config, "SELECT count(*) AS n FROM optimization_runs WHERE finished_at IS NOT NULL")[0]["n"] == 2
            ),
            120,
            "both runs to finish",
            interval=0.5,
        )
    finally:
        for worker in workers:
            stop_process(worker)
        connection.close()

    assert fake_anthropic.max_in_flight == 3  # 2 processes x 3 threads each, 3 calls at most at the API
    assert fake_anthropic.total_calls == 12
    rows = _sql(config, "SELECT id, status, started_at, finished_at FROM optimization_runs ORDER BY id")
    assert [r["id"] for r in rows] == runs and {r["status"] for r in rows} == {"succeeded"}
    a, b = rows
    assert a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"], "the two runs did not overlap"
    assert _sql(config, "SELECT count(*) AS n FROM suggestions WHERE engine = 'claude'")[0]["n"] == 12


def test_concurrent_runs_store_costs_per_run(site, config, fake_anthropic):
    """The run page's cost is the run's own ledger, not the user's."""
    runs = [_ask(site, config, site.ids[:2]), _ask(site, config, site.ids[2:3])]
    for run_id in runs:
        [row] = _sql(config, "SELECT coalesce(sum(cost_usd), 0) AS cost FROM usage_ledger WHERE run_id = %s", (run_id,))
        stored = _sql(config, "SELECT coalesce(sum(cost_usd), 0) AS cost FROM suggestions WHERE run_id = %s", (run_id,))
        assert row["cost"] == stored[0]["cost"] > Decimal(0)
        assert f"Cost so far: ${row['cost']:.4f}" in _run_page(site, run_id)
