"""Optimizing demo-channel videos with no Claude or SerpAPI key: the
rule-based engine answers, through the real job and a real worker."""

import re

import pytest

from optimizer import limits
from tests.helpers import csrf_from, login, register
from tests.integration.youtube_helpers import query, run_worker_burst


@pytest.fixture
def demo(client, app_config):
    register(client)
    page = client.get("/channels")
    response = client.post("/channels/demo", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    channel_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    return channel_id


def _form(client, channel_id):
    html = client.get(f"/channels/{channel_id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    ids = [int(v) for v in re.findall(r'name="video_ids" value="(\d+)"', html)]
    return csrf_from(html), key, ids


def test_batch_of_five_gets_valid_rule_based_suggestions(client, app_config, demo):
    token, key, ids = _form(client, demo)
    response = client.post(
        f"/channels/{demo}/optimize", data={"csrf_token": token, "idempotency_key": key, "video_ids": ids[:5]}
    )
    assert response.status_code == 303
    run_url = response.headers["Location"]
    again = client.post(
        f"/channels/{demo}/optimize", data={"csrf_token": token, "idempotency_key": key, "video_ids": ids[:5]}
    )
    assert again.headers["Location"] == run_url  # a double click makes one run

    result = run_worker_burst(app_config)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = query(app_config, "SELECT engine, titles, description, tags, notes FROM suggestions")
    assert len(rows) == 5
    for engine, titles, description, tags, notes in rows:
        assert engine == "heuristic"
        assert len(titles) == 3
        assert limits.validate(titles[0]["title"], description, tags) == []
        assert any("ANTHROPIC_API_KEY" in n for n in notes)
        assert any("SERPAPI_API_KEY" in n for n in notes)
    page = client.get(run_url).get_data(as_text=True)
    assert "Done: 5 suggestions ready." in page
    assert "Rule-based" in page


def test_more_than_the_batch_limit_is_refused(client, app_config, demo):
    from webapp import create_app

    small_client = create_app({**app_config, "BATCH_MAX_VIDEOS": 3}).test_client()
    login(small_client)
    token, key, ids = _form(small_client, demo)
    refused = small_client.post(
        f"/channels/{demo}/optimize",
        data={"csrf_token": token, "idempotency_key": key, "video_ids": ids[:4]},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 400
    assert "at most 3 videos" in refused.get_json()["error"]["message"]
    assert query(app_config, "SELECT count(*) FROM optimization_runs") == [(0,)]
    accepted = small_client.post(
        f"/channels/{demo}/optimize", data={"csrf_token": token, "idempotency_key": key, "video_ids": ids[:3]}
    )
    assert accepted.status_code == 303


def test_apply_on_the_demo_channel_changes_the_stored_copy(client, app_config, demo):
    token, key, ids = _form(client, demo)
    response = client.post(
        f"/channels/{demo}/videos/{ids[0]}/optimize", data={"csrf_token": token, "idempotency_key": key}
    )
    run_url = response.headers["Location"]
    assert run_worker_burst(app_config).returncode == 0
    page = client.get(run_url).get_data(as_text=True)
    suggestion_id = re.search(r"/suggestions/(\d+)/apply", page).group(1)
    titles = query(app_config, "SELECT titles FROM suggestions WHERE id = %s", (suggestion_id,))[0][0]
    applied = client.post(
        f"/channels/{demo}/suggestions/{suggestion_id}/apply", data={"csrf_token": csrf_from(page), "title_index": "1"}
    )
    assert applied.status_code == 303
    assert run_worker_burst(app_config).returncode == 0
    assert query(app_config, "SELECT title FROM videos WHERE id = %s", (ids[0],)) == [(titles[1]["title"],)]
    assert query(app_config, "SELECT status FROM suggestions WHERE id = %s", (suggestion_id,)) == [("applied",)]
    sources = query(app_config, "SELECT source FROM metadata_versions WHERE video_id = %s ORDER BY id", (ids[0],))
    assert sources[-1] == ("apply",) and len(sources) >= 2  # the earlier version is kept
    assert "Applied" in client.get(run_url).get_data(as_text=True)


def test_an_unknown_run_or_sync_is_a_clear_404(client, demo):
    assert client.get(f"/channels/{demo}/runs/999999").status_code == 404
    htmx = client.get(f"/channels/{demo}/syncs/999999", headers={"HX-Request": "true"})
    assert htmx.status_code == 404 and htmx.get_json()["error"]["message"] == "No such sync."


@pytest.mark.parametrize("bad_id", ["²", "9" * 5000, "-1"])
def test_a_malformed_video_id_is_a_clear_error(client, app_config, demo, bad_id):
    token, key, _ = _form(client, demo)
    refused = client.post(
        f"/channels/{demo}/optimize",
        data={"csrf_token": token, "idempotency_key": key, "video_ids": [bad_id]},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 400
    assert "malformed" in refused.get_json()["error"]["message"]
    assert query(app_config, "SELECT count(*) FROM optimization_runs") == [(0,)]
