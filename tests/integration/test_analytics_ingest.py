"""The analytics ingest against the Google fake over HTTP: connect, sync, and
the sync's queued ingest fill video_daily_stats; later runs are incremental,
switch to the Reporting API's daily files once they exist, and record
refusals without stopping."""

from __future__ import annotations

from datetime import date, timedelta

from rq.job import Job

from jobs.enqueue import enqueue_analytics
from optimizer.youtube.ingest import HISTORY_DAYS, REVISED_DAYS, VIDEO_QUERIES_PER_RUN
from reliability.redis_clients import rq_client
from tests.fakes.google import fake_google_fixture
from tests.fakes.google.world import ANALYTICS_LAG_DAYS
from tests.helpers import register
from tests.integration.channel_helpers import import_demo
from tests.integration.youtube_helpers import channel_pk, connect_channel, query, run_worker_burst

fake_google = fake_google_fixture()
DAY = 24 * 3600


def _connect_and_sync(yt_app, yt_config, fake, n_videos: int = 3) -> tuple[int, list[str]]:
    """Connect a channel and run the worker: the sync, then the ingest it queues."""
    channel = fake.world.add_channel("alice", "Alice Bakes", n_videos=n_videos)
    client = yt_app.test_client()
    register(client)
    assert connect_channel(client, fake, "alice").status_code == 302
    assert run_worker_burst(yt_config).returncode == 0
    return channel_pk(yt_config, channel.id), list(channel.video_ids)


def _ingest_again(yt_config, channel_id: int, today: date) -> dict:
    connection = rq_client(yt_config["REDIS_URL"])
    enqueue_analytics(connection, channel_id, today.isoformat())
    assert run_worker_burst(yt_config).returncode == 0
    return _result(yt_config, channel_id)


def _result(yt_config, channel_id: int) -> dict:
    job = Job.fetch(f"analytics-channel-{channel_id}", connection=rq_client(yt_config["REDIS_URL"]))
    assert job.get_status() == "finished", job.latest_result()
    return job.return_value()


def _queries(fake) -> list:
    """The Analytics API's per-video queries (not the Reporting API's report lists)."""
    return [r for r in fake.requests_to("/reports", "GET") if r.path.startswith("/youtubeanalytics/")]


def _stats(yt_config, youtube_video_id: str) -> dict[date, tuple]:
    rows = query(
        yt_config,
        """SELECT s.day, s.views, s.engaged_views, s.estimated_minutes_watched, s.average_view_percentage
           FROM video_daily_stats s JOIN videos v ON v.id = s.video_id WHERE v.youtube_video_id = %s""",
        (youtube_video_id,),
    )
    return {row[0]: row[1:] for row in rows}


def test_per_video_queries_until_reports_exist_then_only_missing_days_plus_revised(yt_app, yt_config, fake_google):
    today = fake_google.clock.utcnow().date()
    channel_id, videos = _connect_and_sync(yt_app, yt_config, fake_google)

    first = _queries(fake_google)
    assert len(first) == len(videos)  # one query per video, the whole window in it
    for request in first:
        assert request.args["ids"] == "channel==MINE"
        assert request.args["dimensions"] == "day"
        assert request.args["filters"].startswith("video==")
        assert request.args["startDate"] == (today - timedelta(days=HISTORY_DAYS)).isoformat()
        assert request.args["endDate"] == (today - timedelta(days=1)).isoformat()
    last_stored = today - timedelta(days=ANALYTICS_LAG_DAYS)
    stats = _stats(yt_config, videos[0])
    assert max(stats) == last_stored and len(stats) == HISTORY_DAYS - ANALYTICS_LAG_DAYS + 1
    numbers = fake_google.world.daily_numbers(videos[0], last_stored)
    assert stats[last_stored][:3] == (numbers.views, numbers.engaged_views, numbers.minutes_watched)
    assert float(stats[last_stored][3]) == numbers.average_view_percentage
    # The reporting job was made on this first ingest; it has no file yet.
    [(job_id,)] = query(yt_config, "SELECT reporting_job_id FROM channels WHERE id = %s", (channel_id,))
    assert job_id in fake_google.reporting.jobs
    assert len(fake_google.requests_to("/jobs", "POST")) == 1

    fake_google.reset_counters()
    fake_google.clock.advance(DAY)  # a day on: still no report file (they come about two days after the job)
    result = _ingest_again(yt_config, channel_id, today + timedelta(days=1))
    assert result["source"] == "analytics" and result["videos"] == len(videos)
    second = _queries(fake_google)
    assert len(second) == len(videos)
    for request in second:  # the days not stored yet, plus the last REVISED_DAYS stored again
        assert request.args["startDate"] == (last_stored - timedelta(days=REVISED_DAYS - 1)).isoformat()
        assert request.args["endDate"] == today.isoformat()
    assert fake_google.requests_to("/jobs", "POST") == []  # the job is made once
    again = _stats(yt_config, videos[0])
    assert len(again) == len(stats) + 1  # upserts: the re-fetched days are not doubled
    assert {day: again[day] for day in stats} == stats


