"""Clients for the YouTube Analytics API v2 and the YouTube Reporting API v1.

Both are YouTubeClient subclasses, so they share its one retry layer, the
'youtube' breaker, the timeout and the token refresh on a 401; each has its
own cost table (the two APIs have quotas of their own, see quota.py).

Analytics API (``reports.query``): one video per query (``filters=video==ID``,
``dimensions=day``), the whole window in one call. The answer is a result
table: ``columnHeaders`` (dimensions first, then metrics, in the order asked)
and ``rows``; ``rows`` is left out when there is no data, and the latest days
are missing until YouTube has them.

Reporting API: a job per channel for the daily channel report
``channel_basic_a3`` (the newest version Google lists; a3 added
``engaged_views``). YouTube writes one CSV file a day per job, covering 24
hours, with a row per video × live/on-demand × subscribed status × country:
rows are summed here into one per (day, video). A backfill arrives as a new
report with a later ``createTime`` and replaces the day's numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from optimizer.youtube.client import YouTubeClient, YouTubeError
from optimizer.youtube.quota import ANALYTICS_COSTS, REPORTING_COSTS

# Every column of video_daily_stats the Analytics API can fill, in one query.
METRICS = (
    "engagedViews",
    "views",
    "estimatedMinutesWatched",
    "averageViewDuration",
    "averageViewPercentage",
    "likes",
    "comments",
    "shares",
    "subscribersGained",
)
REPORT_TYPE = "channel_basic_a3"  # used when reportTypes.list names no newer channel_basic version
_BASIC_REPORT = re.compile(r"^channel_basic_a(\d+)$")
JOB_NAME = "Channel Optimizer daily stats"


@dataclass(frozen=True)
class DayStats:
    """One video's numbers for one day (a missing day is no data, not zeros)."""

    day: date
    views: int
    engaged_views: int | None
    minutes_watched: int
    average_view_duration: int | None  # seconds
    average_view_percentage: float | None  # of the video's length, 0..100+
    likes: int
    comments: int
    shares: int
    subscribers_gained: int


class AnalyticsClient(YouTubeClient):
    def __init__(self, base_url: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(base_url, *args, costs=ANALYTICS_COSTS, **kwargs)

    def video_days(self, youtube_video_id: str, first: date, last: date) -> list[DayStats]:
        """Daily stats of one video from ``first`` to ``last`` (both included)."""
        body = self._get(
            "reports.query",
            "/reports",
            {
                "ids": "channel==MINE",
                "startDate": first.isoformat(),
                "endDate": last.isoformat(),
                "metrics": ",".join(METRICS),
                "dimensions": "day",
                "filters": f"video=={youtube_video_id}",
                "sort": "day",
            },
        )
        return parse_result_table(body)


class ReportingClient(YouTubeClient):
    def __init__(self, base_url: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(base_url, *args, costs=REPORTING_COSTS, **kwargs)

    def report_type_ids(self) -> list[str]:
        body = self._get("reportTypes.list", "/reportTypes", {})
        return [item["id"] for item in body.get("reportTypes", [])]

    def jobs(self) -> list[dict[str, Any]]:
        return list(self._get("jobs.list", "/jobs", {}).get("jobs", []))

    def create_job(self, report_type_id: str) -> dict[str, Any]:
        body = {"reportTypeId": report_type_id, "name": JOB_NAME}
        return dict(self._request("jobs.create", "POST", "/jobs", {}, body))

    def reports(self, job_id: str) -> list[dict[str, Any]]:
        """Every report the job has, oldest created first (a backfill then
        overwrites what it replaces)."""
        reports: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        while True:
            body = self._get("jobs.reports.list", f"/jobs/{job_id}/reports", params)
            reports.extend(body.get("reports", []))
            if not body.get("nextPageToken"):
                return sorted(reports, key=lambda r: r.get("createTime", ""))
            params = {"pageToken": body["nextPageToken"]}

    def download(self, download_url: str) -> str:
        """A report file's CSV. The bearer token goes only to the configured
        Reporting API address, never to a URL an answer names elsewhere."""
        if not download_url.startswith(self.base_url + "/"):
            raise YouTubeError(400, "foreignDownloadUrl", "a report download outside the Reporting API's address")
        parts = urlsplit(download_url.removeprefix(self.base_url))
        return str(self._request("media.download", "GET", parts.path, dict(parse_qsl(parts.query)), raw=True))


def newest_basic_report(report_type_ids: Iterable[str]) -> str:
    """The newest channel_basic_aN listed (engaged views since a3)."""
    versions = [(int(m.group(1)), rid) for rid in report_type_ids if (m := _BASIC_REPORT.match(rid))]
    newest = max(versions, default=(0, REPORT_TYPE))
    return newest[1] if newest[0] >= 3 else REPORT_TYPE


def parse_result_table(body: Mapping[str, Any]) -> list[DayStats]:
    """An Analytics API result table (``day`` dimension) as DayStats, by column name."""
    names = [header["name"] for header in body.get("columnHeaders", [])]
    days = []
    for row in body.get("rows") or []:
        cell = dict(zip(names, row, strict=True))
        days.append(
            DayStats(
                day=date.fromisoformat(str(cell["day"])),
                views=_int(cell.get("views")),
                engaged_views=_optional_int(cell.get("engagedViews")),
                minutes_watched=_int(cell.get("estimatedMinutesWatched")),
                average_view_duration=_optional_int(cell.get("averageViewDuration")),
                average_view_percentage=_optional_float(cell.get("averageViewPercentage")),
                likes=_int(cell.get("likes")),
                comments=_int(cell.get("comments")),
                shares=_int(cell.get("shares")),
                subscribers_gained=_int(cell.get("subscribersGained")),
            )
        )
    return days


def parse_basic_report(text: str) -> dict[str, list[DayStats]]:
    """A channel_basic CSV as DayStats per YouTube video id: its rows (one per
    live/on-demand × subscribed status × country) summed per day; the
    averages weighted by views."""
    sums: dict[tuple[str, date], dict[str, float]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        key = (row["video_id"], datetime.strptime(row["date"], "%Y%m%d").date())
        total = sums.setdefault(key, dict.fromkeys(_SUMMED + ("duration_x_views", "percentage_x_views"), 0.0))
        views = float(row.get("views") or 0)
        for column in _SUMMED:
            total[column] += float(row.get(column) or 0)
        total["duration_x_views"] += float(row.get("average_view_duration_seconds") or 0) * views
        total["percentage_x_views"] += float(row.get("average_view_duration_percentage") or 0) * views
    by_video: dict[str, list[DayStats]] = {}
    for (video_id, day), total in sorted(sums.items(), key=lambda item: item[0][1]):
        views = total["views"]
        by_video.setdefault(video_id, []).append(
            DayStats(
                day=day,
                views=round(views),
                engaged_views=round(total["engaged_views"]),
                minutes_watched=round(total["watch_time_minutes"]),
                average_view_duration=round(total["duration_x_views"] / views) if views else None,
                average_view_percentage=round(total["percentage_x_views"] / views, 2) if views else None,
                likes=round(total["likes"]),
                comments=round(total["comments"]),
                shares=round(total["shares"]),
                subscribers_gained=round(total["subscribers_gained"]),
            )
        )
    return by_video


_SUMMED = ("views", "engaged_views", "watch_time_minutes", "likes", "comments", "shares", "subscribers_gained")


def _int(value: Any) -> int:
    return 0 if value is None else round(float(value))


def _optional_int(value: Any) -> int | None:
    return None if value is None else round(float(value))


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
