"""The channel's Results page and the video page's "Did the change help?"
section, on experiments written as the lifecycle writes them (the row with
its latest evaluation copied on it, one experiment_evaluations row a look).

Rows are inserted directly: these tests are about what the pages show, the
judging has its own tests."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from psycopg2.extras import Json

from optimizer import experiments
from reliability import db
from tests.integration.channel_helpers import user_client, user_id

EMAIL = "results@example.com"
TODAY = dt.datetime.now(tz=dt.UTC).date()


def _channel(owner_id: int, n_videos: int, title: str = "Results channel") -> tuple[int, list[int]]:
    with db.transaction() as cur:
        cur.execute(
            """INSERT INTO channels (youtube_channel_id, title, status, is_demo, video_count, created_by)
               VALUES (%s, %s, 'demo', true, %s, %s) RETURNING id""",
            (f"UC-results-{title}-{n_videos}", title, n_videos, owner_id),
        )
        channel_id = cur.fetchone()["id"]
        cur.execute(
            "INSERT INTO channel_members (channel_id, user_id, role) VALUES (%s, %s, 'owner')", (channel_id, owner_id)
        )
    db.bulk_insert(
        "videos",
        ["channel_id", "youtube_video_id", "title", "published_at", "privacy_status", "view_count"],
        [
            (
                channel_id,
                f"res-{channel_id}-{i}",
                f"Video {i} <b>bold</b>",
                dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                "public",
                100,
            )
            for i in range(n_videos)
        ],
    )
    with db.transaction() as cur:
        cur.execute("SELECT id FROM videos WHERE channel_id = %s ORDER BY id", (channel_id,))
        return channel_id, [r["id"] for r in cur.fetchall()]


def _counterfactual(change_day: dt.date, lift: float) -> list[list]:
    """28 days before, the post weeks after cooling: actual vs predicted (ISO days, as stored)."""
    rows = []
    for offset in list(range(-28, 0)) + list(range(8, 8 + 14)):
        day = change_day + dt.timedelta(days=offset)
        predicted = 100.0 - offset * 0.2
        actual = predicted * (1 + lift) if offset > 0 else predicted + (offset % 3)
        rows.append([day.isoformat(), actual, predicted])
    return rows


def _experiment(
    video_id: int,
    *,
    days_ago: int,
    status: str,
    outcome: str | None,
    lift: float | None,
    confidence: float | None = None,
    looks: int = 0,
    interval: tuple[float, float] | None = None,
) -> int:
    applied = dt.datetime.now(tz=dt.UTC) - dt.timedelta(days=days_ago)
    change_day = applied.date()
    low, high = interval or ((lift - 0.1, lift + 0.1) if lift is not None else (None, None))
    details = {}
    if outcome:
        details = {
            "sentence": f"Sentence for {outcome} <i>here</i>.",
            "method": "placebo",
            "controls": 30,
            "post_days": 7 * looks,
            "counterfactual": _counterfactual(change_day, lift or 0.0),
        }
    with db.transaction() as cur:
        cur.execute(
            """INSERT INTO experiments (video_id, applied_at, cooling_until, status, outcome, look, lift, confidence,
                                        interval_low, interval_high, details, evaluated_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (
                video_id,
                applied,
                change_day + dt.timedelta(days=7),
                status,
                outcome,
                looks,
                lift,
                confidence,
                low,
                high,
                Json(details),
                applied if outcome else None,
            ),
        )
        experiment_id = cur.fetchone()["id"]
        for look in range(1, looks + 1):
            cur.execute(
                """INSERT INTO experiment_evaluations (experiment_id, evaluated_for, look, outcome, lift, interval_low,
                                                      interval_high, confidence, method, metric, post_days, controls)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'placebo', 'engaged_views', %s, 30)""",
                (
                    experiment_id,
                    change_day + dt.timedelta(days=7 + 7 * look),
                    look,
                    outcome,
                    lift,
                    low,
                    high,
                    confidence,
                    7 * look,
                ),
            )
    return experiment_id


@pytest.fixture
def owner(app):
    client = user_client(app, EMAIL)
    return client, user_id(app.config["DATABASE_URL"], EMAIL)


def _row_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr id="experiment-(\d+)"', html)]


