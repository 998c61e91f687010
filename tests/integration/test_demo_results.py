"""The demo channel shows the whole loop: its past title change is judged at
import ('helped', about the lift it was generated with, with its chart), and
a change applied on it is measured as the demo's days go on, by cron
(jobs/demo.py) or by ``flask demo advance``."""

from __future__ import annotations

import datetime as dt

import psycopg2.extras
import pytest

from jobs.demo import extend_demo_channels
from optimizer import demo, demo_clock, experiments
from optimizer.verdict import VerdictSettings
from reliability.db import transaction
from tests.integration.channel_helpers import import_demo, query, user_client

TODAY = dt.datetime.now(tz=dt.UTC).date()
APPLIED_INDEX = 10  # a demo video old enough to have its 28 days before a change today


@pytest.fixture
def demo_world(app, app_config):
    client = user_client(app, "demo-results@example.com")
    channel_id = import_demo(client)
    return {"client": client, "channel_id": channel_id, "database_url": app_config["DATABASE_URL"]}


def _video_id(world, index: int) -> int:
    [row] = query(
        world["database_url"],
        "SELECT id FROM videos WHERE channel_id = %s AND youtube_video_id = %s",
        (world["channel_id"], demo._video_id(index)),
    )
    return row["id"]


def test_the_past_change_is_judged_helped_at_import(demo_world):
    changed = _video_id(demo_world, demo.CHANGED_VIDEO_INDEX)
    [experiment] = query(
        demo_world["database_url"],
        """SELECT e.* FROM experiments e JOIN videos v ON v.id = e.video_id WHERE v.channel_id = %s""",
        (demo_world["channel_id"],),
    )
    assert experiment["video_id"] == changed
    assert experiment["status"] == experiments.HELPED
    assert experiment["suggestion_id"] is None
    assert abs(float(experiment["lift"]) - (demo.CHANGE_LIFT - 1)) < 0.08
    assert experiment["applied_at"].date() == TODAY - dt.timedelta(days=demo.CHANGE_DAYS_AGO)
    evaluations = query(
        demo_world["database_url"], "SELECT * FROM experiment_evaluations WHERE experiment_id = %s", (experiment["id"],)
    )
    assert [e["outcome"] for e in evaluations] == [experiments.HELPED]

    client, channel_id = demo_world["client"], demo_world["channel_id"]
    results = client.get(f"/channels/{channel_id}/results").get_data(as_text=True)
    assert results.count('<tr id="experiment-') == 1
    assert "Helped" in results and "1 helped of 1 judged" in results
    video = client.get(f"/channels/{channel_id}/videos/{changed}").get_data(as_text=True)
    assert "This change helped" in video
    assert 'class="chart-svg"' in video and 'class="chart-post"' in video


def _apply_change(world, video_id: int) -> int:
    """A suggestion of the video marked applied today, with the experiment an apply opens."""
    [owner] = query(world["database_url"], "SELECT created_by FROM channels WHERE id = %s", (world["channel_id"],))
    with transaction() as cur:
        cur.execute(
            """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, video_count, status)
               VALUES (%s, %s, 'demo-loop', 1, 'succeeded') RETURNING id""",
            (world["channel_id"], owner["created_by"]),
        )
        run_id = cur.fetchone()["id"]
        cur.execute(
            """INSERT INTO suggestions (run_id, video_id, engine, prompt_version, titles, description, tags, cache_key,
                                        status, applied_at)
               VALUES (%s, %s, 'heuristic', 'p', %s, 'd', '{}', 'demo-loop', %s, now()) RETURNING id""",
            (run_id, video_id, psycopg2.extras.Json([{"title": "New", "rationale": "r"}]), "applied"),
        )
        suggestion_id = cur.fetchone()["id"]
        experiments.open_on_apply(cur, video_id=video_id, suggestion_id=suggestion_id, cooling_days=7)
    return suggestion_id


def test_a_change_applied_on_the_demo_goes_from_cooling_to_a_verdict_as_its_clock_moves(demo_world):
    suggestion_id = _apply_change(demo_world, _video_id(demo_world, APPLIED_INDEX))
    settings = VerdictSettings()
    with transaction() as cur:
        moved = demo_clock.advance(cur, demo_world["channel_id"], TODAY, 10, settings)
    assert moved["rows_added"] == 48 * 10
    assert moved.get("looks", 0) == 0  # cooling (7 days) and the lag (3): no whole week measured yet
    [row] = query(demo_world["database_url"], "SELECT * FROM experiments WHERE suggestion_id = %s", (suggestion_id,))
    assert row["status"] == experiments.MEASURING

    with transaction() as cur:
        moved = demo_clock.advance(cur, demo_world["channel_id"], TODAY, 60, settings)  # runs on from day 10
    assert moved["rows_added"] == 48 * 60
    [row] = query(demo_world["database_url"], "SELECT * FROM experiments WHERE suggestion_id = %s", (suggestion_id,))
    assert row["status"] in experiments.VERDICTS
    assert float(row["lift"]) > 0.1  # the demo lifts an applied change's video by 25 %
    looks = query(
        demo_world["database_url"],
        "SELECT look FROM experiment_evaluations WHERE experiment_id = %s ORDER BY look",
        (row["id"],),
    )
    assert [r["look"] for r in looks] == list(range(1, row["look"] + 1))  # every weekly look kept

    html = demo_world["client"].get(f"/channels/{demo_world['channel_id']}/results?sort=lift").get_data(as_text=True)
    assert html.count('<tr id="experiment-') == 2


def test_cron_extends_every_demo_channel_up_to_the_lag_once(demo_world):
    assert extend_demo_channels(TODAY) == 0  # imported today: already up to date
    assert extend_demo_channels(TODAY + dt.timedelta(days=5)) == 48 * 5
    assert extend_demo_channels(TODAY + dt.timedelta(days=5)) == 0
    [last] = query(
        demo_world["database_url"],
        """SELECT max(s.day) AS day FROM video_daily_stats s JOIN videos v ON v.id = s.video_id
           WHERE v.channel_id = %s""",
        (demo_world["channel_id"],),
    )
    assert last["day"] == TODAY + dt.timedelta(days=5 - demo.ANALYTICS_LAG_DAYS)


def test_flask_demo_advance(app, demo_world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "advance", "--channel", str(demo_world["channel_id"]), "--days", "3"])
    assert result.exit_code == 0, result.output
    assert "144 video-days of numbers added, 0 weekly looks judged" in result.output
    [other] = query(demo_world["database_url"], "SELECT max(id) + 1 AS id FROM channels")
    refused = runner.invoke(args=["demo", "advance", "--channel", str(other["id"])])
    assert refused.exit_code != 0 and "not a demo channel" in refused.output
