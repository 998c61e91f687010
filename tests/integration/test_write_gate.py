"""Every path that writes to YouTube refuses metadata YouTube would refuse
before a unit is spent: the review panel's Apply, Apply accepted on a batch,
"Apply my version" after a conflict, Restore, the apply job itself, and the
client's PUT. Each is tried against the Google fake with a title holding
< and >: the answer says why, the fake sees no write and no read, and the
quota ledger gains nothing."""

from __future__ import annotations

import psycopg2.extras
import pytest
import redis

from jobs.enqueue import enqueue_apply
from optimizer.youtube.client import YouTubeClient
from optimizer.youtube.gate import WriteRefused
from tests.fakes.google import fake_google_fixture
from tests.integration.channel_helpers import post_form
from tests.integration.optimize_helpers import burst, connect_synced, query

fake_google = fake_google_fixture()
BAD_TITLE = "Crusty <b>bread</b> at home"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def synced(creator, fake_google, yt_config):
    """A connected channel of two synced videos; what sync spent is the baseline."""
    channel = connect_synced(creator, fake_google, yt_config, "alice", 2)
    fake_google.reset_counters()
    return {**channel, "url": yt_config["DATABASE_URL"], "units": _units(yt_config["DATABASE_URL"])}


def _units(url: str) -> int:
    return query(url, "SELECT coalesce(sum(units), 0)::int AS n FROM quota_ledger WHERE api = 'youtube'")[0]["n"]


def _suggestion(url: str, video_id: int, status: str, title: str, *, conflict: bool = False) -> int:
    """A suggestion in a state the pages lead to, whose saved draft holds ``title``
    (saved before today's checks, or made by hand: the gate must not trust it)."""
    [row] = query(
        url,
        """SELECT v.channel_id, (SELECT max(id) FROM metadata_versions WHERE video_id = v.id) AS base,
                                 (SELECT id FROM users WHERE email = 'creator@example.com') AS user_id
                          FROM videos v WHERE v.id = %s""",
        (video_id,),
    )
    [run] = query(
        url,
        """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, video_count)
                          VALUES (%s, %s, md5(random()::text), 1) RETURNING id""",
        (row["channel_id"], row["user_id"]),
    )
    query(
        url,
        "INSERT INTO optimization_run_videos (run_id, video_id, position, status) VALUES (%s, %s, 0, 'done')",
        (run["id"], video_id),
    )
    [s] = query(
        url,
        """INSERT INTO suggestions (run_id, video_id, base_version_id, prior_version_id, status, engine,
                                                 prompt_version, titles, description, tags, cache_key, approved_title,
                                                 conflict, decided_by, decided_at)
                        VALUES (%s, %s, %s, %s, %s, 'heuristic', 'p', %s, 'A description', %s, 'c', %s, %s, %s, now())
                        RETURNING id""",
        (
            run["id"],
            video_id,
            row["base"],
            row["base"],
            status,
            psycopg2.extras.Json([{"title": "A fine title", "rationale": "r"}] * 3),
            ["bread"],
            title,
            psycopg2.extras.Json({"title": "Changed"}) if conflict else None,
            row["user_id"],
        ),
    )
    return s["id"]


def _nothing_spent(fake, synced) -> None:
    assert fake.requests_to("/videos", "PUT") == [] and fake.calls["videos.update"] == 0
    assert fake.calls["videos.list"] == 0  # not even the read before the write
    assert query(synced["url"], "SELECT count(*)::int AS n FROM quota_ledger WHERE method = 'videos.update'") == [
        {"n": 0}
    ]
    assert _units(synced["url"]) == synced["units"]


def _refusal(response) -> str:
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "youtube_limits"
    return error["message"]


def test_apply_on_the_review_panel_is_refused(creator, fake_google, synced):
    s = _suggestion(synced["url"], synced["videos"][0], "pending", "A fine title")
    response = post_form(
        creator,
        f"/channels/{synced['id']}/suggestions/{s}/decide",
        {"action": "apply", "title_index": "custom", "title": BAD_TITLE},
        headers=HTMX,
    )
    assert "Remove < and > from the title" in _refusal(response)
    assert query(synced["url"], "SELECT status FROM suggestions WHERE id = %s", (s,)) == [{"status": "pending"}]
    _nothing_spent(fake_google, synced)


