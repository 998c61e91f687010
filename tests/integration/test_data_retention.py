"""DATA_RETENTION_DAYS: what is kept from YouTube is refreshed within the
limit or deleted, through the real cron jobs (run by RQ) against the Google
fake over HTTP.

Time is controlled without touching our code: the jobs take ``now`` (the
cron leaves it to the clock), and the data's own clock is set by moving its
"fetched at" stamps into the past (``_age``), as if the sync and the ingest
had run that many days ago."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg2.extras import Json
from rq import Queue

from optimizer import retention
from reliability.redis_clients import rq_client
from tests.fakes.google import fake_google_fixture
from tests.integration.channel_helpers import import_demo, post_form
from tests.integration.optimize_helpers import burst, connect_synced
from tests.integration.youtube_helpers import query

fake_google = fake_google_fixture()
LIMIT = 30  # DATA_RETENTION_DAYS's default, which the tests' configuration keeps

# Every stamp that says when a row was last fetched from YouTube.
_STAMPS = (
    "UPDATE videos SET synced_at = synced_at - %(age)s",
    "UPDATE channels SET last_synced_at = last_synced_at - %(age)s, created_at = created_at - %(age)s",
    "UPDATE video_daily_stats SET refreshed_at = refreshed_at - %(age)s",
    "UPDATE transcripts SET fetched_at = fetched_at - %(age)s",
    "UPDATE metadata_versions SET created_at = created_at - %(age)s",
)


def _age(config: dict, days: int) -> None:
    """Everything stored was fetched ``days`` earlier than it was."""
    for statement in _STAMPS:
        query(config, statement + " RETURNING 1", {"age": timedelta(days=days)})


def _run(config: dict, function: str, *args):
    """A cron job as cron queues it, run by RQ's worker; its return value."""
    job = Queue("low", connection=rq_client(config["REDIS_URL"])).enqueue(function, *args)
    burst(config)
    job.refresh()
    assert job.get_status() == "finished", job.latest_result()
    return job.return_value()


def _count(config: dict, sql: str, params=()) -> int:
    return int(query(config, sql, params)[0][0])


def _creators_change(config: dict, channel_id: int, video_id: int) -> dict:
    """What an applied change leaves (as the apply job writes it): the
    version it would be restored to, the creator's approved version, the
    decided suggestion and its experiment."""
    [(user,)] = query(config, "SELECT id FROM users WHERE email = 'creator@example.com'")
    [(prior,)] = query(config, "SELECT max(id) FROM metadata_versions WHERE video_id = %s", (video_id,))
    [(run,)] = query(
        config,
        """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, video_count, status)
           VALUES (%s, %s, 'retention-test', 1, 'succeeded') RETURNING id""",
        (channel_id, user),
    )
    [(suggestion,)] = query(
        config,
        """INSERT INTO suggestions (run_id, video_id, status, engine, prompt_version, titles, description, tags,
                                    cache_key, approved_title, decided_by, decided_at, applied_at, prior_version_id)
           VALUES (%s, %s, 'applied', 'heuristic', 'p', %s, 'My own description', '{mine}', 'c', 'My own title',
                   %s, now(), now(), %s) RETURNING id""",
        (run, video_id, Json([{"title": "My own title", "rationale": "r"}]), user, prior),
    )
    [(version,)] = query(
        config,
        """INSERT INTO metadata_versions (video_id, source, title, description, tags, content_hash, created_by,
                                          suggestion_id)
           VALUES (%s, 'apply', 'My own title', 'My own description', '{mine}', 'h', %s, %s) RETURNING id""",
        (video_id, user, suggestion),
    )
    query(
        config,
        """INSERT INTO experiments (video_id, suggestion_id, applied_at, cooling_until)
           VALUES (%s, %s, now(), current_date + 7) RETURNING id""",
        (video_id, suggestion),
    )
    [(second_run,)] = query(
        config,
        """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, video_count, status)
           VALUES (%s, %s, 'retention-test-2', 1, 'succeeded') RETURNING id""",
        (channel_id, user),
    )
    return {"prior": prior, "suggestion": suggestion, "version": version, "run": second_run}