def test_reporting_files_are_read_once_and_replace_per_video_queries(yt_app, yt_config, fake_google):
    today = fake_google.clock.utcnow().date()
    channel_id, videos = _connect_and_sync(yt_app, yt_config, fake_google)
    fake_google.clock.advance(3 * DAY)  # files for the job's first two days exist now
    fake_google.reset_counters()

    result = _ingest_again(yt_config, channel_id, today + timedelta(days=3))
    assert result["source"] == "reporting" and result["reports_read"] == 2
    assert _queries(fake_google) == []  # no per-video Analytics query
    downloads = [r for r in fake_google.requests if "/media/" in r.path]
    assert len(downloads) == 2
    stats = _stats(yt_config, videos[1])
    for day in (today, today + timedelta(days=1)):  # the CSV's per-country rows summed back to the day's numbers
        numbers = fake_google.world.daily_numbers(videos[1], day)
        assert stats[day][:3] == (numbers.views, numbers.engaged_views, numbers.minutes_watched)
    [(files,)] = query(yt_config, "SELECT count(*) FROM reporting_files_read WHERE channel_id = %s", (channel_id,))
    assert files == 2

    fake_google.reset_counters()
    result = _ingest_again(yt_config, channel_id, today + timedelta(days=3))
    assert result["reports_read"] == 0 and result["rows"] == 0
    assert [r for r in fake_google.requests if "/media/" in r.path] == []  # each file is read once
    assert _queries(fake_google) == []


def test_backend_errors_are_retried_once_then_recorded_and_quota_stops_the_channel(yt_app, yt_config, fake_google):
    fake_google.world.add_channel("alice", "Alice Bakes", n_videos=3)
    fake_google.faults.inject("backendError", times=2, endpoint="reports.query")  # the first video, twice
    client = yt_app.test_client()
    register(client)
    connect_channel(client, fake_google, "alice")
    assert run_worker_burst(yt_config).returncode == 0
    channel_id = query(yt_config, "SELECT id FROM channels WHERE NOT is_demo")[0][0]

    result = _result(yt_config, channel_id)
    queries = _queries(fake_google)
    assert len(queries) == 3 + 1  # the first video asked twice (one retry), the other two once
    assert queries[0].args["filters"] == queries[1].args["filters"]
    assert result["failed"] == [queries[0].args["filters"].removeprefix("video==")]
    assert result["error"] == "backendError" and result["videos"] == 2
    ledger = query(yt_config, "SELECT api, method, units FROM quota_ledger WHERE api <> 'youtube' ORDER BY id")
    assert ("analytics", "reports.query", 0) in ledger  # the refused calls are in the ledger, at no cost
    assert sum(units for api, method, units in ledger if method == "reports.query") == 2
    # The Data API's daily budget (api = 'youtube') counts no Analytics or Reporting call.
    assert query(yt_config, "SELECT count(*) FROM quota_ledger WHERE api = 'youtube' AND method = 'reports.query'") == [
        (0,)
    ]
    assert {api for api, _, _ in ledger} == {"analytics", "reporting"}

    fake_google.reset_counters()
    fake_google.faults.inject("quotaExceeded", times=2, endpoint="reports.query")
    today = fake_google.clock.utcnow().date()
    result = _ingest_again(yt_config, channel_id, today)
    assert len(_queries(fake_google)) == 2  # tried once more, then the channel waits
    assert result["error"] == "quotaExceeded" and len(result["failed"]) == 1 and result["videos"] == 0


