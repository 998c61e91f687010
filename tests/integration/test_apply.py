"""Applying a suggestion: read-modify-write against the YouTube fake keeps
every field, a conflict stops the write, the demo channel works the same."""

import psycopg2.extras
import pytest

from optimizer.youtube.apply import apply_suggestion
from optimizer.youtube.client import YouTubeClient
from reliability.db import transaction
from tests.fakes.google import fake_google_fixture
from tests.integration.youtube_helpers import query

fake_google = fake_google_fixture()


def _one(config, sql, params=()):
    return query(config, sql, params)[0]


@pytest.fixture
def connected_video(app, fake_google):
    """A synced video of a channel at the fake, with a suggestion queued for the apply job."""
    channel = fake_google.world.add_channel("alice", "Alice Bakes", n_videos=1)
    yt = fake_google.world.uploads(channel.id)[0]
    fake_google.world.update_video(
        yt.id, tags=["bread", "baking tips"], category_id="26", default_language="de", default_audio_language="de-AT"
    )
    token = fake_google.oauth.issue_tokens("alice")["access_token"]
    with transaction() as cur:
        cur.execute("INSERT INTO users (email, password_hash) VALUES ('a@example.com', 'x') RETURNING id")
        user = cur.fetchone()["id"]
        cur.execute(
            """INSERT INTO channels (youtube_channel_id, title, created_by)
               VALUES (%s, 'Alice Bakes', %s) RETURNING id""",
            (channel.id, user),
        )
        channel_pk = cur.fetchone()["id"]
        live = fake_google.world.video(yt.id)
        cur.execute(
            """INSERT INTO videos (channel_id, youtube_video_id, title, description, tags) VALUES (%s, %s, %s, %s, %s)
                       RETURNING id""",
            (channel_pk, yt.id, live.title, live.description, live.tags),
        )
        video = cur.fetchone()["id"]
        cur.execute(
            """INSERT INTO metadata_versions (video_id, source, title, description, tags, content_hash)
                       VALUES (%s, 'sync', %s, %s, %s, 'h') RETURNING id""",
            (video, live.title, live.description, live.tags),
        )
        base = cur.fetchone()["id"]
        cur.execute(
            """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, video_count)
                       VALUES (%s, %s, 'k-apply-test', 1) RETURNING id""",
            (channel_pk, user),
        )
        run = cur.fetchone()["id"]
        cur.execute(
            """INSERT INTO suggestions (run_id, video_id, base_version_id, status, engine, prompt_version, titles,
                                                description, tags, cache_key, approved_title, decided_by)
                       VALUES (%s, %s, %s, 'applying', 'heuristic', 'p', %s, 'A better description', %s, 'c', %s, %s)
                       RETURNING id""",
            (
                run,
                video,
                base,
                psycopg2.extras.Json([{"title": "New Title", "rationale": "r"}] * 3),
                ["bread", "baking tips", "sourdough"],
                "New Title",
                user,
            ),
        )
        suggestion = cur.fetchone()["id"]
    client = YouTubeClient(fake_google.youtube_base_url, lambda _force: token)
    return {"yt": yt.id, "video": video, "suggestion": suggestion, "client_for": lambda _channel: client}


def test_apply_keeps_every_untouched_field(app_config, fake_google, connected_video):
    status = apply_suggestion(connected_video["suggestion"], client_for=connected_video["client_for"], cooling_days=7)
    assert status == "applied"
    live = fake_google.world.video(connected_video["yt"])
    assert live.title == "New Title" and live.description == "A better description"
    assert live.tags == ["bread", "baking tips", "sourdough"]
    assert (live.category_id, live.default_language, live.default_audio_language) == ("26", "de", "de-AT")
    assert len(fake_google.update_bodies) == 1
    sources = _one(
        app_config,
        "SELECT array_agg(source ORDER BY id) FROM metadata_versions WHERE video_id = %s",
        (connected_video["video"],),
    )[0]
    assert sources[-1] == "apply"
    assert _one(
        app_config, "SELECT status FROM experiments WHERE suggestion_id = %s", (connected_video["suggestion"],)
    ) == ("cooling",)


def test_a_retry_after_the_write_does_not_write_again(app_config, fake_google, connected_video):
    apply_suggestion(connected_video["suggestion"], client_for=connected_video["client_for"], cooling_days=7)
    with transaction() as cur:  # as if the worker died before recording the outcome
        cur.execute("UPDATE suggestions SET status = 'applying' WHERE id = %s", (connected_video["suggestion"],))
    assert (
        apply_suggestion(connected_video["suggestion"], client_for=connected_video["client_for"], cooling_days=7)
        == "applied"
    )
    assert len(fake_google.update_bodies) == 1


def test_a_change_made_on_youtube_meanwhile_is_a_conflict(app_config, fake_google, connected_video):
    fake_google.world.update_video(connected_video["yt"], title="Changed in YouTube Studio")
    status = apply_suggestion(connected_video["suggestion"], client_for=connected_video["client_for"], cooling_days=7)
    assert status == "failed"
    assert fake_google.update_bodies == []
    conflict = _one(
        app_config,
        "SELECT conflict->>'title', apply_error FROM suggestions WHERE id = %s",
        (connected_video["suggestion"],),
    )
    assert conflict[0] == "Changed in YouTube Studio" and "changed on YouTube" in conflict[1]
    latest = _one(
        app_config,
        "SELECT title FROM metadata_versions WHERE video_id = %s ORDER BY id DESC LIMIT 1",
        (connected_video["video"],),
    )
    assert latest == ("Changed in YouTube Studio",)  # what YouTube holds is kept in history
