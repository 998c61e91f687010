"""Self-tests of the fake Anthropic Messages API, over real HTTP with the real SDK.

Why: the app's Claude client, its cost ledger, its retry and fallback policy
and its concurrency cap will all be tested against this fake. If the fake
answered a forced tool with text, billed a cache read as input, or sent a 529
that the SDK did not turn into OverloadedError, those tests would pass against
a lie. Each test here pins one behaviour of the real API (as SDK 2.10.0 sees it).
"""

from __future__ import annotations

import json
import threading
import time

import anthropic
import pydantic
import pytest
import requests

from tests.fakes.anthropic import FakeAnthropic, Fault, Reply, count_tokens, fake_anthropic_fixture

fake_anthropic = fake_anthropic_fixture()
MODEL = "claude-sonnet-4-6"
FALLBACK = "claude-haiku-4-5"
TOOL = "submit_optimization"
TITLE = {
    "type": "object",
    "properties": {"title": {"type": "string", "maxLength": 100}, "rationale": {"type": "string"}},
    "required": ["title", "rationale"],
}
SCHEMA = {
    "type": "object",
    "properties": {
        "titles": {"type": "array", "items": TITLE, "minItems": 3, "maxItems": 3},
        "description": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "primary_keyword": {"type": "string"},
        "rationale": {"type": "string"},
    },
    "required": ["titles", "description", "tags", "primary_keyword", "rationale"],
}
TOOLS = [{"name": TOOL, "description": "Submit the optimization.", "input_schema": SCHEMA}]
FORCED = {"type": "tool", "name": TOOL}
CHANNEL = "Channel: Bread Lab. " + "We bake bread at home and explain every step of it. " * 120  # ~1,560 tokens


def _client(fake: FakeAnthropic, **options) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test", base_url=fake.url, max_retries=options.pop("max_retries", 0), **options)


def _video(title: str, transcript: str = "") -> list[dict]:
    return [{"role": "user", "content": f"Optimize this video.\n\nCurrent title: {title}\n\nTranscript:\n{transcript}"}]


def _system(cached: bool = True) -> list[dict]:
    block: dict = {"type": "text", "text": CHANNEL}
    if cached:
        block["cache_control"] = {"type": "ephemeral"}
    return [{"type": "text", "text": "You are a YouTube strategist."}, block]


def _optimize(client: anthropic.Anthropic, title: str = "My sourdough vlog #7", model: str = MODEL, **extra):
    return client.messages.create(
        model=model, max_tokens=2000, system=_system(), messages=_video(title), tools=TOOLS, tool_choice=FORCED, **extra
    )


def _post(fake: FakeAnthropic, body: dict, headers: dict | None = None) -> requests.Response:
    sent = {"x-api-key": "test", "anthropic-version": "2023-06-01"} if headers is None else headers
    return requests.post(fake.url + "/v1/messages", json=body, headers=sent, timeout=5)


def _tag_budget(tags: list[str]) -> int:
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + len(tags) - 1


# --- answers ---------------------------------------------------------------------


def test_a_forced_tool_call_returns_a_valid_default_answer_as_tool_input(fake_anthropic):
    message = _optimize(_client(fake_anthropic), "Easy No-Knead Bread <for beginners>")
    assert message.stop_reason == "tool_use" and message.role == "assistant" and message.model == MODEL
    [block] = message.content
    assert block.type == "tool_use" and block.name == TOOL and block.id.startswith("toolu_")
    answer = block.input
    assert set(answer) == set(SCHEMA["properties"])  # fitted to the schema: nothing extra
    assert len(answer["titles"]) == 3
    for option in answer["titles"]:
        assert 0 < len(option["title"]) <= 100 and "<" not in option["title"] and option["rationale"]
    assert answer["primary_keyword"] == "easy knead bread"
    assert answer["description"].startswith("Learn easy knead bread")
    assert len(answer["description"].encode("utf-8")) < 5000 and ">" not in answer["description"]
    assert answer["tags"][0] == answer["primary_keyword"] and _tag_budget(answer["tags"]) <= 500
    assert message._request_id and message._request_id.startswith("req_")


