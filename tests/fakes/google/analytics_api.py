"""HTTP endpoints of the fake YouTube Analytics API v2 and Reporting API v1.

    GET  /youtubeanalytics/v2/reports        ids, startDate, endDate, metrics, dimensions=day, filters=video==ID, sort
    GET  /youtubereporting/v1/reportTypes    the channel report types (channel_basic_a2 deprecated, a3)
    GET  /youtubereporting/v1/jobs           the caller's channel's jobs
    POST /youtubereporting/v1/jobs           {"reportTypeId", "name"}; 409 for a second job of a type
    GET  /youtubereporting/v1/jobs/<id>/reports            one report a day since the job's creation day
    GET  /youtubereporting/v1/media/<job id>/<report id>   the report's CSV

Numbers come from the world (World.daily_numbers), so a day fetched twice
answers the same and the Analytics and Reporting paths agree. Every call is
guarded like the Data API's (count, latency, injected fault, bearer token,
scope yt-analytics.readonly, quota) but charged to `fake.analytics_quota`:
these APIs have a quota of their own. Validation follows Google's answers:
400 with the usual error envelope for a missing or malformed parameter, an
unknown metric or dimension, or a start after the end; 403 for a channel or
video the caller does not own.

A report for day D appears when the fake's clock passes D + REPORT_DELAY,
counting from the job's creation day: the first file "about two days" after
the job was created, as Google says of a new job.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import Blueprint, Response, json, request

from . import errors
from .generate import rfc3339
from .oauth import YT_ANALYTICS_MONETARY, YT_ANALYTICS_READONLY, Grant
from .youtube_api import checked_grant

ANALYTICS_SCOPES = frozenset({YT_ANALYTICS_READONLY, YT_ANALYTICS_MONETARY})
METRICS = {
    "views": "views",
    "engagedViews": "engaged_views",
    "estimatedMinutesWatched": "minutes_watched",
    "averageViewDuration": "average_view_duration",
    "averageViewPercentage": "average_view_percentage",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "subscribersGained": "subscribers_gained",
}
FLOAT_METRICS = {"averageViewPercentage"}
REPORT_TYPES = (
    {"id": "channel_basic_a2", "name": "User activity", "deprecateTime": "2025-12-31T00:00:00Z"},
    {"id": "channel_basic_a3", "name": "User activity"},
    {"id": "channel_province_a3", "name": "User activity by province"},
)
CREATABLE = {"channel_basic_a3", "channel_province_a3"}
REPORT_DELAY = timedelta(days=2)
CSV_COLUMNS = (
    "date", "channel_id", "video_id", "live_or_on_demand", "subscribed_status", "country_code", "engaged_views",
    "views", "comments", "likes", "dislikes", "shares", "watch_time_minutes", "average_view_duration_seconds",
    "average_view_duration_percentage", "subscribers_gained", "subscribers_lost",
)  # fmt: skip
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class ReportingJob:
    id: str
    channel_id: str
    report_type_id: str
    name: str
    created: datetime

    def resource(self) -> dict:
        return {
            "id": self.id,
            "reportTypeId": self.report_type_id,
            "name": self.name,
            "createTime": rfc3339(self.created),
        }


class ReportingState:
    """The fake's reporting jobs, by id."""

    def __init__(self) -> None:
        self.jobs: dict[str, ReportingJob] = {}
        self._ids = itertools.count(1)

    def new_job_id(self) -> str:
        return f"job-{next(self._ids):04d}"


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _bad_request(message: str) -> errors.ApiError:
    return errors.ApiError(400, "badRequest", message)


def _date_arg(name: str) -> date:
    raw = request.args.get(name)
    if not raw:
        raise errors.required(name)
    if not _DATE.match(raw):
        raise _bad_request(f"Invalid value '{raw}'. Values must match the following regular expression: YYYY-MM-DD")
    return date.fromisoformat(raw)


