"""Self-tests of the Google OAuth and YouTube Data API fakes, over real HTTP.

Why: every later test of the app's YouTube client trusts these fakes to refuse
what Google refuses; if a fake accepted a wrong PKCE verifier or kept fields
that videos.update erases, those tests would pass against a lie.
"""

from __future__ import annotations

import re
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask

from tests.fakes.google import (
    ALL_CHANNELS,
    APP_SCOPES,
    FakeGoogle,
    World,
    fake_google_fixture,
    s256,
)
from tests.fakes.server import FakeServer

fake_google = fake_google_fixture()
REDIRECT = "http://127.0.0.1:5000/oauth/google/callback"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def _authorize(fake: FakeGoogle, challenge: str | None, **overrides) -> requests.Response:
    params = {
        "client_id": fake.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": " ".join(APP_SCOPES),
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "access_type": "offline",
        "prompt": "consent",
        **overrides,
    }
    params = {k: v for k, v in params.items() if v is not None}
    return requests.get(fake.authorize_url, params=params, allow_redirects=False, timeout=5)


def _redirect_query(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _token(fake: FakeGoogle, auth=None, **form) -> requests.Response:
    if auth is None:
        form = {"client_id": fake.client_id, "client_secret": fake.client_secret, **form}
    return requests.post(fake.token_url, data=form, auth=auth, timeout=5)


def _connect(fake: FakeGoogle, **authorize_overrides) -> dict:
    verifier, challenge = _pkce()
    query = _redirect_query(_authorize(fake, challenge, **authorize_overrides))
    response = _token(
        fake, grant_type="authorization_code", code=query["code"], redirect_uri=REDIRECT, code_verifier=verifier
    )
    assert response.status_code == 200, response.text
    return response.json()


def _api(fake: FakeGoogle, token: str, path: str, method: str = "GET", **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, fake.youtube_base_url + path, headers=headers, timeout=5, **kwargs)


def _reason(response: requests.Response) -> str:
    body = response.json()["error"]
    assert set(body) >= {"code", "message", "errors", "status"} and body["code"] == response.status_code
    return body["errors"][0]["reason"]


# --- OAuth ------------------------------------------------------------------


def test_code_flow_with_pkce_passes_state_and_returns_google_shaped_tokens(fake_google):
    fake_google.world.add_channel("user-1")
    verifier, challenge = _pkce()
    query = _redirect_query(_authorize(fake_google, challenge))
    assert query["state"] == "state-123" and query["code"].startswith("4/")

    basic = (fake_google.client_id, fake_google.client_secret)  # client auth by HTTP Basic this time
    form = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT}
    wrong = _token(fake_google, auth=basic, **form, code_verifier=_pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"

    tokens = _token(fake_google, auth=basic, **form, code_verifier=verifier).json()
    assert set(tokens) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3599
    assert set(tokens["scope"].split()) == set(APP_SCOPES)
    reused = _token(fake_google, auth=basic, **form, code_verifier=verifier)
    assert reused.json()["error"] == "invalid_grant"
    assert fake_google.requests_to("/token")[0].headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"client_id": "someone-else"}, 401),
        ({"code_challenge": None}, 400),
        ({"code_challenge_method": "plain"}, 400),
        ({"access_type": None}, 400),
        ({"scope": APP_SCOPES[1]}, 400),
        ({"state": None}, 400),
        ({"response_type": "token"}, 400),
    ],
)
def test_authorize_refuses_incomplete_requests_with_an_error_page(fake_google, overrides, status):
    fake_google.world.add_channel("user-1")
    response = _authorize(fake_google, _pkce()[1], **overrides)
    assert response.status_code == status and "Location" not in response.headers


def test_denied_consent_redirects_with_access_denied_and_state(fake_google):
    fake_google.world.add_channel("user-1")
    fake_google.oauth.consent("user-1", deny=True)
    query = _redirect_query(_authorize(fake_google, _pkce()[1]))
    assert query == {"error": "access_denied", "state": "state-123"}