def test_the_default_answer_follows_the_schema_it_is_given(fake_anthropic):
    schema = {
        "type": "object",
        "required": ["titles", "mood", "score"],
        "properties": {
            "titles": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 2},
            "mood": {"type": "string", "enum": ["calm", "bold"]},
            "score": {"type": "integer", "minimum": 1},
        },
    }
    message = _client(fake_anthropic).messages.create(
        model=MODEL,
        max_tokens=500,
        messages=_video("Knife sharpening basics"),
        tools=[{"name": "rate", "input_schema": schema}],
        tool_choice={"type": "any"},
    )
    answer = message.content[0].input
    assert set(answer) == {"titles", "mood", "score"} and (answer["mood"], answer["score"]) == ("calm", 1)
    assert answer["titles"][0] == "Knife sharpening bas"  # {"title", ...} objects became strings, cut to 20
    assert len(answer["titles"]) == 2 and all(isinstance(t, str) and len(t) <= 20 for t in answer["titles"])


def test_output_config_json_schema_gets_json_text_that_the_sdk_parses(fake_anthropic):
    class Title(pydantic.BaseModel):
        title: str
        rationale: str

    class Answer(pydantic.BaseModel):
        titles: list[Title]
        primary_keyword: str
        chapters: list[dict] | None = None

    transcript = "[0:00] Why it works. [0:42] Ingredients. [2:15] Mixing. [6:30] Baking."
    message = _client(fake_anthropic).messages.parse(
        model=MODEL, max_tokens=1000, messages=_video("No-knead bread", transcript), output_format=Answer
    )
    assert message.stop_reason == "end_turn" and message.content[0].type == "text"
    parsed = message.parsed_output
    assert parsed.primary_keyword == "knead bread" and len(parsed.titles) == 3
    assert parsed.chapters[0] == {"start": "0:00", "title": "Why it works"} and len(parsed.chapters) == 4
    assert fake_anthropic.requests[-1].json["output_config"]["format"]["type"] == "json_schema"


def test_fifty_videos_get_fifty_distinct_answers_with_no_set_up(fake_anthropic):
    client = _client(fake_anthropic)
    keywords = {
        _optimize(client, f"Recipe number {i}: {word} bread").content[0].input["primary_keyword"]
        for i, word in enumerate(f"rye{i}" for i in range(50))
    }
    assert len(keywords) == 50 and fake_anthropic.calls[MODEL] == 50 == fake_anthropic.total_calls


def test_respond_with_dicts_text_and_replies(fake_anthropic):
    client = _client(fake_anthropic)
    fake_anthropic.respond_with(lambda body: {"titles": [], "seen_model": body["model"]})
    assert _optimize(client).content[0].input == {"titles": [], "seen_model": MODEL}  # not fitted: as given
    plain = client.messages.create(model=MODEL, max_tokens=100, messages=_video("x"))
    assert json.loads(plain.content[0].text)["seen_model"] == MODEL  # no tool offered: the dict as JSON text
    fake_anthropic.respond_with(lambda body: "I would rather chat.")
    ignored = _optimize(client)  # a model that ignores the forced tool
    assert ignored.content[0].text == "I would rather chat." and ignored.stop_reason == "end_turn"
    fake_anthropic.respond_with(lambda body: Reply([{"type": "text", "text": "stop"}], "stop_sequence"))
    assert _optimize(client).stop_reason == "stop_sequence"
    fake_anthropic.respond_with(lambda body: None)  # None: the default answer
    assert len(_optimize(client).content[0].input["titles"]) == 3


def test_scripts_are_consumed_in_order_per_model_then_the_default_answers(fake_anthropic):
    client = _client(fake_anthropic)
    fake_anthropic.script(MODEL, [{"n": 1}, Fault("overloaded"), "third"])
    fake_anthropic.script(FALLBACK, [{"n": "fallback"}])
    assert _optimize(client).content[0].input == {"n": 1}
    with pytest.raises(anthropic.OverloadedError):
        _optimize(client)
    assert _optimize(client, model=FALLBACK).content[0].input == {"n": "fallback"}
    assert _optimize(client).content[0].text == "third"
    assert fake_anthropic.pending_scripted == 0
    assert len(_optimize(client).content[0].input["titles"]) == 3