def create_analytics_blueprints(fake) -> list[Blueprint]:
    world = fake.world
    state: ReportingState = fake.reporting

    def guard(endpoint: str) -> Grant:
        return checked_grant(fake, endpoint, ANALYTICS_SCOPES, fake.analytics_quota)

    analytics = Blueprint("youtube_analytics_v2", __name__, url_prefix="/youtubeanalytics/v2")
    reporting = Blueprint("youtube_reporting_v1", __name__, url_prefix="/youtubereporting/v1")
    for bp in (analytics, reporting):
        bp.register_error_handler(errors.ApiError, lambda err: err.response())

    @analytics.get("/reports")
    def reports_query():
        grant = guard("reports.query")
        channel_id = _channel_of_ids(grant)
        first, last = _date_arg("startDate"), _date_arg("endDate")
        if first > last:
            raise _bad_request("The query's start date is after its end date.")
        metrics = _metrics()
        dimensions = [d for d in (request.args.get("dimensions") or "").split(",") if d]
        if dimensions not in ([], ["day"]):
            raise _bad_request(f"fake: unsupported dimensions {','.join(dimensions)} (only day)")
        video_id = _video_filter(channel_id)
        sort = request.args.get("sort")
        if sort and sort.lstrip("-") not in [*dimensions, *metrics]:
            raise _bad_request(f"The sort field {sort} is neither a dimension nor a metric of the query.")
        headers = [{"name": "day", "columnType": "DIMENSION", "dataType": "STRING"}] if dimensions else []
        headers += [
            {"name": m, "columnType": "METRIC", "dataType": "FLOAT" if m in FLOAT_METRICS else "INTEGER"}
            for m in metrics
        ]
        rows = []
        with world.lock:
            day = first
            while day <= last:
                numbers = world.daily_numbers(video_id, day)
                if numbers is not None:
                    rows.append([day.isoformat(), *(getattr(numbers, METRICS[m]) for m in metrics)])
                day += timedelta(days=1)
        if sort == "-day":
            rows.reverse()
        body: dict = {"kind": "youtubeAnalytics#resultTable", "columnHeaders": headers}
        if rows:
            body["rows"] = rows  # Google leaves rows out when there is no data
        return _json(body)

    def _channel_of_ids(grant: Grant) -> str:
        ids = request.args.get("ids")
        if not ids:
            raise errors.required("ids")
        if ids == "channel==MINE":
            if not grant.channel_ids:
                raise errors.forbidden("Forbidden", "global")
            return grant.channel_ids[0]
        if ids.startswith("channel=="):
            wanted = ids.removeprefix("channel==")
            if wanted not in grant.channel_ids:
                raise errors.forbidden("Forbidden", "global")
            return wanted
        raise _bad_request(f"Invalid value '{ids}'. Values must match 'channel==...' or 'contentOwner==...'.")

    def _metrics() -> list[str]:
        raw = request.args.get("metrics")
        if not raw:
            raise errors.required("metrics")
        metrics = raw.split(",")
        for metric in metrics:
            if metric not in METRICS:
                raise _bad_request(f"Unknown identifier ({metric}) given in field parameters.metrics.")
        return metrics

    def _video_filter(channel_id: str) -> str:
        raw = request.args.get("filters") or ""
        if not raw.startswith("video=="):
            raise _bad_request("fake: the query needs filters=video==ID (a channel-wide daily report is not served)")
        video_id = raw.removeprefix("video==")
        if "," in video_id or ";" in video_id:
            raise _bad_request("fake: one video per query")
        with world.lock:
            video = world.videos.get(video_id)
            if video is None or video.channel_id != channel_id:
                raise errors.forbidden("Forbidden", "global")
        return video_id

    @reporting.get("/reportTypes")
    def report_types_list():
        guard("reportTypes.list")
        return _json({"reportTypes": list(REPORT_TYPES)})

    @reporting.get("/jobs")
    def jobs_list():
        grant = guard("jobs.list")
        jobs = [job.resource() for job in state.jobs.values() if job.channel_id in grant.channel_ids]
        return _json({"jobs": jobs} if jobs else {})

    @reporting.post("/jobs")
    def jobs_create():
        grant = guard("jobs.create")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise errors.parse_error()
        if not body.get("name"):
            raise _bad_request("The job's name is required.")
        report_type = body.get("reportTypeId")
        if report_type not in CREATABLE:
            raise _bad_request(f"The report type {report_type!r} does not exist or is deprecated.")
        channel_id = grant.channel_ids[0]
        if any(j.channel_id == channel_id and j.report_type_id == report_type for j in state.jobs.values()):
            raise errors.ApiError(409, "alreadyExists", "Job already exists.")
        job = ReportingJob(state.new_job_id(), channel_id, report_type, body["name"], fake.clock.utcnow())
        state.jobs[job.id] = job
        return _json(job.resource())

    def _own_job(grant: Grant, job_id: str) -> ReportingJob:
        job = state.jobs.get(job_id)
        if job is None or job.channel_id not in grant.channel_ids:
            raise errors.not_found("notFound", "Requested entity was not found.", "global")
        return job

    @reporting.get("/jobs/<job_id>/reports")
    def jobs_reports_list(job_id: str):
        grant = guard("jobs.reports.list")
        job = _own_job(grant, job_id)
        reports = [_report_resource(job, day) for day in _report_days(job, fake.clock.utcnow())]
        return _json({"reports": reports} if reports else {})

    @reporting.get("/media/<job_id>/<report_id>")
    def media_download(job_id: str, report_id: str):
        grant = guard("media.download")
        job = _own_job(grant, job_id)
        day = next((d for d in _report_days(job, fake.clock.utcnow()) if _report_id(job, d) == report_id), None)
        if day is None:
            raise errors.not_found("notFound", "Requested entity was not found.", "global")
        return Response(_report_csv(job.channel_id, day).encode("utf-8"), mimetype="application/octet-stream")

    def _report_resource(job: ReportingJob, day: date) -> dict:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return {
            "id": _report_id(job, day),
            "jobId": job.id,
            "startTime": rfc3339(start),
            "endTime": rfc3339(start + timedelta(days=1)),
            "createTime": rfc3339(start + REPORT_DELAY),
            "downloadUrl": f"{fake.reporting_base_url}/media/{job.id}/{_report_id(job, day)}?alt=media",
        }

    def _report_csv(channel_id: str, day: date) -> str:
        """A row per video and country (two countries, the day's numbers split
        unevenly), as the real report splits by country and subscribed status."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        with world.lock:
            for video_id in world.channels[channel_id].video_ids:
                numbers = world.daily_numbers(video_id, day)
                if numbers is None:
                    continue
                for country, share in (("US", US_SHARE), ("DE", 1 - US_SHARE)):
                    writer.writerow(_csv_row(day, channel_id, video_id, country, share, numbers))
        return out.getvalue()

    return [analytics, reporting]


def _report_days(job: ReportingJob, now: datetime) -> list[date]:
    """Days with a file: from the job's creation day, each once REPORT_DELAY has passed since it began."""
    days, day = [], job.created.date()
    while datetime(day.year, day.month, day.day, tzinfo=UTC) + REPORT_DELAY <= now:
        days.append(day)
        day += timedelta(days=1)
    return days


def _report_id(job: ReportingJob, day: date) -> str:
    return f"{job.id}-{day.strftime('%Y%m%d')}"


US_SHARE = 0.7  # the rest is DE's: the two rows sum to the day's numbers


def _csv_row(day: date, channel_id: str, video_id: str, country: str, share: float, n) -> list:
    def part(value: int) -> int:
        return round(value * US_SHARE) if country == "US" else value - round(value * US_SHARE)

    return [
        day.strftime("%Y%m%d"), channel_id, video_id, "on_demand", "subscribed", country,
        part(n.engaged_views), part(n.views), part(n.comments), part(n.likes), 0, part(n.shares),
        round(n.minutes_watched * share, 3), n.average_view_duration, n.average_view_percentage,
        part(n.subscribers_gained), 0,
    ]  # fmt: skip
