"""The experiment lifecycle on a controllable clock: the judging job runs
through RQ with a chosen ``today`` on daily numbers the test stores, and the
changes are applied (and auto-restored) by the real apply job.

The channel is a demo-like one (no YouTube behind it: the apply job reads and
writes its stored rows) with CONTROLS control videos and one changed video,
all with daily engaged views around a hundred; the changed video's numbers
are multiplied by ``effect`` from the change day on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import psycopg2.extras
import pytest
import redis
from rq import Queue

from jobs.enqueue import enqueue_apply
from optimizer import auto_restore, experiments, suggestions, video_history
from reliability.db import transaction
from tests.integration.channel_helpers import post_form, query, user_client, user_id
from tests.integration.youtube_helpers import run_worker_burst
from webapp.channels import dashboard_store

CONTROLS = 14
OLD = {"title": "Old title", "description": "Old description", "tags": ["old"]}
NEW_TITLE = "A much better title"


def _look_day(change_day: date, look: int) -> date:
    """The first day the judging job sees ``look`` whole post weeks with settled numbers:
    cooling (7 days) + ``look`` weeks + the 3 days YouTube takes to settle a day."""
    return change_day + timedelta(days=7 + 7 * look + 3)


class World:
    def __init__(self, app: Any, app_config: dict[str, Any], *, auto_restore: bool = False) -> None:
        self.config = app_config
        self.url = app_config["DATABASE_URL"]
        self.owner = user_client(app, "owner@example.com")
        self.owner_id = user_id(self.url, "owner@example.com")
        published = datetime.now(tz=UTC) - timedelta(days=400)
        with transaction() as cur:
            cur.execute(
                """INSERT INTO channels (youtube_channel_id, title, created_by, is_demo, status, auto_restore)
                   VALUES ('UCx', 'Lab', %s, true, 'demo', %s) RETURNING id""",
                (self.owner_id, auto_restore),
            )
            self.channel_id = cur.fetchone()["id"]
            cur.execute(
                "INSERT INTO channel_members (channel_id, user_id, role) VALUES (%s, %s, 'owner')",
                (self.channel_id, self.owner_id),
            )
            ids = []
            for n in range(CONTROLS + 1):
                cur.execute(
                    """INSERT INTO videos (channel_id, youtube_video_id, title, description, tags, published_at)
                       VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
                    (self.channel_id, f"yt{n}", OLD["title"], OLD["description"], OLD["tags"], published),
                )
                ids.append(cur.fetchone()["id"])
            self.video_id, self.controls = ids[0], ids[1:]
            video_history.keep_versions(
                cur,
                {
                    self.video_id: {
                        **OLD,
                        "category_id": None,
                        "default_language": None,
                        "default_audio_language": None,
                    }
                },
                source="sync",
            )
        self.redis = redis.Redis.from_url(app_config["REDIS_URL"])

    # -- changes, applied by the real apply job --------------------------------------------------------------------

    def suggest(self, title: str = NEW_TITLE) -> int:
        with transaction() as cur:
            cur.execute(
                """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, video_count)
                   VALUES (%s, %s, %s, 1) RETURNING id""",
                (self.channel_id, self.owner_id, f"k-{title}"),
            )
            run_id = cur.fetchone()["id"]
            cur.execute(
                "SELECT id FROM metadata_versions WHERE video_id = %s ORDER BY id DESC LIMIT 1", (self.video_id,)
            )
            base = cur.fetchone()["id"]
            cur.execute(
                """INSERT INTO suggestions (run_id, video_id, base_version_id, status, engine, prompt_version, titles,
                                            description, tags, cache_key)
                   VALUES (%s, %s, %s, 'accepted', 'heuristic', 'p', %s, %s, %s, 'c') RETURNING id""",
                (
                    run_id,
                    self.video_id,
                    base,
                    psycopg2.extras.Json([{"title": title, "rationale": "r"}]),
                    OLD["description"],
                    OLD["tags"],
                ),
            )
            return cur.fetchone()["id"]

    def apply(self, suggestion_id: int) -> None:
        with transaction() as cur:
            channel = {"id": self.channel_id, "is_demo": True}
            assert suggestions.send_to_apply(cur, channel, [suggestion_id], _Actor(self.owner_id), 10_000)
        enqueue_apply(self.redis, suggestion_id)
        self.work()
        assert self.one("SELECT status FROM suggestions WHERE id = %s", suggestion_id) == suggestions.APPLIED

    def work(self, **settings: Any) -> None:
        result = run_worker_burst({**self.config, **settings})
        assert result.returncode == 0, result.stderr

    # -- the clock and the numbers ---------------------------------------------------------------------------------

    def judge(self, today: date, **settings: Any) -> None:
        """The cron job, run on ``today`` (by a worker with these settings)."""
        Queue("low", connection=self.redis).enqueue("jobs.experiments.judge_experiments", today)
        self.work(**settings)
        failed = Queue("low", connection=self.redis).failed_job_registry
        assert failed.count == 0, [failed.get_job_ids()]

    def store_numbers(self, change_day: date, *, effect: float, seed: int = 7, days_after: int = 80) -> None:
        """Daily engaged views (and views) from 40 days before the change to ``days_after`` after it."""
        rng = np.random.default_rng(seed)
        days = [change_day + timedelta(days=d) for d in range(-40, days_after)]
        weekday = np.array([1.0 + 0.15 * np.sin(2 * np.pi * d.weekday() / 7) for d in days])
        rows = []
        for video_id in [self.video_id, *self.controls]:
            level = 100.0 if video_id == self.video_id else rng.uniform(60, 160)
            lift = np.array([effect if video_id == self.video_id and d >= change_day else 1.0 for d in days])
            engaged = rng.poisson(level * weekday * lift * rng.lognormal(0, 0.05, len(days)))
            rows += [(video_id, d, int(e * 1.4), int(e)) for d, e in zip(days, engaged, strict=True)]
        with transaction() as cur:
            psycopg2.extras.execute_values(
                cur,
                "INSERT INTO video_daily_stats (video_id, day, views, engaged_views) VALUES %s",
                rows,
                page_size=2000,
            )

    # -- reading -----------------------------------------------------------------------------------------------------

    def one(self, statement: str, *params: Any) -> Any:
        rows = query(self.url, statement, params)
        return next(iter(rows[0].values())) if rows else None

    def experiment(self, suggestion_id: int) -> dict[str, Any]:
        [row] = query(self.url, "SELECT * FROM experiments WHERE suggestion_id = %s", (suggestion_id,))
        return row

    def looks(self, experiment_id: int) -> list[int]:
        rows = query(
            self.url, "SELECT look FROM experiment_evaluations WHERE experiment_id = %s ORDER BY look", (experiment_id,)
        )
        return [r["look"] for r in rows]


