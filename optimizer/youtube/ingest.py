"""Daily per-video analytics into video_daily_stats, for one channel.

Two sources (see analytics.py). The Reporting API's daily file holds every
video at once, so once the channel's reporting job has files, each file is
read once (its id kept in reporting_files_read) and no per-video query is
made. Until then (the job's first files come about two days after it is
created) the Analytics API is asked one video at a time, incrementally:
only the days not yet stored, plus the last ``REVISED_DAYS`` stored days
again, since YouTube revises them. Every write is an upsert.

The reporting job is created by the first ingest of a channel, which the
sync queued right after connecting. The demo channel keeps its generated
numbers and never calls Google. Failures are answers, not crashes: a revoked
token disconnects the channel (as everywhere else); a 5xx answer (after the
client's one retry) is recorded in the result and the other videos go on; a
403 (quota spent, after one retry, or no analytics permission) stops the
channel's run, since every other call would be refused too. Tomorrow's run
fetches whatever is still missing.

At the switch from queries to files a day or two may stay without numbers
(the last days the queries had not reached, before the job's first file)
unless YouTube backfills them; the verdicts read a missing day as no data,
never as zero.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from optimizer import retention
from optimizer.youtube import analytics_store, quota
from optimizer.youtube.analytics import ReportingClient, newest_basic_report, parse_basic_report
from optimizer.youtube.client import AuthError, Call, YouTubeError
from optimizer.youtube.factory import AnalyticsClients, AnalyticsFactory
from optimizer.youtube.tokens import ChannelDisconnected, mark_disconnected
from reliability.db import Cursor, transaction

log = logging.getLogger(__name__)

REVISED_DAYS = 3  # YouTube revises its latest days: these are fetched again
# A video's first fetch reaches back this far: the verdict's history (optimizer/verdict.py HISTORY_DAYS, not imported
# here so the ingest needs no numpy) for a change made today; tests/unit/test_experiment_rules.py checks they agree.
# One query a video whatever the span, so a longer reach costs no quota.
HISTORY_DAYS = 168
# Per-video Analytics queries in one run, until the Reporting API's files take over
# (about two days after connecting): the rest wait for the next daily run, so a
# 5,000-video channel does not spend thousands of queries (and minutes) at once.
VIDEO_QUERIES_PER_RUN = 200
# Per-video queries in one run that fetch old days again before the retention
# limit: a video is due every DATA_RETENTION_DAYS / 2 days, so at the default 30
# this keeps a channel of up to 6,000 videos within the limit.
REFRESH_QUERIES_PER_RUN = 400

# What an ingest did (IngestResult.source).
REPORTING = "reporting"
ANALYTICS = "analytics"
SKIPPED = "skipped"  # the demo channel, or one no longer connected
DISCONNECTED = "disconnected"


@dataclass
class IngestResult:
    channel_id: int
    source: str
    rows: int = 0
    videos: int = 0
    reports_read: int = 0
    refreshed: int = 0  # videos whose old days were fetched again (the retention limit)
    failed: list[str] = field(default_factory=list)  # video or report ids left for the next run
    error: str | None = None  # the last refusal's reason, e.g. quotaExceeded, backendError

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PendingCalls:
    """Calls made since the last commit, by API; written with the next rows."""

    calls: list[tuple[str, Call]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, api: str, call: Call) -> None:
        with self._lock:
            self.calls.append((api, call))

    def flush(self, cur: Cursor, channel_id: int) -> int:
        with self._lock:
            calls, self.calls = self.calls, []
        by_api: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for api, call in calls:
            by_api[api].append((call.method, call.units))
        return sum(quota.record_api_calls(cur, api, rows, channel_id=channel_id) for api, rows in by_api.items())


def ingest_channel(channel_id: int, factory: AnalyticsFactory, today: date, retention_days: int) -> IngestResult:
    """Fetch and store the channel's daily stats up to yesterday, and fetch
    again the stored days half-way to ``retention_days`` old (``today`` is
    the caller's: the cron passes the real date, tests their own)."""
    with transaction() as cur:
        channel = analytics_store.channel_for_ingest(cur, channel_id)
    if channel is None or channel["is_demo"] or channel["status"] != "connected":
        return IngestResult(channel_id, SKIPPED)
    pending = PendingCalls()
    try:
        clients = factory(channel_id, pending.add)
        result = _ingest(channel, clients, pending, today)
        _refresh_old_days(result, clients, pending, today, retention_days)
        return result
    except ChannelDisconnected as exc:  # invalid_grant at refresh: the token source marked it
        return IngestResult(channel_id, DISCONNECTED, error=exc.code)
    except AuthError as exc:  # refused even after a refresh: access is gone
        with transaction() as cur:
            mark_disconnected(cur, channel_id, "analytics_unauthorized")
        return IngestResult(channel_id, DISCONNECTED, error=exc.reason)
    finally:
        with transaction() as cur:
            pending.flush(cur, channel_id)


def _ingest(channel: dict[str, Any], clients: AnalyticsClients, pending: PendingCalls, today: date) -> IngestResult:
    job_id = _reporting_job(channel, clients.reporting)
    reports = _reports(clients.reporting, job_id) if job_id else []
    if reports:
        return _read_reports(channel["id"], clients.reporting, reports, pending)
    return _query_videos(channel["id"], clients, pending, today)


def _reporting_job(channel: dict[str, Any], reporting: ReportingClient) -> str | None:
    """The channel's channel_basic job: the stored one, an existing one of
    the same type (YouTube refuses a second with 409), or a new one."""
    if channel["reporting_job_id"]:
        return str(channel["reporting_job_id"])
    try:
        report_type = newest_basic_report(reporting.report_type_ids())
        job = next((j for j in reporting.jobs() if j.get("reportTypeId") == report_type), None)
        job = job or reporting.create_job(report_type)
    except AuthError:
        raise
    except YouTubeError as exc:  # per-video queries still work; the next run tries again
        log.warning("reporting job not created", extra={"channel_id": channel["id"], "reason": exc.reason})
        return None
    with transaction() as cur:
        analytics_store.set_reporting_job(cur, channel["id"], job["id"])
    return str(job["id"])


def _reports(reporting: ReportingClient, job_id: str) -> list[dict[str, Any]]:
    try:
        return reporting.reports(job_id)
    except AuthError:
        raise
    except YouTubeError as exc:
        log.warning("report list failed", extra={"job_id": job_id, "reason": exc.reason})
        return []


def _read_reports(
    channel_id: int, reporting: ReportingClient, reports: list[dict[str, Any]], pending: PendingCalls
) -> IngestResult:
    """Each report file not read before, oldest created first (a backfill,
    created later, then replaces the day's rows)."""
    result = IngestResult(channel_id, REPORTING)
    with transaction() as cur:
        already = analytics_store.report_ids_read(cur, channel_id)
    for report in reports:
        if report["id"] in already:
            continue
        try:
            text = reporting.download(report["downloadUrl"])
        except AuthError:
            raise
        except YouTubeError as exc:
            _record_failure(result, report["id"], exc)
            if exc.status == 403:
                break
            continue
        result.rows += _store_report(channel_id, report, text, pending)
        result.reports_read += 1
    return result


def _store_report(channel_id: int, report: dict[str, Any], text: str, pending: PendingCalls) -> int:
    by_video = parse_basic_report(text)
    with transaction() as cur:
        ids = analytics_store.video_ids_by_youtube_id(cur, channel_id, by_video)
        # A video not synced yet has no row to hang its numbers on; the sync brings it in.
        rows = [(ids[video], day) for video, days in by_video.items() if video in ids for day in days]
        written = analytics_store.upsert_days(cur, rows)
        analytics_store.mark_report_read(cur, report["id"], channel_id, _day_of(report["startTime"]), written)
        pending.flush(cur, channel_id)
    return written


def _query_videos(channel_id: int, clients: AnalyticsClients, pending: PendingCalls, today: date) -> IngestResult:
    result = IngestResult(channel_id, ANALYTICS)
    last = today - timedelta(days=1)
    with transaction() as cur:
        videos = analytics_store.videos_to_fetch(cur, channel_id, today, VIDEO_QUERIES_PER_RUN)
    for video in videos:
        first = first_day_to_fetch(video["published_day"], video["last_day"], today)
        if first > last:
            continue
        if not _fetch_days(result, clients, pending, video, first, last):
            break
    return result


def _refresh_old_days(
    result: IngestResult, clients: AnalyticsClients, pending: PendingCalls, today: date, retention_days: int
) -> None:
    """Stored days written before half the retention limit are asked for
    again (one query per video covers them all), so none reaches the limit
    and is deleted (optimizer/retention.py) while the channel is connected;
    days older than HISTORY_DAYS are not: no verdict reads them."""
    refreshed_before = retention.refresh_due(datetime.combine(today, time.min, tzinfo=UTC), retention_days)
    with transaction() as cur:
        videos = analytics_store.videos_with_old_days(
            cur, result.channel_id, refreshed_before, today - timedelta(days=HISTORY_DAYS), REFRESH_QUERIES_PER_RUN
        )
    for video in videos:
        if not _fetch_days(result, clients, pending, video, video["first_day"], video["last_day"]):
            break
        result.refreshed += 1


def _fetch_days(
    result: IngestResult,
    clients: AnalyticsClients,
    pending: PendingCalls,
    video: dict[str, Any],
    first: date,
    last: date,
) -> bool:
    """One video's days from ``first`` to ``last``, stored; False when the
    channel's run should stop."""
    try:
        days = clients.analytics.video_days(video["youtube_video_id"], first, last)
    except AuthError:
        raise
    except YouTubeError as exc:
        _record_failure(result, video["youtube_video_id"], exc)
        # 403: quota spent or no analytics permission: every other video would be refused too
        return exc.status != 403
    with transaction() as cur:
        result.rows += analytics_store.upsert_days(cur, [(video["id"], day) for day in days])
        pending.flush(cur, result.channel_id)
    result.videos += 1
    return True


def first_day_to_fetch(published_day: date, last_stored: date | None, today: date) -> date:
    """The days not stored yet plus the last REVISED_DAYS stored ones again;
    for a video with nothing stored, its history up to HISTORY_DAYS."""
    if last_stored is not None:
        return last_stored - timedelta(days=REVISED_DAYS - 1)
    return max(published_day, today - timedelta(days=HISTORY_DAYS))


def _record_failure(result: IngestResult, what: str, exc: YouTubeError) -> None:
    result.failed.append(what)
    result.error = exc.reason
    log.warning("analytics fetch failed", extra={"channel_id": result.channel_id, "item": what, "reason": exc.reason})


def _day_of(rfc3339: str) -> date:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).date()
