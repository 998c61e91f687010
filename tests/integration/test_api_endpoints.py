"""The API's resources against real PostgreSQL, Redis and the real optimize
and apply jobs (in-process worker): what each answers, validation errors
with their field paths, cursor paging, and the batch's Idempotency-Key."""

from __future__ import annotations

import pytest

from tests.integration.api_helpers import api_client, demo_channel, finished_run, video_ids
from tests.integration.channel_helpers import query


@pytest.fixture
def owner(app):
    return api_client(app, "owner@example.com")


@pytest.fixture
def channel_id(owner):
    return demo_channel(owner)


def test_channels_list_and_one(owner, channel_id):
    listed = owner.get("/channels")
    assert listed.status_code == 200, listed.get_data(as_text=True)
    [channel] = listed.get_json()["channels"]
    assert channel["id"] == channel_id and channel["my_role"] == "owner" and channel["is_demo"]
    one = owner.get(f"/channels/{channel_id}").get_json()
    assert one["videos_url"] == f"/api/v1/channels/{channel_id}/videos"


def test_a_demo_channel_has_nothing_to_sync(owner, channel_id):
    response = owner.post(f"/channels/{channel_id}/sync")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "demo_channel"


def test_videos_are_paged_by_cursor_without_gaps_or_repeats(owner, channel_id, app_config):
    seen, cursor, total = [], "", None
    for _ in range(50):
        page = owner.get(f"/channels/{channel_id}/videos", query_string={"limit": 7, "sort": "views", "cursor": cursor})
        assert page.status_code == 200, page.get_data(as_text=True)
        body = page.get_json()
        total = body["total"]
        seen += [video["id"] for video in body["videos"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == total
    assert sorted(seen) == sorted(video_ids(app_config["DATABASE_URL"], channel_id, 10_000))


def test_a_cursor_reused_with_another_query_is_refused(owner, channel_id):
    first = owner.get(f"/channels/{channel_id}/videos", query_string={"limit": 2}).get_json()
    response = owner.get(
        f"/channels/{channel_id}/videos", query_string={"limit": 2, "sort": "title", "cursor": first["next_cursor"]}
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["fields"][0]["path"] == "query.cursor"
    garbage = owner.get(f"/channels/{channel_id}/videos", query_string={"cursor": "!!not-a-cursor"})
    assert garbage.status_code == 422


def test_search_and_filters_are_the_pages(owner, channel_id):
    everything = owner.get(f"/channels/{channel_id}/videos", query_string={"limit": 100}).get_json()["videos"]
    word = everything[0]["title"].split()[0]
    found = owner.get(f"/channels/{channel_id}/videos", query_string={"q": word}).get_json()["videos"]
    assert found and all(word.lower() in video["title"].lower() for video in found)
    attention = owner.get(f"/channels/{channel_id}/videos", query_string={"filter": "attention"}).get_json()
    assert all(video["seo_score"] < 60 for video in attention["videos"])
    bad = owner.get(f"/channels/{channel_id}/videos", query_string={"sort": "random", "limit": 0})
    assert bad.status_code == 422
    paths = {field["path"] for field in bad.get_json()["error"]["details"]["fields"]}
    assert paths == {"query.sort", "query.limit"}


def test_one_video_has_metadata_seo_reasons_and_history(owner, channel_id, app_config):
    [video_id] = video_ids(app_config["DATABASE_URL"], channel_id, 1)
    video = owner.get(f"/videos/{video_id}").get_json()
    assert video["metadata"]["title"] == video["title"]
    assert 0 <= video["seo"]["score"] <= 100 and video["seo"]["reasons"]
    assert sum(r["points"] for r in video["seo"]["reasons"]) == video["seo"]["score"]
    assert video["history"] and video["history"][0]["is_current"]


def test_batch_validation_names_the_field(owner, channel_id, app):
    limit = app.config["BATCH_MAX_VIDEOS"]
    for body, path in (
        ({}, "body.video_ids"),
        ({"video_ids": []}, "body.video_ids"),
        ({"video_ids": ["x"]}, "body.video_ids.0"),
        ({"video_ids": list(range(1, limit + 2))}, "body.video_ids"),
        ({"video_ids": [1], "colour": "red"}, "body.colour"),
    ):
        response = owner.post("/videos/batch-optimize", json=body)
        assert response.status_code == 422, (body, response.get_data(as_text=True))
        assert response.get_json()["error"]["details"]["fields"][0]["path"] == path, body


def test_the_same_idempotency_key_and_body_give_the_same_run(owner, channel_id, app_config):
    ids = video_ids(app_config["DATABASE_URL"], channel_id, 3)
    key = {"Idempotency-Key": "script-run-0001"}
    first = owner.post("/videos/batch-optimize", json={"video_ids": ids}, headers=key)
    again = owner.post("/videos/batch-optimize", json={"video_ids": ids}, headers=key)
    assert first.status_code == again.status_code == 202, first.get_data(as_text=True)
    assert first.get_json()["run"]["id"] == again.get_json()["run"]["id"]
    assert first.get_json()["status_url"] == f"/api/v1/runs/{first.get_json()['run']['id']}"
    other = owner.post("/videos/batch-optimize", json={"video_ids": ids[:2]}, headers=key)
    assert other.status_code == 422
    assert other.get_json()["error"]["details"]["fields"][0]["path"] == "header.Idempotency-Key"
    fresh = owner.post("/videos/batch-optimize", json={"video_ids": ids[:2]}, headers={"Idempotency-Key": "another-1"})
    assert fresh.status_code == 202 and fresh.get_json()["run"]["id"] != first.get_json()["run"]["id"]


def test_a_run_shows_each_videos_progress_and_suggestion(owner, channel_id, app_config):
    run = finished_run(owner, app_config, channel_id, 2)
    assert run["done"] == 2 and len(run["videos"]) == 2
    suggestion_url = run["videos"][0]["suggestion_url"]
    suggestion = owner.get(suggestion_url.removeprefix("/api/v1")).get_json()
    assert suggestion["status"] == "pending" and suggestion["titles"]
    assert suggestion["current"]["title"] == run["videos"][0]["title"]


def test_edit_accept_reject_and_their_conflicts(owner, channel_id, app_config):
    run = finished_run(owner, app_config, channel_id, 2)
    first, second = (f"/suggestions/{item['suggestion_id']}" for item in run["videos"])
    edited = owner.patch(first, json={"title": "A title I wrote myself for this video", "tags": ["one", "two"]})
    assert edited.status_code == 200, edited.get_data(as_text=True)
    body = edited.get_json()
    assert body["draft"]["title"] == "A title I wrote myself for this video" and body["title_index"] is None
    assert body["draft"]["tags"] == ["one", "two"] and body["status"] == "pending"
    assert owner.patch(first, json={"title_index": 99}).status_code == 422
    refused = owner.patch(first, json={"title": "<b>no</b>"})
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "youtube_limits"
    assert owner.post(f"{first}/accept").get_json()["status"] == "accepted"
    assert owner.post(f"{first}/accept").status_code == 409
    assert owner.post(f"{second}/reject").get_json()["status"] == "rejected"
    assert owner.post(f"{second}/reject").status_code == 409


def test_usage_reports_month_limits_and_quota(owner, app):
    usage = owner.get("/usage").get_json()
    assert usage["limit_videos"] == app.config["MONTHLY_OPTIMIZATIONS_PER_USER"]
    assert usage["quota_budget"] == app.config["YOUTUBE_DAILY_QUOTA"]


def test_experiments_of_the_demo_channel(owner, channel_id):
    listed = owner.get(f"/channels/{channel_id}/experiments").get_json()["experiments"]
    assert listed, "the demo channel has a judged past change"
    detail = owner.get(listed[0]["url"].removeprefix("/api/v1")).get_json()
    assert detail["evaluations"] and detail["channel_id"] == channel_id


def test_the_openapi_document_names_every_api_route(client, app):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    routes = {
        (rule.rule.replace("<int:", "{").replace(">", "}").replace("<", "{"), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi.spec"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes - documented == set()
    token = document["paths"]["/api/v1/auth/token"]["post"]
    assert token["security"] == [] and "example" in token["requestBody"]["content"]["application/json"]


def test_a_cached_video_page_shows_a_change_at_once(owner, channel_id, app_config):
    """The list is kept under the channel's data_version: any write to its
    videos bumps it, so the next answer is the new one, never a stale copy."""
    first = owner.get(f"/channels/{channel_id}/videos", query_string={"sort": "title", "limit": 5}).get_json()
    again = owner.get(f"/channels/{channel_id}/videos", query_string={"sort": "title", "limit": 5}).get_json()
    assert again == first
    video_id = first["videos"][0]["id"]
    query(
        app_config["DATABASE_URL"], "UPDATE videos SET title = %s WHERE id = %s", ("AAA renamed on YouTube", video_id)
    )
    after = owner.get(f"/channels/{channel_id}/videos", query_string={"sort": "title", "limit": 5}).get_json()
    assert after["videos"][0] == {**first["videos"][0], "title": "AAA renamed on YouTube"}
