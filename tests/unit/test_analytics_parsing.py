"""Reading the Analytics API's result table and the Reporting API's CSV, and
which days an incremental ingest asks for."""

from __future__ import annotations

from datetime import date

import pytest

from optimizer.youtube.analytics import (
    ReportingClient,
    newest_basic_report,
    parse_basic_report,
    parse_result_table,
)
from optimizer.youtube.client import YouTubeError
from optimizer.youtube.ingest import HISTORY_DAYS, first_day_to_fetch


def test_a_result_table_is_read_by_column_name():
    body = {
        "kind": "youtubeAnalytics#resultTable",
        "columnHeaders": [
            {"name": "day", "columnType": "DIMENSION", "dataType": "STRING"},
            {"name": "views", "columnType": "METRIC", "dataType": "INTEGER"},
            {"name": "averageViewPercentage", "columnType": "METRIC", "dataType": "FLOAT"},
            {"name": "engagedViews", "columnType": "METRIC", "dataType": "INTEGER"},
        ],
        "rows": [["2026-05-01", 120, 41.5, 97], ["2026-05-02", 80, 38.25, 60]],
    }
    [first, second] = parse_result_table(body)
    assert (first.day, first.views, first.engaged_views, first.average_view_percentage) == (
        date(2026, 5, 1),
        120,
        97,
        41.5,
    )
    assert second.views == 80 and second.likes == 0  # a metric not asked for is no data, stored as zero counts
    assert second.average_view_duration is None


def test_a_table_without_rows_means_no_data_yet():
    assert parse_result_table({"kind": "youtubeAnalytics#resultTable", "columnHeaders": []}) == []


def test_report_rows_are_summed_per_video_and_day_with_view_weighted_averages():
    csv = (
        "date,channel_id,video_id,live_or_on_demand,subscribed_status,country_code,engaged_views,views,comments,"
        "likes,shares,watch_time_minutes,average_view_duration_seconds,average_view_duration_percentage,"
        "subscribers_gained\n"
        "20260501,UC1,vidA,on_demand,subscribed,US,70,100,2,5,1,300.5,180,40.0,3\n"
        "20260501,UC1,vidA,on_demand,not_subscribed,DE,20,50,0,1,0,100.0,120,30.0,0\n"
        "20260502,UC1,vidA,on_demand,subscribed,US,10,10,0,0,0,20.0,120,20.0,0\n"
        "20260501,UC1,vidB,on_demand,subscribed,US,0,0,0,0,0,0,0,0,0\n"
    )
    report = parse_basic_report(csv)
    may1, may2 = report["vidA"]
    assert (may1.day, may1.views, may1.engaged_views, may1.minutes_watched, may1.likes) == (
        date(2026, 5, 1),
        150,
        90,
        400,
        6,
    )
    assert may1.average_view_duration == 160  # (180·100 + 120·50) / 150
    assert may1.average_view_percentage == pytest.approx(36.67, abs=0.01)
    assert may2.views == 10
    [quiet] = report["vidB"]
    assert quiet.views == 0 and quiet.average_view_duration is None


def test_the_newest_channel_basic_report_with_engaged_views_is_chosen():
    assert newest_basic_report(["channel_basic_a2", "channel_basic_a3", "channel_province_a3"]) == "channel_basic_a3"
    assert newest_basic_report(["channel_basic_a4", "channel_basic_a3"]) == "channel_basic_a4"
    assert newest_basic_report(["channel_basic_a2"]) == "channel_basic_a3"  # a2 has no engaged views


def test_incremental_days_are_the_missing_ones_plus_the_last_three_again():
    today = date(2026, 6, 10)
    assert first_day_to_fetch(date(2020, 1, 1), date(2026, 6, 7), today) == date(2026, 6, 5)
    assert first_day_to_fetch(date(2020, 1, 1), None, today) == date.fromordinal(today.toordinal() - HISTORY_DAYS)
    assert first_day_to_fetch(date(2026, 6, 1), None, today) == date(2026, 6, 1)


def test_a_download_url_elsewhere_never_gets_the_token():
    sent: list[bool] = []
    client = ReportingClient("https://youtubereporting.googleapis.com/v1", lambda force: sent.append(force) or "t")
    with pytest.raises(YouTubeError) as refused:
        client.download("https://attacker.example/v1/media/x?alt=media")
    assert refused.value.reason == "foreignDownloadUrl" and sent == []
