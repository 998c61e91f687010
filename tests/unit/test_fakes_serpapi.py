"""Self-tests of the fake SerpApi, over real HTTP with the real google-search-results client.

Why: the app's keyword research trusts this fake to answer the parameters the
client really sends, with SerpApi's shapes and error conventions (an "error"
key, not an exception; 401 for a bad key; 429 when the plan runs out; a 200
with an error when nothing was found). A fake that answered anything would
let a wrong engine name or a missing api_key pass every test.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from serpapi import GoogleSearch, SerpApiClient, YoutubeSearch

from tests.fakes.serpapi import INVALID_KEY, OUT_OF_SEARCHES, FakeSerpApi, fake_serpapi_fixture

fake_serpapi = fake_serpapi_fixture()


def _youtube(fake: FakeSerpApi, query: str, **params) -> YoutubeSearch:
    search = YoutubeSearch({"search_query": query, "api_key": "test", **params})
    search.BACKEND = fake.url  # an instance attribute: no other thread's client is redirected
    search.timeout = 5  # seconds, handed to requests.get; YoutubeSearch.__init__ takes no timeout
    return search


def _autocomplete(fake: FakeSerpApi, query: str, **params) -> GoogleSearch:
    search = GoogleSearch(
        {"engine": "google_autocomplete", "q": query, "client": "youtube", "api_key": "test", **params}
    )
    search.BACKEND = fake.url
    search.timeout = 5
    return search


def test_youtube_search_returns_realistic_video_results(fake_serpapi):
    results = _youtube(fake_serpapi, "sourdough starter").get_dict()
    assert results["search_metadata"]["status"] == "Success"
    assert results["search_parameters"] == {"engine": "youtube", "search_query": "sourdough starter"}
    videos = results["video_results"]
    assert len(videos) == 20 and [v["position_on_page"] for v in videos] == list(range(1, 21))
    for video in videos:
        assert "Sourdough Starter" in video["title"] and video["link"].startswith("https://www.youtube.com/watch?v=")
        assert video["channel"]["name"] and isinstance(video["views"], int) and video["views"] > 0
        assert video["published_date"].endswith("ago") and ":" in video["length"]
    assert "api_key" not in json.dumps(results)  # SerpApi never echoes the key


def test_the_client_sends_what_the_fake_records(fake_serpapi):
    _youtube(fake_serpapi, "knife sharpening").get_dict()
    [recorded] = fake_serpapi.requests
    assert recorded.path == "/search"
    assert recorded.args == {
        "search_query": "knife sharpening",
        "api_key": "test",
        "engine": "youtube",
        "output": "json",
        "source": "python",
    }
    assert fake_serpapi.calls["youtube"] == 1 and fake_serpapi.queries_for("youtube") == ["knife sharpening"]


def test_results_are_deterministic_per_query(fake_serpapi):
    first = _youtube(fake_serpapi, "pizza dough").get_dict()["video_results"]
    again = _youtube(fake_serpapi, "pizza dough").get_dict()["video_results"]
    other = _youtube(fake_serpapi, "bagels").get_dict()["video_results"]
    assert first == again and first != other
    with FakeSerpApi() as second:  # another fake, another process: generated from the query alone
        assert _youtube(second, "pizza dough").get_dict()["video_results"] == first


def test_autocomplete_through_the_class_attribute_backend(fake_serpapi, monkeypatch):
    monkeypatch.setattr(SerpApiClient, "BACKEND", fake_serpapi.url)  # what FACTS.md names
    search = GoogleSearch({"engine": "google_autocomplete", "q": "Sourdough", "client": "youtube", "api_key": "test"})
    results = search.get_dict()
    values = [s["value"] for s in results["suggestions"]]
    assert values[0] == "sourdough" and len(values) == 10 and all(v.startswith("sourdough") for v in values)
    assert results["search_parameters"]["client"] == "youtube"
    assert fake_serpapi.calls == {"google_autocomplete": 1}
    assert fake_serpapi.requests[0].args["engine"] == "google_autocomplete"  # params' engine wins over "google"


def test_errors_come_back_as_an_error_key_with_serpapis_statuses(fake_serpapi):
    bad_key = YoutubeSearch({"search_query": "x", "api_key": "wrong"})
    bad_key.BACKEND = fake_serpapi.url
    assert bad_key.get_dict() == {"error": INVALID_KEY}  # no exception from the client
    assert bad_key.get_response().status_code == 401
    no_key = YoutubeSearch({"search_query": "x"})
    no_key.BACKEND = fake_serpapi.url
    assert no_key.get_response().status_code == 401
    missing = _youtube(fake_serpapi, "")
    assert missing.get_dict() == {"error": "Missing query `search_query` parameter."}
    assert missing.get_response().status_code == 400
    other = GoogleSearch({"q": "coffee", "api_key": "test"})
    other.BACKEND = fake_serpapi.url
    assert other.get_response().status_code == 400 and "Unsupported `google`" in other.get_dict()["error"]
    assert fake_serpapi.searches_used == 0  # failed searches are not charged


def test_no_results_is_a_success_with_an_error_message(fake_serpapi):
    fake_serpapi.set_videos("qwzx nonsense", [])
    fake_serpapi.set_suggestions("qwzx", [])
    response = _youtube(fake_serpapi, "qwzx nonsense").get_response()
    body = response.json()
    assert response.status_code == 200 and body["search_metadata"]["status"] == "Success"
    assert body["error"] == "YouTube hasn't returned any results for this query." and "video_results" not in body
    assert "suggestions" not in _autocomplete(fake_serpapi, "qwzx").get_dict()


def test_scripted_videos_and_responses(fake_serpapi):
    fake_serpapi.set_videos("bread", [{"title": "Bread 101", "views": 5}, {"title": "Rye"}])
    videos = _youtube(fake_serpapi, "bread").get_dict()["video_results"]
    assert [(v["title"], v["position_on_page"]) for v in videos] == [("Bread 101", 1), ("Rye", 2)]
    assert videos[0]["views"] == 5 and videos[1]["channel"]["name"]  # the rest is filled in
    fake_serpapi.set_response("youtube", "odd", {"error": "Google hasn't returned any results"}, status=200)
    assert _youtube(fake_serpapi, "odd").get_dict() == {"error": "Google hasn't returned any results"}


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("server_error", 500, "Internal server error"),
        ("search_error", 503, "error while processing"),
        ("rate_limit", 429, "hourly throughput"),
        ("out_of_searches", 429, OUT_OF_SEARCHES),
        ("invalid_key", 401, INVALID_KEY),
    ],
)
def test_injected_faults_answer_once_then_stop(fake_serpapi, kind, status, message):
    fake_serpapi.inject(kind)
    response = _youtube(fake_serpapi, "x").get_response()
    assert response.status_code == status and message in response.json()["error"]
    assert "video_results" in _youtube(fake_serpapi, "x").get_dict()


def test_faults_can_target_one_engine_and_html_errors_break_get_json(fake_serpapi):
    fake_serpapi.inject("html_error", engine="google_autocomplete")
    assert "video_results" in _youtube(fake_serpapi, "x").get_dict()
    with pytest.raises(json.JSONDecodeError):
        _autocomplete(fake_serpapi, "x").get_dict()
    assert fake_serpapi.faults.pending == 0


def test_a_slow_answer_trips_the_timeout_set_on_the_search(fake_serpapi):
    fake_serpapi.inject("timeout", seconds=3)
    search = _youtube(fake_serpapi, "x")
    search.timeout = 0.3
    started = time.perf_counter()
    with pytest.raises(requests.exceptions.Timeout):
        search.get_dict()
    assert time.perf_counter() - started < 2


def test_the_plan_runs_out_but_cached_repeats_are_free(fake_serpapi):
    fake_serpapi.searches_per_month = 2
    assert "video_results" in _youtube(fake_serpapi, "one").get_dict()
    assert "video_results" in _youtube(fake_serpapi, "one").get_dict()  # SerpApi's 1-hour cache: free
    assert "suggestions" in _autocomplete(fake_serpapi, "two").get_dict()
    assert (fake_serpapi.searches_used, fake_serpapi.cache_hits) == (2, 1)
    exhausted = _youtube(fake_serpapi, "three").get_response()
    assert exhausted.status_code == 429 and exhausted.json() == {"error": OUT_OF_SEARCHES}
    assert _youtube(fake_serpapi, "one", no_cache="true").get_response().status_code == 429
    fake_serpapi.clock.advance(3601)
    assert _youtube(fake_serpapi, "one").get_response().status_code == 429  # the cache entry expired
    account = SerpApiClient({"engine": "youtube", "api_key": "test"})
    account.BACKEND = fake_serpapi.url
    assert account.get_account()["total_searches_left"] == 0


def test_latency_and_the_in_flight_maximum(fake_serpapi):
    fake_serpapi.latency_s = 0.2
    threads = [threading.Thread(target=lambda q=q: _youtube(fake_serpapi, q).get_dict()) for q in "abcde"]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake_serpapi.max_in_flight == 5 and time.perf_counter() - started >= 0.2
    assert sorted(fake_serpapi.queries_for("youtube")) == list("abcde")


def test_all_request_text_shows_every_query_sent(fake_serpapi):
    _youtube(fake_serpapi, "bread for jane").get_dict()
    _autocomplete(fake_serpapi, "rye").get_dict()
    text = fake_serpapi.all_request_text()
    assert "bread for jane" in text and "q=rye" in text and "jane@example.com" not in text
    assert fake_serpapi.settings() == {"SERPAPI_BASE_URL": fake_serpapi.url, "SERPAPI_API_KEY": "test"}