def test_refresh_and_refresh_token_only_on_first_or_forced_consent(fake_google):
    fake_google.world.add_channel("user-1")
    first = _connect(fake_google)
    refreshed = _token(fake_google, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert refreshed["access_token"] != first["access_token"] and "refresh_token" not in refreshed
    assert "refresh_token" not in _connect(fake_google, prompt=None)
    assert "refresh_token" in _connect(fake_google, prompt="consent")


def test_revoke_locks_out_refresh_and_api(fake_google):
    fake_google.world.add_channel("user-1")
    tokens = _connect(fake_google)
    assert (
        requests.post(fake_google.revoke_url, params={"token": tokens["refresh_token"]}, timeout=5).status_code == 200
    )
    refresh = _token(fake_google, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    again = requests.post(fake_google.revoke_url, params={"token": tokens["refresh_token"]}, timeout=5)
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"
    denied = _api(fake_google, tokens["access_token"], "/channels", params={"part": "id", "mine": "true"})
    assert denied.status_code == 401 and _reason(denied) == "authError"


def test_expired_refresh_token_and_access_token(fake_google):
    fake_google.world.add_channel("user-1")
    tokens = fake_google.oauth.issue_tokens("user-1")
    params = {"part": "id", "mine": "true"}
    charged_on = fake_google.quota.today()  # the clock moves past midnight Pacific at some hours of the day
    assert _api(fake_google, tokens["access_token"], "/channels", params=params).status_code == 200
    fake_google.clock.advance(3600)
    expired = _api(fake_google, tokens["access_token"], "/channels", params=params)
    assert expired.status_code == 401 and _reason(expired) == "authError"
    fake_google.oauth.expire_refresh_token(tokens["refresh_token"])
    refresh = _token(fake_google, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    days = {charged_on, fake_google.quota.today()}
    assert sum(fake_google.quota.used(day) for day in days) == 1  # a 401 costs nothing


# --- channels and paging ----------------------------------------------------


def test_mine_returns_the_channel_chosen_at_consent(fake_google):
    world = fake_google.world
    first, second = world.add_channel("user-1", "Main"), world.add_channel("user-1", "Brand")
    world.add_account("user-2")
    params = {"part": "snippet,contentDetails,statistics", "mine": "true"}

    def mine(**consent) -> dict:
        fake_google.oauth.consent(**consent)
        return _api(fake_google, _connect(fake_google)["access_token"], "/channels", params=params).json()

    assert [c["id"] for c in mine(subject="user-1")["items"]] == [first.id]
    picked = mine(subject="user-1", channel_id=second.id)["items"]
    assert [c["id"] for c in picked] == [second.id]
    assert picked[0]["contentDetails"]["relatedPlaylists"]["uploads"] == "UU" + second.id[2:]
    assert picked[0]["statistics"]["videoCount"] == "0"
    assert len(mine(subject="user-1", channel_id=ALL_CHANNELS)["items"]) == 2
    assert "items" not in mine(subject="user-2")  # Google leaves it out when empty


def test_pages_through_120_uploads_newest_first(fake_google):
    channel = fake_google.world.add_channel("user-1", n_videos=120)
    token = fake_google.oauth.issue_tokens("user-1")["access_token"]
    seen, page_token, pages = [], None, 0
    while True:
        params = {"part": "contentDetails", "playlistId": channel.uploads_playlist_id, "maxResults": 50}
        body = _api(fake_google, token, "/playlistItems", params={**params, "pageToken": page_token}).json()
        pages += 1
        assert body["pageInfo"] == {"totalResults": 120, "resultsPerPage": 50}
        assert set(body["items"][0]) == {"kind", "etag", "id", "contentDetails"}
        seen += [item["contentDetails"] for item in body["items"]]
        page_token = body.get("nextPageToken")
        if not page_token:
            break
    assert pages == 3 and len({s["videoId"] for s in seen}) == 120
    assert [s["videoId"] for s in seen] == [v.id for v in fake_google.world.uploads(channel.id)]
    assert seen == sorted(seen, key=lambda s: s["videoPublishedAt"], reverse=True)
    assert fake_google.quota.used_by_endpoint() == {"playlistItems.list": 3}


def test_bad_page_token_and_max_results_are_400(fake_google):
    channel = fake_google.world.add_channel("user-1", n_videos=3)
    token = fake_google.oauth.issue_tokens("user-1")["access_token"]
    params = {"part": "id", "playlistId": channel.uploads_playlist_id}
    bad = _api(fake_google, token, "/playlistItems", params={**params, "pageToken": "nonsense"})
    assert bad.status_code == 400 and _reason(bad) == "invalidPageToken"
    too_many = _api(fake_google, token, "/playlistItems", params={**params, "maxResults": 51})
    assert too_many.status_code == 400 and _reason(too_many) == "invalidParameter"
    missing = _api(fake_google, token, "/playlistItems", params={**params, "playlistId": "UUnothere"})
    assert missing.status_code == 404 and _reason(missing) == "playlistNotFound"


# --- videos.list ------------------------------------------------------------


def test_videos_list_returns_only_requested_parts_with_string_counts(fake_google):
    channel = fake_google.world.add_channel("user-1", n_videos=5)
    token = fake_google.oauth.issue_tokens("user-1")["access_token"]
    ids = ",".join(channel.video_ids + ["doesNotExis"])
    snippet_only = _api(fake_google, token, "/videos", params={"part": "snippet", "id": ids}).json()
    assert len(snippet_only["items"]) == 5  # the unknown id is silently left out
    assert all(set(item) == {"kind", "etag", "id", "snippet"} for item in snippet_only["items"])
    full = _api(fake_google, token, "/videos", params={"part": "snippet,contentDetails,statistics,status", "id": ids})
    item = full.json()["items"][0]
    assert all(isinstance(value, str) for value in item["statistics"].values())
    assert re.fullmatch(r"P(T(\d+H)?(\d+M)?(\d+S)?|0D)", item["contentDetails"]["duration"])
    unknown = _api(fake_google, token, "/videos", params={"part": "snippet,bogus", "id": ids})
    assert unknown.status_code == 400 and _reason(unknown) == "unknownPart"


def test_51_ids_are_refused_and_still_cost_a_unit(fake_google):
    fake_google.world.add_channel("user-1")
    token = fake_google.oauth.issue_tokens("user-1")["access_token"]
    ids = ",".join(f"id{n:09d}" for n in range(51))
    response = _api(fake_google, token, "/videos", params={"part": "id", "id": ids})
    assert response.status_code == 400 and _reason(response) == "invalidParameter"
    assert fake_google.quota.used() == 1


def test_max_results_with_ids_is_refused_as_google_documents(fake_google):
    channel = fake_google.world.add_channel("user-1", n_videos=2)
    token = fake_google.oauth.issue_tokens("user-1")["access_token"]
    params = {"part": "snippet", "id": ",".join(channel.video_ids)}
    response = _api(fake_google, token, "/videos", params={**params, "maxResults": 50})
    assert response.status_code == 400 and _reason(response) == "incompatibleParameters"
    error = response.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and "maxResults" in error["message"]
    assert len(_api(fake_google, token, "/videos", params=params).json()["items"]) == 2


def test_the_client_lists_videos_without_max_results(fake_google):
    from optimizer.youtube.client import YouTubeClient

    channel = fake_google.world.add_channel("user-1", n_videos=3)
    token = fake_google.oauth.issue_tokens("user-1")["access_token"]
    items = YouTubeClient(fake_google.youtube_base_url, lambda _force: token).videos(channel.video_ids)
    assert sorted(item["id"] for item in items) == sorted(channel.video_ids)


def test_others_private_videos_are_invisible(fake_google):
    world = fake_google.world
    theirs = world.add_channel("user-2", n_videos=2)
    hidden = world.update_video(theirs.video_ids[0], privacy_status="private")
    world.update_video(theirs.video_ids[1], privacy_status="public")
    world.add_channel("user-1")
    token = fake_google.oauth.issue_tokens("user-1")["access_token"]
    body = _api(fake_google, token, "/videos", params={"part": "id", "id": ",".join(theirs.video_ids)}).json()
    assert [item["id"] for item in body["items"]] == [theirs.video_ids[1]] and hidden.id not in str(body)


# --- videos.update ----------------------------------------------------------


def _owned_video(fake: FakeGoogle):
    channel = fake.world.add_channel("user-1")
    video = fake.world.add_video(channel.id, title="Old", tags=["a b", "c"], default_language="en", category_id="22")
    return video, fake.oauth.issue_tokens("user-1")["access_token"]


def test_update_replaces_the_whole_snippet(fake_google):
    video, token = _owned_video(fake_google)
    body = {"id": video.id, "snippet": {"title": "New title", "categoryId": "27"}}
    response = _api(fake_google, token, "/videos", "PUT", params={"part": "snippet"}, json=body)
    assert response.status_code == 200, response.text
    snippet = response.json()["snippet"]
    assert snippet["title"] == "New title" and snippet["description"] == "" and snippet["categoryId"] == "27"
    assert "tags" not in snippet and "defaultLanguage" not in snippet
    listed = _api(fake_google, token, "/videos", params={"part": "snippet", "id": video.id}).json()["items"][0]
    assert listed["snippet"] == snippet
    assert fake_google.update_bodies == [body] and fake_google.quota.used() == 51


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ({"categoryId": "22"}, "invalidTitle"),
        ({"title": "Fine"}, "invalidCategoryId"),
        ({"title": "x" * 101, "categoryId": "22"}, "invalidTitle"),
        ({"title": "a <b>", "categoryId": "22"}, "invalidTitle"),
        ({"title": "Fine", "categoryId": "22", "description": "é" * 2501}, "invalidDescription"),
        ({"title": "Fine", "categoryId": "22", "tags": ["ab cd"] * 71}, "invalidTags"),
    ],
)
def test_update_refuses_what_youtube_refuses(fake_google, snippet, reason):
    video, token = _owned_video(fake_google)
    response = _api(
        fake_google, token, "/videos", "PUT", params={"part": "snippet"}, json={"id": video.id, "snippet": snippet}
    )
    assert response.status_code == 400 and _reason(response) == reason
    assert fake_google.world.video(video.id).title == "Old"


def test_tags_at_exactly_500_by_youtube_count_are_accepted(fake_google):
    video, token = _owned_video(fake_google)
    tags = ["ab cd"] * 62 + ["abcd"]  # 62 * (5 + 2 for the space) + 4 + 62 commas = 500
    snippet = {"title": "Fine", "categoryId": "22", "tags": tags}
    response = _api(
        fake_google, token, "/videos", "PUT", params={"part": "snippet"}, json={"id": video.id, "snippet": snippet}
    )
    assert response.status_code == 200, response.text


def test_only_the_owner_may_update(fake_google):
    video, _ = _owned_video(fake_google)
    fake_google.world.add_channel("user-2")
    intruder = fake_google.oauth.issue_tokens("user-2")["access_token"]
    body = {"id": video.id, "snippet": {"title": "Mine now", "categoryId": "22"}}
    response = _api(fake_google, intruder, "/videos", "PUT", params={"part": "snippet"}, json=body)
    assert response.status_code == 403 and _reason(response) == "forbidden"


# --- captions ---------------------------------------------------------------


def test_captions_list_and_download_by_owner_only(fake_google):
    video, token = _owned_video(fake_google)
    fake_google.world.add_caption(video.id, "en", "asr", text="hello there\ngeneral kenobi")
    listed = _api(fake_google, token, "/captions", params={"part": "snippet", "videoId": video.id}).json()["items"]
    assert [(c["snippet"]["language"], c["snippet"]["trackKind"]) for c in listed] == [("en", "asr")]
    srt = _api(fake_google, token, f"/captions/{listed[0]['id']}", params={"tfmt": "srt"})
    assert srt.text.startswith("1\n00:00:00,000 --> 00:00:02,800\nhello there\n")
    vtt = _api(fake_google, token, f"/captions/{listed[0]['id']}", params={"tfmt": "vtt"})
    assert vtt.text.startswith("WEBVTT") and "00:00:03.000 --> 00:00:05.800\ngeneral kenobi" in vtt.text
    fake_google.world.add_channel("user-2")
    other = fake_google.oauth.issue_tokens("user-2")["access_token"]
    denied = _api(fake_google, other, f"/captions/{listed[0]['id']}", params={"tfmt": "srt"})
    assert denied.status_code == 403 and _reason(denied) == "forbidden"
    assert fake_google.quota.used_by_endpoint() == {"captions.list": 50, "captions.download": 600}


# --- quota, faults, latency -------------------------------------------------


def test_quota_exhaustion_answers_quota_exceeded_until_the_pacific_day_turns(fake_google):
    fake_google.world.add_channel("user-1")
    fake_google.quota.daily_limit = 3
    token = fake_google.oauth.issue_tokens("user-1")["access_token"]
    params = {"part": "id", "mine": "true"}
    statuses = [_api(fake_google, token, "/channels", params=params).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 403]
    refused = _api(fake_google, token, "/channels", params=params)
    error = refused.json()["error"]
    assert error["errors"][0] == {"message": error["message"], "domain": "youtube.quota", "reason": "quotaExceeded"}
    assert fake_google.quota.used() == 3 and fake_google.calls["channels.list"] == 5
    fake_google.clock.advance(24 * 3600)
    fresh = fake_google.oauth.issue_tokens("user-1")["access_token"]
    assert _api(fake_google, fresh, "/channels", params=params).status_code == 200


def test_injected_faults_hit_the_next_calls_then_stop(fake_google):
    channel = fake_google.world.add_channel("user-1", n_videos=1)
    token = fake_google.oauth.issue_tokens("user-1")["access_token"]
    fake_google.faults.inject("backendError", times=2, endpoint="videos.list")
    fake_google.faults.inject("serviceUnavailable")
    fake_google.faults.inject("rateLimitExceeded", endpoint="channels.list")
    params = {"part": "id", "id": channel.video_ids[0]}
    answers = [_api(fake_google, token, "/videos", params=params) for _ in range(4)]
    assert [r.status_code for r in answers] == [500, 500, 503, 200]
    assert _reason(answers[0]) == "backendError"
    limited = _api(fake_google, token, "/channels", params={"part": "id", "mine": "true"})
    assert limited.status_code == 403 and _reason(limited) == "rateLimitExceeded"
    assert fake_google.quota.used() == 1 and fake_google.faults.pending == 0
    fake_google.faults.inject("backendError", endpoint="oauth.token")
    assert _token(fake_google, grant_type="refresh_token", refresh_token="x").status_code == 500


def test_latency_is_added_to_every_api_call(fake_google):
    fake_google.world.add_channel("user-1")
    fake_google.latency_s = 0.05
    token = fake_google.oauth.issue_tokens("user-1")["access_token"]
    started = time.perf_counter()
    _api(fake_google, token, "/channels", params={"part": "id", "mine": "true"})
    assert time.perf_counter() - started >= 0.05


# --- world mutations and generation -----------------------------------------


def test_mutations_show_up_in_the_next_sync(fake_google):
    world = fake_google.world
    channel = world.add_channel("user-1", n_videos=3)
    token = fake_google.oauth.issue_tokens("user-1")["access_token"]
    gone, changed = channel.video_ids[0], channel.video_ids[1]
    world.delete_video(gone)
    world.set_statistics(changed, views=123456)
    world.update_video(changed, title="Edited in Studio")
    new = world.add_video(channel.id, title="Brand new")
    params = {"part": "contentDetails", "playlistId": channel.uploads_playlist_id, "maxResults": 50}
    body = _api(fake_google, token, "/playlistItems", params=params).json()
    ids = [item["contentDetails"]["videoId"] for item in body["items"]]
    assert ids[0] == new.id and gone not in ids and body["pageInfo"]["totalResults"] == 3
    listed = _api(
        fake_google, token, "/videos", params={"part": "snippet,statistics", "id": f"{gone},{changed}"}
    ).json()
    assert [item["id"] for item in listed["items"]] == [changed]
    assert listed["items"][0]["statistics"]["viewCount"] == "123456"
    assert listed["items"][0]["snippet"]["title"] == "Edited in Studio"


def test_five_thousand_videos_are_generated_quickly_and_deterministically():
    # CPU time of this process, not wall time: the bound is about the fake's own
    # work, which other processes on a busy machine must not push past it.
    started = time.process_time()
    first = World(seed=7)
    channel = first.add_channel("user-1", n_videos=5000)
    assert time.process_time() - started < 1.0
    second = World(seed=7).add_channel("user-1", n_videos=5000)
    assert channel.video_ids == second.video_ids and len(set(channel.video_ids)) == 5000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{11}", vid) for vid in channel.video_ids)
    assert re.fullmatch(r"UC[A-Za-z0-9_-]{22}", channel.id)
    videos = first.uploads(channel.id)
    assert {v.privacy_status for v in videos} == {"public", "unlisted", "private"}
    assert any(v.tags is None for v in videos) and any(v.captions for v in videos)


def test_unauthenticated_calls_get_401_and_the_request_log_sees_everything(fake_google):
    response = requests.get(
        fake_google.youtube_base_url + "/channels", params={"part": "id", "mine": "true"}, timeout=5
    )
    assert response.status_code == 401 and _reason(response) == "authError"
    assert "WWW-Authenticate" in response.headers
    (recorded,) = fake_google.requests_to("/channels")
    assert recorded.method == "GET" and recorded.args == {"part": "id", "mine": "true"}


def test_fake_server_runs_any_wsgi_app_on_an_ephemeral_port():
    app = Flask("tiny")
    app.get("/ping")(lambda: "pong")
    with FakeServer(app) as server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert requests.get(server.url + "/ping", timeout=5).text == "pong"
    assert not server.running