# --- validation ------------------------------------------------------------------


def test_requests_the_api_refuses_are_refused(fake_anthropic):
    ok = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    cases = [
        ({k: v for k, v in ok.items() if k != "max_tokens"}, "max_tokens: Field required"),
        ({k: v for k, v in ok.items() if k != "model"}, "model: Field required"),
        ({**ok, "messages": []}, "messages: at least one message is required"),
        ({**ok, "messages": [{"role": "system", "content": "hi"}]}, "messages.0.role"),
        ({**ok, "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}, "must be non-empty"),
        ({**ok, "temperature": 0.2}, "temperature: Extra inputs are not permitted"),
        ({**ok, "top_p": 0.9}, "top_p: Extra inputs are not permitted"),
        ({**ok, "tools": TOOLS, "tool_choice": {"type": "tool", "name": "other"}}, "Tool 'other' not found"),
        ({**ok, "stream": True}, "does not implement streaming"),
    ]
    for body, expected in cases:
        response = _post(fake_anthropic, body)
        error = response.json()
        assert response.status_code == 400 and error["type"] == "error", body
        assert error["error"]["type"] == "invalid_request_error" and expected in error["error"]["message"], error
        assert response.headers["request-id"] == error["request_id"]
    assert fake_anthropic.usage.responses == 0


def test_the_sdk_maps_refusals_to_its_client_error_classes(fake_anthropic):
    client = _client(fake_anthropic)
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model=MODEL, max_tokens=10, messages=_video("x"), extra_body={"temperature": 0})
    assert bad.value.type == "invalid_request_error" and bad.value.request_id.startswith("req_")
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="claude-3-5-haiku", max_tokens=10, messages=_video("x"))
    assert missing.value.body["error"] == {"type": "not_found_error", "message": "model: claude-3-5-haiku"}
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(api_key="wrong", base_url=fake_anthropic.url, max_retries=0).messages.create(
            model=MODEL, max_tokens=10, messages=_video("x")
        )
    body = {"model": MODEL, "max_tokens": 10, "messages": _video("x")}
    assert _post(fake_anthropic, body, headers={"anthropic-version": "2023-06-01"}).status_code == 401
    assert _post(fake_anthropic, body, headers={"x-api-key": "test"}).status_code == 400  # no anthropic-version
    assert _post(fake_anthropic, body).status_code == 200  # x-api-key, as the API documents it


def test_consecutive_turns_of_one_role_pass_unless_strict(fake_anthropic):
    body = {"model": MODEL, "max_tokens": 50, "messages": _video("a") + _video("b")}
    assert _post(fake_anthropic, body).status_code == 200
    fake_anthropic.strict_roles = True
    refused = _post(fake_anthropic, body)
    assert refused.status_code == 400 and "roles must alternate" in refused.json()["error"]["message"]


def test_at_most_four_cache_breakpoints(fake_anthropic):
    marked = [{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(5)]
    response = _post(fake_anthropic, {"model": MODEL, "max_tokens": 5, "system": marked, "messages": _video("x")})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "A maximum of 4 blocks with cache_control may be provided. Found 5."


# --- prompt caching and usage -----------------------------------------------------


def test_a_long_marked_prefix_is_written_once_then_read(fake_anthropic):
    client = _client(fake_anthropic)
    prefix = (
        count_tokens(json.dumps(TOOLS[0], sort_keys=True))
        + count_tokens("You are a YouTube strategist.")
        + count_tokens(CHANNEL)
    )
    first = _optimize(client, "Video one").usage
    second = _optimize(client, "Video two").usage
    assert prefix >= 1024
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens) == (prefix, 0)
    assert first.cache_creation.ephemeral_5m_input_tokens == prefix
    assert (second.cache_creation_input_tokens, second.cache_read_input_tokens) == (0, prefix)
    tail = count_tokens(_video("Video two")[0]["content"])
    assert second.input_tokens == tail  # input_tokens excludes both cache figures
    totals = fake_anthropic.usage
    assert (totals.cache_creation_input_tokens, totals.cache_read_input_tokens) == (prefix, prefix)
    assert totals.input_tokens == first.input_tokens + second.input_tokens
    assert totals.output_tokens == first.output_tokens + second.output_tokens > 0