def test_revoked_access_disconnects_the_channel(yt_app, yt_config, fake_google):
    channel_id, _ = _connect_and_sync(yt_app, yt_config, fake_google)
    fake_google.oauth.revoke_all("alice")  # removed at myaccount.google.com/permissions
    result = _ingest_again(yt_config, channel_id, fake_google.clock.utcnow().date())
    assert result["source"] == "disconnected"
    [(status,)] = query(yt_config, "SELECT status FROM channels WHERE id = %s", (channel_id,))
    assert status == "disconnected"
    [(reason,)] = query(yt_config, "SELECT details->>'reason' FROM audit_log WHERE action = 'channel.disconnected'")
    assert reason == "invalid_grant"


def test_a_token_refused_after_refresh_disconnects_the_channel(yt_app, yt_config, fake_google):
    channel_id, _ = _connect_and_sync(yt_app, yt_config, fake_google)
    fake_google.faults.inject("authError", times=2, endpoint="jobs.reports.list")  # 401, refresh, 401 again
    result = _ingest_again(yt_config, channel_id, fake_google.clock.utcnow().date())
    assert result["source"] == "disconnected"
    assert len(fake_google.requests_to("/token", "POST")) >= 1
    [(status,)] = query(yt_config, "SELECT status FROM channels WHERE id = %s", (channel_id,))
    assert status == "disconnected"


def test_the_demo_channel_keeps_its_numbers_and_calls_nobody(yt_app, yt_config, fake_google):
    client = yt_app.test_client()
    register(client)
    channel_id = import_demo(client)
    before = query(
        yt_config,
        "SELECT count(*), sum(s.views) FROM video_daily_stats s JOIN videos v ON v.id = s.video_id "
        "WHERE v.channel_id = %s",
        (channel_id,),
    )
    result = _ingest_again(yt_config, channel_id, fake_google.clock.utcnow().date())
    assert result["source"] == "skipped"
    assert fake_google.requests == []
    assert before[0][0] > 0
    assert (
        query(
            yt_config,
            "SELECT count(*), sum(s.views) FROM video_daily_stats s JOIN videos v ON v.id = s.video_id "
            "WHERE v.channel_id = %s",
            (channel_id,),
        )
        == before
    )


def test_a_big_channel_is_queried_a_bounded_number_of_videos_per_run_never_fetched_first(
    yt_app, yt_config, fake_google
):
    """Until the Reporting API's files exist, one run asks about at most
    VIDEO_QUERIES_PER_RUN videos; the next run starts with the ones never fetched."""
    today = fake_google.clock.utcnow().date()
    channel_id, videos = _connect_and_sync(yt_app, yt_config, fake_google, n_videos=VIDEO_QUERIES_PER_RUN + 2)
    first = _queries(fake_google)
    assert len(first) == VIDEO_QUERIES_PER_RUN
    asked = {r.args["filters"].removeprefix("video==") for r in first}
    missing = set(videos) - asked
    assert len(missing) == 2

    fake_google.reset_counters()
    _ingest_again(yt_config, channel_id, today)
    second = _queries(fake_google)
    assert len(second) == VIDEO_QUERIES_PER_RUN
    assert {r.args["filters"].removeprefix("video==") for r in second[:2]} == missing
    assert all(_stats(yt_config, video) for video in missing)