class _Actor:
    def __init__(self, actor_id: int) -> None:
        self.id = actor_id
        self.email = "owner@example.com"


@pytest.fixture
def world(app: Any, app_config: dict[str, Any]) -> World:
    return World(app, app_config)


@pytest.fixture
def restoring_world(app: Any, app_config: dict[str, Any]) -> World:
    return World(app, app_config, auto_restore=True)


def _change(world: World, effect: float) -> tuple[int, date]:
    """Apply a new title today (UTC) and store numbers where it had ``effect``."""
    suggestion_id = world.suggest()
    world.apply(suggestion_id)
    change_day = world.experiment(suggestion_id)["applied_at"].astimezone(UTC).date()
    world.store_numbers(change_day, effect=effect)
    return suggestion_id, change_day


def test_an_experiment_cools_then_is_judged_each_week_until_the_last_look(world: World) -> None:
    """No true effect: every week is judged and stored, the experiment keeps
    measuring with its latest lean, and the last look (week 8) ends it."""
    suggestion_id, change_day = _change(world, effect=1.0)
    experiment = world.experiment(suggestion_id)
    assert experiment["status"] == experiments.COOLING

    world.judge(change_day + timedelta(days=5))  # still cooling
    assert world.experiment(suggestion_id)["status"] == experiments.COOLING
    world.judge(change_day + timedelta(days=8))  # cooling over; no settled week yet
    assert world.experiment(suggestion_id)["status"] == experiments.MEASURING
    assert world.looks(experiment["id"]) == []

    for look in range(1, experiments.MAX_POST_WEEKS + 1):
        world.judge(_look_day(change_day, look))
        world.judge(_look_day(change_day, look))  # the same day again: nothing stored twice
        current = world.experiment(suggestion_id)
        assert world.looks(experiment["id"]) == list(range(1, look + 1))
        assert current["look"] == look and current["outcome"] is not None
        if look < experiments.MAX_POST_WEEKS:
            assert current["status"] == experiments.MEASURING, f"a null effect ended at look {look}"
    final = world.experiment(suggestion_id)
    assert final["status"] in experiments.VERDICTS and final["status"] not in experiments.DECIDED
    assert final["ended_at"] is not None
    world.judge(_look_day(change_day, experiments.MAX_POST_WEEKS + 1))  # finished: judged no more
    assert world.looks(experiment["id"]) == list(range(1, experiments.MAX_POST_WEEKS + 1))