def _transcript(config: dict, video_id: int) -> None:
    query(
        config,
        "INSERT INTO transcripts (video_id, language, source, text) VALUES (%s, 'en', 'manual', 'hello') RETURNING 1",
        (video_id,),
    )


def _channel_stats(config: dict, channel_id: int) -> int:
    return _count(
        config,
        "SELECT count(*) FROM video_daily_stats s JOIN videos v ON v.id = s.video_id WHERE v.channel_id = %s",
        (channel_id,),
    )


def _stats_of(config: dict, video_id: int) -> int:
    return _count(config, "SELECT count(*) FROM video_daily_stats WHERE video_id = %s", (video_id,))


def test_a_connected_channel_is_refreshed_within_the_limit_and_what_was_not_is_deleted(creator, fake_google, yt_config):
    channel = connect_synced(creator, fake_google, yt_config, "alice", 3)  # the sync, then the ingest it queues
    kept, plain, gone = channel["videos"]
    assert all(_stats_of(yt_config, video) > 0 for video in channel["videos"])
    mine = _creators_change(yt_config, channel["id"], kept)
    _transcript(yt_config, kept)
    _transcript(yt_config, plain)
    fake_google.world.delete_video(channel["youtube_ids"][2])  # gone from YouTube: no sync will see it again
    audit_rows = _count(yt_config, "SELECT count(*) FROM audit_log")

    _age(yt_config, 20)  # past half the limit: due for a refresh
    [run_id] = _run(yt_config, "jobs.maintenance.sync_due_channels")
    [(status, requested_by)] = query(yt_config, "SELECT status, requested_by FROM sync_runs WHERE id = %s", (run_id,))
    assert (status, requested_by) == ("succeeded", None)  # the cron's sync ran, then queued the ingest
    refreshed = datetime.now(tz=UTC) - timedelta(hours=1)
    for video in (kept, plain):  # every stored day of a current video written again, in one query each
        assert (
            _count(
                yt_config,
                "SELECT count(*) FROM video_daily_stats WHERE video_id = %s AND refreshed_at < %s",
                (video, refreshed),
            )
            == 0
        )
        assert _stats_of(yt_config, video) > 0
    assert _stats_of(yt_config, gone) > 0  # not refreshed: nothing fetches a removed video's numbers

    _age(yt_config, 12)  # 32 days after the first fetch, 12 after the refresh
    done = _run(yt_config, "jobs.maintenance.enforce_data_retention")
    assert done["channels_blanked"] == 0
    assert [row[0] for row in query(yt_config, "SELECT id FROM videos ORDER BY id")] == [kept, plain]
    assert _stats_of(yt_config, kept) > 0 and _stats_of(yt_config, plain) > 0
    assert _count(yt_config, "SELECT count(*) FROM transcripts") == 0  # fetched 32 days ago, never again
    [(title, expired)] = query(yt_config, "SELECT title, expired_at FROM videos WHERE id = %s", (kept,))
    assert expired is None and title != "My own title"  # fresh from the sync: YouTube's own title
    versions = {row[0]: row[1] for row in query(yt_config, "SELECT id, source FROM metadata_versions")}
    # The creator's approved version and the one it would be restored to stay; old snapshots go.
    assert mine["version"] in versions and mine["prior"] in versions
    old_snapshots = "SELECT id FROM metadata_versions WHERE source = 'sync' AND created_at < now() - interval '30 days'"
    assert query(yt_config, old_snapshots) == [(mine["prior"],)]
    assert _count(yt_config, "SELECT count(*) FROM suggestions") == 1
    assert _count(yt_config, "SELECT count(*) FROM experiments") == 1
    assert _count(yt_config, "SELECT count(*) FROM audit_log") == audit_rows  # the trail is not YouTube's data


