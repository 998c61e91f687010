"""Every suggestion transition is guarded by the states it may leave: run on a
suggestion in any other state it changes nothing (a double click, a second
tab, a retried job or a late sweep cannot move a suggestion twice). And the
states the code knows are the ones the schema allows."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import psycopg2.extras
import pytest

from optimizer import experiments, suggestions, verdict
from optimizer.suggestions import Draft
from reliability.db import transaction


@dataclass(frozen=True)
class _User:
    id: int
    email: str


@pytest.fixture
def world(app: Any) -> dict[str, Any]:
    """A demo-like channel with one video, a run and a suggestion of it."""
    with transaction() as cur:
        cur.execute("INSERT INTO users (email, password_hash) VALUES ('t@example.com', 'x') RETURNING id")
        user = _User(cur.fetchone()["id"], "t@example.com")
        cur.execute(
            "INSERT INTO channels (youtube_channel_id, title, created_by, is_demo) "
            "VALUES ('UCt', 'T', %s, true) RETURNING *",
            (user.id,),
        )
        channel = cur.fetchone()
        cur.execute(
            "INSERT INTO videos (channel_id, youtube_video_id, title, description, tags) "
            "VALUES (%s, 'v1', 'Old', 'd', '{}') RETURNING id",
            (channel["id"],),
        )
        video_id = cur.fetchone()["id"]
        cur.execute(
            """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, video_count)
               VALUES (%s, %s, 'k-transitions', 1) RETURNING id""",
            (channel["id"], user.id),
        )
        run_id = cur.fetchone()["id"]
        cur.execute(
            """INSERT INTO suggestions (run_id, video_id, engine, prompt_version, titles, description, tags, cache_key)
               VALUES (%s, %s, 'heuristic', 'p', %s, 'A description', '{}', 'c') RETURNING id""",
            (run_id, video_id, psycopg2.extras.Json([{"title": "New title", "rationale": "r"}])),
        )
        suggestion_id = cur.fetchone()["id"]
    return {"user": user, "channel": channel, "video_id": video_id, "run_id": run_id, "id": suggestion_id}


def _set(world: dict[str, Any], status: str) -> None:
    with transaction() as cur:  # the test's own arrangement, not a transition
        cur.execute("UPDATE suggestions SET status = %s WHERE id = %s", (status, world["id"]))


def _status(world: dict[str, Any]) -> str:
    with transaction() as cur:
        cur.execute("SELECT status FROM suggestions WHERE id = %s", (world["id"],))
        return cur.fetchone()["status"]


_DRAFT = Draft("Edited title", "Edited description", ["tag"], None)

# transition name -> (the states it may leave, what it does on the cursor; truthy when it moved)
TRANSITIONS: dict[str, tuple[tuple[str, ...], Callable[[Any, dict[str, Any]], Any]]] = {
    "save_draft": (
        suggestions.OPEN,
        lambda cur, w: suggestions.save_draft(cur, w["id"], _DRAFT, w["user"], accept=True),
    ),
    "accept": (
        (suggestions.PENDING,),
        lambda cur, w: suggestions.accept_pending(cur, w["run_id"], w["user"], [w["id"]]),
    ),
    "reject": (suggestions.OPEN, lambda cur, w: suggestions.reject(cur, w["run_id"], w["user"], [w["id"]])),
    "send_to_apply": (
        (suggestions.ACCEPTED,),
        lambda cur, w: suggestions.send_to_apply(cur, w["channel"], [w["id"]], w["user"], 10_000),
    ),
    "give_back_unqueued": (
        (suggestions.APPLYING,),
        lambda cur, w: suggestions.give_back_unqueued(cur, [w["id"]]),
    ),
    "claim_for_apply": ((suggestions.APPLYING,), lambda cur, w: suggestions.claim_for_apply(cur, w["id"])),
    "mark_applied": (
        (suggestions.APPLYING, suggestions.FAILED),
        lambda cur, w: suggestions.mark_applied(
            cur, w["id"], video_id=w["video_id"], version_id=None, cooling_days=7, actor_id=None, wrote=True
        ),
    ),
    "mark_conflict": ((suggestions.APPLYING,), lambda cur, w: suggestions.mark_conflict(cur, w["id"], {"title": "x"})),
    "mark_failed": ((suggestions.APPLYING,), lambda cur, w: suggestions.mark_failed(cur, [w["id"]], "It broke.")),
}


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_a_transition_from_a_state_it_may_not_leave_changes_nothing(world: dict[str, Any], name: str) -> None:
    allowed, move = TRANSITIONS[name]
    for status in suggestions.STATES:
        _set(world, status)
        with transaction() as cur:
            moved = move(cur, world)
        if status in allowed:
            assert moved, f"{name} should move a suggestion out of {status!r}"
        else:
            assert not moved and _status(world) == status, f"{name} moved a suggestion out of {status!r}"


def test_keep_mine_needs_a_conflict_and_the_version_it_was_found_against(world: dict[str, Any]) -> None:
    _set(world, suggestions.FAILED)
    with transaction() as cur:
        assert not suggestions.keep_mine_over_youtube(cur, world["id"], world["user"])  # failed, but no conflict
    assert _status(world) == suggestions.FAILED


def test_applied_supersedes_the_other_open_suggestions_and_opens_an_experiment(world: dict[str, Any]) -> None:
    with transaction() as cur:
        cur.execute(
            """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, video_count)
               VALUES (%s, %s, 'k-older', 1) RETURNING id""",
            (world["channel"]["id"], world["user"].id),
        )
        cur.execute(
            """INSERT INTO suggestions (run_id, video_id, engine, prompt_version, titles, description, tags, cache_key)
               VALUES (%s, %s, 'heuristic', 'p', '[{"title": "t"}]', 'd', '{}', 'c') RETURNING id""",
            (cur.fetchone()["id"], world["video_id"]),
        )
        older = cur.fetchone()["id"]
    _set(world, suggestions.APPLYING)
    with transaction() as cur:
        assert suggestions.mark_applied(
            cur, world["id"], video_id=world["video_id"], version_id=None, cooling_days=7, actor_id=None, wrote=True
        )
        cur.execute("SELECT status FROM suggestions WHERE id = %s", (older,))
        assert cur.fetchone()["status"] == suggestions.SUPERSEDED
        cur.execute("SELECT status FROM experiments WHERE suggestion_id = %s", (world["id"],))
        assert cur.fetchone()["status"] == experiments.COOLING


def test_applying_a_restore_opens_no_experiment(world: dict[str, Any]) -> None:
    with transaction() as cur:  # the test's own arrangement: the suggestion is a restore
        cur.execute(
            "UPDATE suggestions SET engine = %s, status = %s WHERE id = %s",
            (suggestions.RESTORE_ENGINE, suggestions.APPLYING, world["id"]),
        )
    with transaction() as cur:
        assert suggestions.mark_applied(
            cur, world["id"], video_id=world["video_id"], version_id=None, cooling_days=7, actor_id=None, wrote=True
        )
        cur.execute("SELECT count(*) AS n FROM experiments WHERE video_id = %s", (world["video_id"],))
        assert cur.fetchone()["n"] == 0


# -- experiments ----------------------------------------------------------------------------------------------------

_VERDICT = verdict.Verdict(
    outcome=verdict.INCONCLUSIVE,
    sentence="We cannot tell yet.",
    lift=0.01,
    interval=(-0.2, 0.25),
    confidence=0.55,
    method=verdict.PLACEBO,
    metric="engaged_views",
    post_days=7,
    look=1,
    controls=12,
)


@pytest.fixture
def experiment(world: dict[str, Any]) -> dict[str, Any]:
    with transaction() as cur:
        cur.execute(
            """INSERT INTO experiments (video_id, suggestion_id, applied_at, cooling_until, status)
               VALUES (%s, %s, now() - interval '30 days', current_date - 20, %s) RETURNING id""",
            (world["video_id"], world["id"], experiments.COOLING),
        )
        return {**world, "experiment_id": cur.fetchone()["id"]}


def _set_experiment(experiment: dict[str, Any], status: str) -> None:
    with transaction() as cur:  # the test's own arrangement, not a transition
        cur.execute(
            "UPDATE experiments SET status = %s, look = 0, auto_restore = NULL WHERE id = %s",
            (status, experiment["experiment_id"]),
        )


def _experiment_status(experiment: dict[str, Any]) -> str:
    with transaction() as cur:
        cur.execute("SELECT status FROM experiments WHERE id = %s", (experiment["experiment_id"],))
        return cur.fetchone()["status"]


_TODAY = date.today() + timedelta(days=1)
EXPERIMENT_TRANSITIONS: dict[str, tuple[tuple[str, ...], Callable[[Any, dict[str, Any]], Any]]] = {
    "start_measuring": (
        (experiments.COOLING,),
        lambda cur, e: experiments.start_measuring(cur, e["experiment_id"], _TODAY),
    ),
    "interrupt_open_for_video": (
        experiments.OPEN,
        lambda cur, e: experiments.interrupt_open_for_video(cur, e["video_id"]),
    ),
    "interrupt_edited_elsewhere": (
        experiments.OPEN,
        lambda cur, e: experiments.interrupt_edited_elsewhere(cur, [e["video_id"]]),
    ),
    "record_evaluation": (
        (experiments.MEASURING,),
        lambda cur, e: experiments.record_evaluation(cur, e["experiment_id"], _VERDICT, look=1, today=_TODAY),
    ),
    "settle_auto_restore": (
        (experiments.HURT,),
        lambda cur, e: experiments.settle_auto_restore(cur, e["experiment_id"], experiments.RESTORE_OFF),
    ),
}


@pytest.mark.parametrize("name", sorted(EXPERIMENT_TRANSITIONS))
def test_an_experiment_transition_from_a_state_it_may_not_leave_changes_nothing(
    experiment: dict[str, Any], name: str
) -> None:
    allowed, move = EXPERIMENT_TRANSITIONS[name]
    for status in experiments.STATES:
        _set_experiment(experiment, status)
        with transaction() as cur:
            moved = move(cur, experiment)
        if status in allowed:
            assert moved, f"{name} should move an experiment out of {status!r}"
        else:
            assert not moved and _experiment_status(experiment) == status, (
                f"{name} moved an experiment out of {status!r}"
            )


def test_a_look_is_stored_once_and_only_the_last_look_ends_an_undecided_experiment(experiment: dict[str, Any]) -> None:
    _set_experiment(experiment, experiments.MEASURING)
    with transaction() as cur:
        assert experiments.record_evaluation(cur, experiment["experiment_id"], _VERDICT, look=1, today=_TODAY) == (
            experiments.MEASURING
        )
        assert experiments.record_evaluation(cur, experiment["experiment_id"], _VERDICT, look=1, today=_TODAY) is None
        last = experiments.MAX_POST_WEEKS
        assert experiments.record_evaluation(cur, experiment["experiment_id"], _VERDICT, look=last, today=_TODAY) == (
            experiments.INCONCLUSIVE
        )
        assert [row["look"] for row in experiments.evaluations(cur, experiment["experiment_id"])] == [1, last]


def test_auto_restore_is_settled_once(experiment: dict[str, Any]) -> None:
    _set_experiment(experiment, experiments.HURT)
    with transaction() as cur:
        assert experiments.settle_auto_restore(cur, experiment["experiment_id"], experiments.RESTORE_OFF)
        assert not experiments.settle_auto_restore(cur, experiment["experiment_id"], experiments.RESTORED)
        assert experiments.claim_auto_restore(cur, experiment["experiment_id"]) is None


def _allowed_by_schema(table: str) -> set[str]:
    with transaction() as cur:
        cur.execute(
            """SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint
               WHERE conrelid = %s::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%%status%%'""",
            (table,),
        )
        return set(re.findall(r"'([a-z_]+)'::text", cur.fetchone()["definition"]))


def test_the_states_are_the_ones_the_schema_allows(app: Any) -> None:
    assert _allowed_by_schema("suggestions") == set(suggestions.STATES) == set(suggestions.LABELS)
    assert _allowed_by_schema("experiments") == set(experiments.STATES) == set(experiments.LABELS)