def test_a_change_that_clearly_helped_ends_with_helped_and_its_evaluation(world: World) -> None:
    suggestion_id, change_day = _change(world, effect=1.6)
    world.judge(_look_day(change_day, 1))
    experiment = world.experiment(suggestion_id)
    assert experiment["status"] == experiments.HELPED
    [evaluation] = query(
        world.url, "SELECT * FROM experiment_evaluations WHERE experiment_id = %s", (experiment["id"],)
    )
    assert evaluation["outcome"] == experiments.HELPED and evaluation["metric"] == "engaged_views"
    assert evaluation["controls"] == CONTROLS and evaluation["post_days"] == 7
    assert (
        0.3 < evaluation["lift"] < 0.9 and evaluation["interval_low"] < evaluation["lift"] < evaluation["interval_high"]
    )
    assert evaluation["details"]["sentence"]


def test_views_are_compared_when_engaged_views_are_missing_for_the_window(world: World) -> None:
    suggestion_id, change_day = _change(world, effect=1.6)
    query(
        world.url,
        "UPDATE video_daily_stats SET engaged_views = NULL WHERE video_id = %s AND day = %s",
        (world.controls[0], change_day),
    )
    world.judge(_look_day(change_day, 1))
    assert world.experiment(suggestion_id)["metric"] == "views"


def test_a_second_change_inside_the_window_interrupts_the_first_and_is_warned_about(world: World) -> None:
    first, _ = _change(world, effect=1.0)
    second = world.suggest("Yet another title")
    page = world.owner.get(f"/channels/{world.channel_id}/suggestions/{second}").get_data(as_text=True)
    assert "still being measured; applying now ends that measurement" in page
    world.apply(second)
    assert world.experiment(first)["status"] == experiments.INTERRUPTED
    assert world.experiment(first)["ended_at"] is not None
    assert world.experiment(second)["status"] == experiments.COOLING


def _hurt(world: World) -> tuple[int, date, dict[str, Any]]:
    suggestion_id, change_day = _change(world, effect=0.5)
    world.judge(_look_day(change_day, 1))
    experiment = world.experiment(suggestion_id)
    assert experiment["status"] == experiments.HURT
    return suggestion_id, change_day, experiment


def _restores(world: World) -> list[dict[str, Any]]:
    return query(
        world.url,
        "SELECT * FROM suggestions WHERE video_id = %s AND engine = %s ORDER BY id",
        (world.video_id, suggestions.RESTORE_ENGINE),
    )


def _attention(world: World) -> dict[str, Any]:
    with transaction() as cur:
        [hurt] = [row for row in dashboard_store.needs_attention(cur, world.channel_id) if row["kind"] == "hurt"]
    return hurt


def test_auto_restore_puts_the_earlier_version_back_once_and_opens_no_experiment(restoring_world: World) -> None:
    world = restoring_world
    _, change_day, experiment = _hurt(world)
    [restore] = _restores(world)
    assert restore["status"] == suggestions.APPLIED and restore["decided_by"] is None
    video = query(world.url, "SELECT title, description, tags FROM videos WHERE id = %s", (world.video_id,))[0]
    assert video == OLD
    experiment = world.experiment(experiment["suggestion_id"])
    assert experiment["auto_restore"] == experiments.RESTORED and experiment["restore_suggestion_id"] == restore["id"]
    assert (
        world.one("SELECT count(*) FROM experiments WHERE video_id = %s", world.video_id) == 1
    )  # the restore opened none
    [audit] = query(world.url, "SELECT * FROM audit_log WHERE action = 'version.restore_requested'")
    assert audit["actor_id"] is None
    assert audit["details"]["automatic"] is True and audit["details"]["experiment_id"] == experiment["id"]
    assert _attention(world)["detail"] == experiments.AUTO_RESTORE_NOTES[experiments.RESTORED]

    world.judge(_look_day(change_day, 2))  # the next run, and the one after: never a second restore
    world.judge(_look_day(change_day, 3))
    assert len(_restores(world)) == 1


def test_no_auto_restore_when_the_channel_has_it_off(world: World) -> None:
    _, _, experiment = _hurt(world)
    assert _restores(world) == []
    assert world.experiment(experiment["suggestion_id"])["auto_restore"] == experiments.RESTORE_OFF
    assert world.one("SELECT title FROM videos WHERE id = %s", world.video_id) == NEW_TITLE
    assert _attention(world)["detail"] == experiments.AUTO_RESTORE_NOTES[experiments.RESTORE_OFF]