def test_cache_entries_expire_after_five_minutes_and_are_per_model(fake_anthropic):
    client = _client(fake_anthropic)
    _optimize(client)
    fake_anthropic.clock.advance(299)
    assert _optimize(client).usage.cache_read_input_tokens > 0  # and the read refreshes the TTL
    fake_anthropic.clock.advance(299)
    assert _optimize(client).usage.cache_read_input_tokens > 0
    assert _optimize(client, model=FALLBACK).usage.cache_read_input_tokens == 0  # another model: its own cache
    fake_anthropic.clock.advance(301)
    expired = _optimize(client).usage
    assert expired.cache_read_input_tokens == 0 and expired.cache_creation_input_tokens > 0


def test_a_prefix_below_the_minimum_is_not_cached_and_not_refused(fake_anthropic):
    client = _client(fake_anthropic)
    short = [{"type": "text", "text": "Short context.", "cache_control": {"type": "ephemeral"}}]
    for _ in range(2):
        usage = client.messages.create(model=MODEL, max_tokens=100, system=short, messages=_video("x")).usage
        assert usage.cache_creation_input_tokens == 0 and usage.cache_read_input_tokens == 0
    fake_anthropic.min_cacheable_tokens_by_model[MODEL] = 4096  # CHANNEL (~1,600 tokens) is now too short
    assert _optimize(client).usage.cache_creation_input_tokens == 0
    assert fake_anthropic.cache.live_entries() == 0


def test_unmarked_prompts_are_never_cached_and_count_tokens_agrees(fake_anthropic):
    client = _client(fake_anthropic)
    system = _system(cached=False)
    created = client.messages.create(model=MODEL, max_tokens=100, system=system, messages=_video("x")).usage
    counted = client.messages.count_tokens(model=MODEL, system=system, messages=_video("x")).input_tokens
    assert created.cache_creation_input_tokens == 0 and created.input_tokens == counted
    assert counted == sum(count_tokens(b["text"]) for b in system) + count_tokens(_video("x")[0]["content"])