def test_apply_accepted_refuses_the_whole_batch_and_names_the_video(creator, fake_google, synced, yt_config):
    good = _suggestion(synced["url"], synced["videos"][0], "accepted", "A fine title")
    bad = _suggestion(synced["url"], synced["videos"][1], "accepted", BAD_TITLE)
    # Both in one run, as a batch would be.
    query(
        synced["url"],
        "UPDATE suggestions SET run_id = (SELECT run_id FROM suggestions WHERE id = %s) WHERE id = %s",
        (good, bad),
    )
    query(
        synced["url"],
        "UPDATE optimization_run_videos SET run_id = (SELECT run_id FROM suggestions WHERE id = %s) "
        "WHERE video_id = %s",
        (good, synced["videos"][1]),
    )
    [run] = query(synced["url"], "SELECT run_id FROM suggestions WHERE id = %s", (good,))
    [video] = query(synced["url"], "SELECT title FROM videos WHERE id = %s", (synced["videos"][1],))
    response = post_form(creator, f"/channels/{synced['id']}/runs/{run['run_id']}/apply-accepted", headers=HTMX)
    message = _refusal(response)
    assert f"For “{video['title']}”" in message and "Remove < and > from the title" in message
    assert query(synced["url"], "SELECT status FROM suggestions ORDER BY id") == [{"status": "accepted"}] * 2
    burst(yt_config)  # nothing was queued
    _nothing_spent(fake_google, synced)


def test_apply_my_version_after_a_conflict_is_refused_and_keeps_the_conflict(creator, fake_google, synced):
    s = _suggestion(synced["url"], synced["videos"][0], "failed", BAD_TITLE, conflict=True)
    response = post_form(creator, f"/channels/{synced['id']}/suggestions/{s}/resolve", {"keep": "mine"}, headers=HTMX)
    assert "Remove < and > from the title" in _refusal(response)
    assert query(
        synced["url"], "SELECT status, conflict IS NOT NULL AS conflict FROM suggestions WHERE id = %s", (s,)
    ) == [{"status": "failed", "conflict": True}]
    _nothing_spent(fake_google, synced)


def test_restoring_a_version_youtube_would_refuse_is_refused(creator, fake_google, synced, yt_config):
    video = synced["videos"][0]
    [old] = query(
        synced["url"],
        """INSERT INTO metadata_versions (video_id, source, title, description, tags, content_hash)
                                    VALUES (%s, 'sync', %s, 'Old description', '{}', 'old') RETURNING id""",
        (video, BAD_TITLE),
    )
    query(
        synced["url"],
        """INSERT INTO metadata_versions (video_id, source, title, description, tags, content_hash)
                            SELECT id, 'sync', title, description, tags, 'now' FROM videos WHERE id = %s""",
        (video,),
    )
    url = f"/channels/{synced['id']}/videos/{video}/versions/{old['id']}/restore"
    assert "Remove < and > from the title" in _refusal(post_form(creator, url, headers=HTMX))
    plain = post_form(creator, url)  # a plain form: sent back to History with the reason
    assert plain.status_code == 303
    assert "Remove &lt; and &gt; from the title" in creator.get(plain.headers["Location"]).get_data(as_text=True)
    assert query(synced["url"], "SELECT count(*)::int AS n FROM suggestions") == [{"n": 0}]
    burst(yt_config)
    _nothing_spent(fake_google, synced)


def test_the_apply_job_refuses_before_reading_or_writing(fake_google, synced, yt_config):
    """Whatever queued it (a path to come, such as an automatic restore), the job checks first."""
    s = _suggestion(synced["url"], synced["videos"][0], "applying", BAD_TITLE)
    connection = redis.Redis.from_url(yt_config["REDIS_URL"])
    enqueue_apply(connection, s)
    connection.close()
    burst(yt_config)
    [row] = query(synced["url"], "SELECT status, apply_error FROM suggestions WHERE id = %s", (s,))
    assert row["status"] == "failed"
    assert row["apply_error"].startswith("Nothing was sent to YouTube.") and "Remove < and >" in row["apply_error"]
    _nothing_spent(fake_google, synced)


def test_the_client_never_sends_a_snippet_youtube_would_refuse(fake_google):
    channel = fake_google.world.add_channel("bob", n_videos=1)
    token = fake_google.oauth.issue_tokens("bob")["access_token"]
    client = YouTubeClient(fake_google.youtube_base_url, lambda _force: token)
    with pytest.raises(WriteRefused, match="Remove < and > from the title"):
        client.update_video_snippet(channel.video_ids[0], {"title": BAD_TITLE, "categoryId": "22"})
    assert fake_google.requests_to("/videos", "PUT") == [] and fake_google.quota.used() == 0