def test_no_auto_restore_over_an_edit_made_since_the_change(restoring_world: World) -> None:
    world = restoring_world
    suggestion_id, change_day = _change(world, effect=0.5)
    # The creator retitled the video on YouTube; a sync stored it.
    query(world.url, "UPDATE videos SET title = 'My own title' WHERE id = %s", (world.video_id,))
    world.judge(_look_day(change_day, 1))
    experiment = world.experiment(suggestion_id)
    assert experiment["status"] == experiments.HURT and experiment["auto_restore"] == experiments.RESTORE_EDITED
    assert _restores(world) == []
    assert world.one("SELECT title FROM videos WHERE id = %s", world.video_id) == "My own title"
    [skipped] = query(world.url, "SELECT * FROM audit_log WHERE action = 'experiment.auto_restore_skipped'")
    assert skipped["details"] == {
        "automatic": True,
        "experiment_id": experiment["id"],
        "reason": experiments.RESTORE_EDITED,
    }


def test_a_restore_by_the_creator_opens_no_experiment(world: World) -> None:
    suggestion_id, _ = _change(world, effect=1.0)
    [old] = query(
        world.url, "SELECT id FROM metadata_versions WHERE video_id = %s ORDER BY id LIMIT 1", (world.video_id,)
    )
    response = post_form(
        world.owner,
        f"/channels/{world.channel_id}/videos/{world.video_id}/versions/{old['id']}/restore",
        csrf_page=f"/channels/{world.channel_id}/videos/{world.video_id}",
    )
    assert response.status_code == 303
    world.work()
    [restore] = _restores(world)
    assert restore["status"] == suggestions.APPLIED
    assert world.one("SELECT count(*) FROM experiments WHERE video_id = %s", world.video_id) == 1
    # The restore is a second change: the first change's measurement ends.
    assert world.experiment(suggestion_id)["status"] == experiments.INTERRUPTED


def test_only_the_owner_turns_auto_restore_on_and_it_is_audited(app: Any, world: World) -> None:
    members = f"/channels/{world.channel_id}/members"
    assert "Automatic restore" in world.owner.get(members).get_data(as_text=True)
    response = post_form(
        world.owner, f"/channels/{world.channel_id}/auto-restore", {"auto_restore": "on"}, csrf_page=members
    )
    assert response.status_code == 302
    assert world.one("SELECT auto_restore FROM channels WHERE id = %s", world.channel_id) is True
    [audit] = query(world.url, "SELECT * FROM audit_log WHERE action = 'channel.auto_restore_changed'")
    assert audit["actor_id"] == world.owner_id and audit["details"] == {"auto_restore": True}

    editor = user_client(app, "editor@example.com")
    query(
        world.url,
        "INSERT INTO channel_members (channel_id, user_id, role) VALUES (%s, %s, 'editor')",
        (world.channel_id, user_id(world.url, "editor@example.com")),
    )
    response = post_form(
        editor, f"/channels/{world.channel_id}/auto-restore", {"auto_restore": "off"}, csrf_page=members
    )
    assert response.status_code == 403
    assert world.one("SELECT auto_restore FROM channels WHERE id = %s", world.channel_id) is True


def test_auto_restore_waits_for_quota_and_reserves_it_like_any_apply(restoring_world: World) -> None:
    """A channel with YouTube behind it: the restore takes its quota up front; with
    today's budget spent nothing is created, and the next run restores."""
    world = restoring_world
    suggestion_id, change_day = _change(world, effect=0.5)
    query(world.url, "UPDATE channels SET is_demo = false, status = 'connected' WHERE id = %s", (world.channel_id,))
    world.judge(_look_day(change_day, 1), YOUTUBE_DAILY_QUOTA=10)  # less than one apply's units
    experiment = world.experiment(suggestion_id)
    assert experiment["status"] == experiments.HURT and experiment["auto_restore"] is None
    assert _restores(world) == []

    with transaction() as cur:  # the job's step, run here to see the reservation before an apply job spends it
        restore_id = auto_restore.decide(cur, experiment["id"], 10_000)
    assert restore_id is not None
    [reservation] = query(world.url, "SELECT * FROM quota_reservations WHERE suggestion_id = %s", (restore_id,))
    assert reservation["purpose"] == "apply" and reservation["user_id"] is None
    assert world.experiment(suggestion_id)["auto_restore"] == experiments.RESTORED
