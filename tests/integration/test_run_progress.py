"""The run page while suggestions are made and after: each video's stage as
it moves (Claude slow, then overloaded), what each row paid and why (failed
calls included) adding up to the run's total, a breaker refusal counted as
no call anywhere, and notes shared by every row said once. The Anthropic
fake on real HTTP, real worker processes; nothing of ours is patched."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from optimizer.run_progress import BREAKER_NOTE
from reliability import db
from tests.fakes.anthropic import fake_anthropic_fixture
from tests.integration.channel_helpers import user_client
from tests.integration.optimize_helpers import (
    import_demo,
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
INVALID_NOTE = "Claude gave answers that broke YouTube's limits, so this is the rule-based suggestion."

fake_anthropic = fake_anthropic_fixture()


@pytest.fixture
def config(app_config, fake_anthropic):
    return {
        **app_config,
        **fake_anthropic.settings(),
        "ANTHROPIC_MODEL": PRIMARY,
        "ANTHROPIC_FALLBACK_MODELS": [FALLBACK],
        "ANTHROPIC_TIMEOUT_S": 20,
        "SERPAPI_API_KEY": "",
        "LLM_MAX_CONCURRENCY": 1,
    }


@pytest.fixture
def site(config):
    from webapp import create_app

    client = user_client(create_app(config), "creator@example.com")
    channel = import_demo(client)
    _, _, ids = optimize_form(client, channel)
    yield client, channel, ids
    db.dispose_pool()


def _start(site, video_ids: list[int]) -> tuple[int, str]:
    client, channel, _ = site
    response = optimize(client, channel, video_ids)
    assert response.status_code == 303, response.get_data(as_text=True)
    return run_id_of(response), f"/channels/{channel}/runs/{run_id_of(response)}"


def _work(config: dict) -> None:
    result = run_worker_burst(config)
    assert result.returncode == 0, result.stderr[-3000:]


def _fragment(client, url: str) -> str:
    """The batch table as the page's own polling asks for it."""
    return page_text(client.get(url, headers={"HX-Request": "true", "HX-Target": "run-progress"}))


def _money(text: str) -> list[Decimal]:
    return [Decimal(m) for m in re.findall(r'<td data-label="Cost" class="num">\$(\d+\.\d{4})', text)]


def test_each_video_says_what_it_is_waiting_for_while_claude_is_slow(site, config, fake_anthropic):
    client, _, ids = site
    # Every answer, the overloaded one included, takes this long: wide enough for a busy machine to see each stage.
    fake_anthropic.latency_s = 5.0
    fake_anthropic.inject("overloaded", times=1, model=PRIMARY)
    run_id, url = _start(site, ids[:2])
    assert "Waiting its turn…" in _fragment(client, url)

    worker = start_worker(config, burst=True)
    seen: list[str] = []  # every fragment the page's polling would have shown, until the run is done

    def done_yet():
        seen.append(_fragment(client, url))
        return "Done: 2 suggestions ready." in seen[-1] and seen[-1]

    try:
        done = wait_for(done_yet, 90, "the run")
    finally:
        stop_process(worker)
    # One at a time here: while the first video hands over to the fallback, the second says it waits.
    assert any(f"Trying the next model ({FALLBACK})…" in t and "Waiting its turn…" in t for t in seen)
    assert any(f"Asking Claude ({PRIMARY})…" in t for t in seen)
    assert "Asking Claude" not in done and "hx-trigger" not in done  # finished rows stop polling
    stages = query(
        config["DATABASE_URL"],
        "SELECT stage, stage_model FROM optimization_run_videos WHERE run_id = %s ORDER BY position",
        (run_id,),
    )
    assert [(s["stage"], s["stage_model"]) for s in stages] == [("next_model", FALLBACK), ("claude", PRIMARY)]


def test_rows_say_what_was_paid_and_add_up_to_the_runs_total(site, config, fake_anthropic):
    client, _, ids = site
    # Every answer breaks the schema, the repairs too: four paid calls a video, then the rule-based engine.
    fake_anthropic.inject("malformed_json", times=4, model=PRIMARY)
    fake_anthropic.inject("malformed_json", times=4, model=FALLBACK)
    run_id, url = _start(site, ids[:2])
    _work(config)

    page = page_text(client.get(url))
    ledger = query(config["DATABASE_URL"], "SELECT video_id, cost_usd FROM usage_ledger WHERE run_id = %s", (run_id,))
    assert (
        len(ledger) == 8 and all(r["cost_usd"] > 0 for r in ledger) and {r["video_id"] for r in ledger} == set(ids[:2])
    )
    rows = _money(page)
    assert len(rows) == 2 and all(cost > 0 for cost in rows)
    total = Decimal(re.search(r"Cost so far: \$(\d+\.\d{4})", page).group(1))
    assert total == sum(rows) == sum(r["cost_usd"] for r in ledger).quantize(Decimal("0.0001"))
    for video_id in ids[:2]:
        paid = sum(r["cost_usd"] for r in ledger if r["video_id"] == video_id)
        assert f"4 Claude calls failed (${paid:.4f}), then rule-based" in page
    assert "Rule-based $0.0000" not in page.replace("\n", " ")
    # The same fallback note on both rows is said once, above the table, in a creator's words.
    assert page.count(INVALID_NOTE) == 1 and page.index(INVALID_NOTE) < page.index("<table")
    # What "Accept all" would apply is on the page, folded: each description and its tags.
    [first] = query(
        config["DATABASE_URL"],
        "SELECT description, tags FROM suggestions WHERE run_id = %s AND video_id = %s",
        (run_id, ids[0]),
    )
    assert page.count("<summary><small>Description and tags</small></summary>") == 2
    assert first["description"].splitlines()[0] in page and ", ".join(first["tags"]) in page


def test_a_call_the_breaker_refused_is_no_call_anywhere(site, config, fake_anthropic):
    client, _, ids = site
    fake_anthropic.inject("overloaded", times=50)  # every model, every call
    run_id, url = _start(site, ids[:4])
    _work(config)

    sent = fake_anthropic.total_calls
    assert 0 < sent < 8  # the breaker opened after five failures and refused the rest
    ledger = query(config["DATABASE_URL"], "SELECT outcome FROM usage_ledger WHERE service = 'anthropic'")
    assert len(ledger) == sent and {r["outcome"] for r in ledger} == {"overloaded"}
    usage = page_text(client.get("/usage"))
    claude_row = re.search(r"<td>Claude</td>\s*<td class=\"num\">(\d+)</td>", usage)
    assert claude_row and int(claude_row.group(1)) == sent
    page = page_text(client.get(url))
    assert BREAKER_NOTE in page
    failed_words = re.findall(r"(\d) Claude calls? failed", page)
    assert sum(int(n) for n in failed_words) == sent  # the rows count only what was sent