def test_requests_sent_together_all_write_the_cache(fake_anthropic):
    fake_anthropic.latency_s = 0.2
    client = _client(fake_anthropic)
    usages = []
    threads = [threading.Thread(target=lambda: usages.append(_optimize(client).usage)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [u.cache_read_input_tokens for u in usages] == [0, 0, 0]  # nobody could read what was not yet sent
    assert _optimize(client).usage.cache_read_input_tokens > 0


# --- faults --------------------------------------------------------------------------


def test_injected_errors_raise_the_sdk_classes_with_status_and_request_id(fake_anthropic):
    client = _client(fake_anthropic)
    fake_anthropic.inject("rate_limit", retry_after=7)
    fake_anthropic.inject("overloaded")
    fake_anthropic.inject("api_error")
    expected = [
        (anthropic.RateLimitError, 429, "rate_limit_error"),
        (anthropic.OverloadedError, 529, "overloaded_error"),
        (anthropic.InternalServerError, 500, "api_error"),
    ]
    for cls, status, kind in expected:
        with pytest.raises(cls) as caught:
            _optimize(client)
        error = caught.value
        assert error.status_code == status and error.type == kind and error.request_id.startswith("req_")
        assert error.response.headers["x-should-retry"] == "true"
    assert isinstance(error, anthropic.InternalServerError) and not isinstance(error, anthropic.OverloadedError)
    assert _optimize(client).stop_reason == "tool_use" and fake_anthropic.faults.pending == 0
    assert fake_anthropic.usage.responses == 1


def test_rate_limit_carries_retry_after_and_the_sdk_retries_when_allowed(fake_anthropic):
    fake_anthropic.inject("rate_limit", retry_after=7)
    response = _post(fake_anthropic, {"model": MODEL, "max_tokens": 5, "messages": _video("x")})
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    fake_anthropic.inject("rate_limit", times=3, retry_after=0.01)
    started = time.perf_counter()
    message = _optimize(_client(fake_anthropic, max_retries=3))
    assert message.stop_reason == "tool_use" and fake_anthropic.calls[MODEL] == 5
    assert time.perf_counter() - started < 0.4  # it waited retry-after (0.01 s), not its own 0.5 s backoff


def test_faults_can_target_one_model(fake_anthropic):
    client = _client(fake_anthropic)
    fake_anthropic.inject("overloaded", times=2, model=MODEL)
    assert _optimize(client, model=FALLBACK).stop_reason == "tool_use"
    for _ in range(2):
        with pytest.raises(anthropic.OverloadedError):
            _optimize(client)
    assert _optimize(client).stop_reason == "tool_use"


def test_a_slow_answer_makes_the_client_time_out(fake_anthropic):
    fake_anthropic.inject("timeout", seconds=3)
    client = _client(fake_anthropic, timeout=0.3)
    started = time.perf_counter()
    with pytest.raises(anthropic.APITimeoutError) as caught:
        _optimize(client)
    assert isinstance(caught.value, anthropic.APIConnectionError)
    assert time.perf_counter() - started < 2
    assert _optimize(client).stop_reason == "tool_use"


def test_malformed_answers_break_the_schema_or_are_not_json(fake_anthropic):
    client = _client(fake_anthropic)
    fake_anthropic.inject("malformed_json", times=2)
    broken = _optimize(client).content[0].input
    assert "titles" not in broken and broken["tags"] == "see above"
    text = client.messages.create(
        model=MODEL,
        max_tokens=500,
        messages=_video("x"),
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.content[0].text)


def test_refusals_and_max_tokens_stops(fake_anthropic):
    client = _client(fake_anthropic)
    fake_anthropic.inject("refusal")
    refused = _optimize(client)
    assert refused.stop_reason == "refusal" and refused.content == [] and refused.stop_details.type == "refusal"
    cut = client.messages.create(model=MODEL, max_tokens=5, messages=_video("x"), tools=TOOLS, tool_choice=FORCED)
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 5 and cut.content[0].input == {}
    fake_anthropic.inject("max_tokens")
    assert _optimize(client).stop_reason == "max_tokens"


# --- concurrency, latency, recording -----------------------------------------------


def _run_parallel(n: int, target) -> None:
    threads = [threading.Thread(target=target) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_max_in_flight_shows_whether_a_concurrency_cap_held(fake_anthropic):
    # Long enough that all eight threads overlap even on a busy two-core machine
    # (at 0.2 s a late-starting thread sometimes found the first ones done).
    fake_anthropic.latency_s = 0.8
    client = _client(fake_anthropic)
    _run_parallel(8, lambda: _optimize(client))
    assert fake_anthropic.max_in_flight == 8
    fake_anthropic.reset_counters()
    cap = threading.Semaphore(3)

    def capped() -> None:
        with cap:
            _optimize(client)

    _run_parallel(8, capped)
    assert fake_anthropic.max_in_flight == 3 and fake_anthropic.calls[MODEL] == 8


def test_latency_is_added_to_every_answer(fake_anthropic):
    fake_anthropic.latency_s = 0.1
    started = time.perf_counter()
    _optimize(_client(fake_anthropic))
    assert time.perf_counter() - started >= 0.1


def test_all_request_text_holds_everything_sent(fake_anthropic):
    client = _client(fake_anthropic)
    _optimize(client, "Crème brûlée at home")
    _post(fake_anthropic, {"model": MODEL, "messages": _video("refused but recorded")})  # no max_tokens: 400
    text = fake_anthropic.all_request_text()
    assert "Crème brûlée at home" in text and "refused but recorded" in text
    assert "creator@example.com" not in text
    assert [r.status for r in fake_anthropic.requests] == [200, 400]
    assert fake_anthropic.requests[0].headers["Authorization"] == "Bearer test"  # how SDK 2.10 sends the key