def test_results_page_lists_every_experiment_sorted_as_asked(owner):
    client, owner_id = owner
    channel_id, videos = _channel(owner_id, 5)
    helped = _experiment(
        videos[0], days_ago=40, status=experiments.HELPED, outcome="helped", lift=0.3, confidence=0.99, looks=3
    )
    hurt = _experiment(
        videos[1], days_ago=50, status=experiments.HURT, outcome="hurt", lift=-0.2, confidence=0.01, looks=2
    )
    flat = _experiment(
        videos[2],
        days_ago=80,
        status=experiments.INCONCLUSIVE,
        outcome="inconclusive",
        lift=0.02,
        confidence=0.55,
        looks=8,
    )
    measuring = _experiment(
        videos[3],
        days_ago=20,
        status=experiments.MEASURING,
        outcome="likely_helped",
        lift=0.12,
        confidence=0.8,
        looks=1,
    )
    cooling = _experiment(videos[4], days_ago=2, status=experiments.COOLING, outcome=None, lift=None)

    page = client.get(f"/channels/{channel_id}/results")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _row_ids(html) == [cooling, measuring, helped, hurt, flat]  # newest applied first
    assert "Video 0 &lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    assert "+30 %" in html and "−20 %" in html and "+20 % to +40 %" in html
    assert "so far: Likely helped" in html  # a measuring experiment shows its lean, labelled as one
    # The figures: 3 judged (helped, hurt, inconclusive), 1 helped; the lean and the cooling one are not judged.
    assert "5</p><p>changes applied" in html
    assert "33 %" in html and "1 helped of 3 judged" in html
    assert "+4 %" in html  # the average lift of the judged: (0.3 - 0.2 + 0.02) / 3

    by_lift = _row_ids(client.get(f"/channels/{channel_id}/results?sort=lift").get_data(as_text=True))
    assert by_lift == [helped, measuring, flat, hurt, cooling]  # no lift yet: last
    by_state = _row_ids(client.get(f"/channels/{channel_id}/results?sort=state").get_data(as_text=True))
    assert by_state == [cooling, measuring, helped, flat, hurt]  # in the lifecycle's order of states
    for junk in ("nonsense", "lift;DROP TABLE experiments", "%00"):
        answer = client.get(f"/channels/{channel_id}/results", query_string={"sort": junk})
        assert answer.status_code == 200
        assert _row_ids(answer.get_data(as_text=True)) == [cooling, measuring, helped, hurt, flat]


def test_results_page_figures_with_engaged_views(owner):
    """Extra engaged views a week: each judged change's lift applied to its video's last 28 days."""
    client, owner_id = owner
    channel_id, videos = _channel(owner_id, 2)
    _experiment(
        videos[0], days_ago=40, status=experiments.HELPED, outcome="helped", lift=0.25, confidence=0.99, looks=3
    )
    last = TODAY - dt.timedelta(days=2)
    db.bulk_insert(
        "video_daily_stats",
        ["video_id", "day", "views", "engaged_views"],
        [(videos[0], last - dt.timedelta(days=i), 120, 100) for i in range(40)],
    )
    html = client.get(f"/channels/{channel_id}/results").get_data(as_text=True)
    # 28 days x 100 engaged views = 700 a week, of which 0.25/1.25 = 20 % are the change's: +140.
    assert "+140</p>" in html


def test_results_page_of_a_channel_with_nothing_applied(owner):
    client, owner_id = owner
    channel_id, _ = _channel(owner_id, 1)
    html = client.get(f"/channels/{channel_id}/results").get_data(as_text=True)
    assert "No change has been applied yet." in html
    assert "0 in the last 30 days." in html
    assert html.count('class="chart-bar"') == 30


def test_channel_page_links_to_results(owner):
    client, owner_id = owner
    channel_id, _ = _channel(owner_id, 1)
    html = client.get(f"/channels/{channel_id}").get_data(as_text=True)
    assert f'href="/channels/{channel_id}/results"' in html


def test_video_page_shows_the_latest_experiment_with_its_chart_and_looks(owner):
    client, owner_id = owner
    channel_id, videos = _channel(owner_id, 1)
    _experiment(videos[0], days_ago=90, status=experiments.INCONCLUSIVE, outcome="inconclusive", lift=0.01, looks=8)
    latest = _experiment(
        videos[0], days_ago=30, status=experiments.HELPED, outcome="helped", lift=0.3, confidence=0.97, looks=2
    )
    html = client.get(f"/channels/{channel_id}/videos/{videos[0]}").get_data(as_text=True)
    assert "Did the change help?" in html
    assert "Sentence for helped &lt;i&gt;here&lt;/i&gt;." in html
    assert "+30 %" in html and "+20 % to +40 %" in html and "97 %" in html
    assert f'id="experiment-{latest}-chart-title"' in html
    assert html.count('class="chart-actual"') >= 2  # before, and the measured weeks after (the legend adds one)
    assert 'class="chart-cooling"' in html and 'class="chart-post"' in html and 'class="chart-change"' in html
    assert "How the estimate moved, week by week" in html
    section = html.split('id="experiment"')[1].split("</section>")[0]
    assert 'style="' not in section


def test_video_page_with_a_cooling_change_says_when_it_is_measured(owner):
    client, owner_id = owner
    channel_id, videos = _channel(owner_id, 1)
    _experiment(videos[0], days_ago=2, status=experiments.COOLING, outcome=None, lift=None)
    html = client.get(f"/channels/{channel_id}/videos/{videos[0]}").get_data(as_text=True)
    assert "Did the change help?" in html and "Cooling" in html
    assert (TODAY + dt.timedelta(days=5)).isoformat() in html
    assert "chart-svg" not in html


def test_video_page_without_an_experiment_has_no_section(owner):
    client, owner_id = owner
    channel_id, videos = _channel(owner_id, 1)
    html = client.get(f"/channels/{channel_id}/videos/{videos[0]}").get_data(as_text=True)
    assert "Did the change help?" not in html