def test_a_disconnected_channels_youtube_data_goes_after_the_limit_and_the_creators_work_stays(
    creator, fake_google, yt_config
):
    channel = connect_synced(creator, fake_google, yt_config, "alice", 3)
    kept = channel["videos"][0]
    mine = _creators_change(yt_config, channel["id"], kept)
    _transcript(yt_config, kept)
    [(conflicted,)] = query(  # an apply that found YouTube's title changed, never resolved
        yt_config,
        """INSERT INTO suggestions (run_id, video_id, status, engine, prompt_version, titles, description, tags,
                                    cache_key, conflict, apply_error)
           SELECT %s, video_id, 'failed', engine, prompt_version, titles, description, tags, 'c2',
                  '{"title": "YouTube title then"}', 'changed' FROM suggestions WHERE id = %s RETURNING id""",
        (mine["run"], mine["suggestion"]),
    )
    demo = import_demo(creator)  # generated numbers, not YouTube's: never touched
    demo_rows = _channel_stats(yt_config, demo)
    disconnected = post_form(creator, f"/channels/{channel['id']}/disconnect", csrf_page=f"/channels/{channel['id']}")
    assert disconnected.status_code == 302
    assert "deleted" in creator.get(f"/channels/{channel['id']}").get_data(as_text=True)  # the flash says when
    audit_rows = _count(yt_config, "SELECT count(*) FROM audit_log")
    stats = _count(yt_config, "SELECT count(*) FROM video_daily_stats")
    now = datetime.now(tz=UTC)

    within = _run(yt_config, "jobs.maintenance.enforce_data_retention", (now + timedelta(days=LIMIT - 1)).isoformat())
    assert set(within.values()) == {0}
    assert _count(yt_config, "SELECT count(*) FROM video_daily_stats") == stats

    after = _run(yt_config, "jobs.maintenance.enforce_data_retention", (now + timedelta(days=LIMIT + 1)).isoformat())
    assert after["videos_deleted"] == 2 and after["videos_blanked"] == 1 and after["channels_blanked"] == 1
    [(conflict, apply_error, status)] = query(
        yt_config, "SELECT conflict, apply_error, status FROM suggestions WHERE id = %s", (conflicted,)
    )
    assert conflict is None and status == "failed" and "apply again" in apply_error
    youtube_rows = """SELECT count(*) FROM {table} t JOIN videos v ON v.id = t.video_id WHERE v.channel_id = %s"""
    for table in ("video_daily_stats", "transcripts"):
        assert _count(yt_config, youtube_rows.format(table=table), (channel["id"],)) == 0
    [video] = query(
        yt_config,
        """SELECT id, title, description, tags, view_count, published_at, thumbnail_url, expired_at
           FROM videos WHERE channel_id = %s""",
        (channel["id"],),
    )
    # Only the creator's own version of the metadata, and the video's id, are left.
    assert video[:7] == (kept, "My own title", "My own description", ["mine"], 0, None, None) and video[7]
    [(title, youtube_id, thumbnail, subscribers)] = query(
        yt_config,
        "SELECT title, youtube_channel_id, thumbnail_url, subscriber_count FROM channels WHERE id = %s",
        (channel["id"],),
    )
    assert (title, thumbnail, subscribers) == (youtube_id, None, None)
    assert {row[0] for row in query(yt_config, "SELECT id FROM metadata_versions WHERE video_id = %s", (kept,))} == {
        mine["prior"],
        mine["version"],
    }
    assert _count(yt_config, "SELECT count(*) FROM experiments WHERE suggestion_id = %s", (mine["suggestion"],)) == 1
    assert _count(yt_config, "SELECT count(*) FROM audit_log") == audit_rows
    assert _channel_stats(yt_config, demo) == demo_rows

    again = retention.enforce(now + timedelta(days=LIMIT + 1), LIMIT, batch_size=1)  # batch by batch: same end
    assert set(again.values()) == {0}
