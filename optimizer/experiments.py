"""An experiment: what an applied suggestion did to a video's numbers.

    cooling --cooling_until passed--> measuring --a final verdict--> helped | likely_helped | inconclusive
       |                                 |  ^                          | likely_hurt | hurt | not_enough_data
       |                                 +--+ re-judged each whole week, keeping the latest lean
       +----------------+---> interrupted (a second change to the video while it was open: an apply,
                                           a restore, or an edit on YouTube that a sync found)

Applying a suggestion opens one (``open_on_apply``; a restore opens none: it
undoes a change, it is not one to judge). It waits out a cooling period
first, so the change has had time to be seen, then is judged once a week
(optimizer/judging.py, run by cron) until a verdict is final: 'helped' or
'hurt' at any look (the verdict function keeps that honest over all the
looks), anything else only at the last look (MAX_POST_WEEKS). Every look's
evaluation is kept in experiment_evaluations. The states and their labels
live here and nowhere else; the schema's CHECK constraint lists the same ones.
Each transition is one UPDATE guarded by the states it may leave, on the
caller's cursor.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from psycopg2.extras import Json

from reliability.db import Cursor, Row

if TYPE_CHECKING:
    from optimizer.verdict import Verdict

COOLING = "cooling"  # applied; waiting for the change to have been seen
MEASURING = "measuring"  # the cooling period is over; judged each week, the latest lean kept
# The verdicts are the verdict function's outcomes (optimizer/verdict.py), spelled here too so that
# the web, which reads states, need not import numpy and scipy; tests/unit/test_experiment_rules.py
# checks they agree.
HELPED = "helped"
LIKELY_HELPED = "likely_helped"  # a lean (confidence at least MIN_OPTIMIZATION_CONFIDENCE, below 0.95)
INCONCLUSIVE = "inconclusive"
LIKELY_HURT = "likely_hurt"  # a lean: shown, never acted on by auto-restore
HURT = "hurt"
NOT_ENOUGH_DATA = "not_enough_data"
INTERRUPTED = "interrupted"  # the video was changed again before a verdict

STATES = (COOLING, MEASURING, HELPED, LIKELY_HELPED, INCONCLUSIVE, LIKELY_HURT, HURT, NOT_ENOUGH_DATA, INTERRUPTED)
OPEN = (COOLING, MEASURING)
VERDICTS = (HELPED, LIKELY_HELPED, INCONCLUSIVE, LIKELY_HURT, HURT, NOT_ENOUGH_DATA)
FINISHED = (*VERDICTS, INTERRUPTED)
DECIDED = (HELPED, HURT)  # final at whichever look reaches them
LABELS = {
    COOLING: "Cooling",
    MEASURING: "Measuring",
    HELPED: "Helped",
    LIKELY_HELPED: "Likely helped",
    INCONCLUSIVE: "Inconclusive",
    LIKELY_HURT: "Likely hurt",
    HURT: "Hurt",
    NOT_ENOUGH_DATA: "Not enough data",
    INTERRUPTED: "Interrupted",
}

MAX_POST_WEEKS = 8  # the last look (optimizer.verdict.MAX_POST_WEEKS): final then, whatever it says

# What auto-restore decided for a final 'hurt' (experiments.auto_restore; set once).
RESTORED = "restored"
RESTORE_OFF = "off"  # the channel had auto-restore off when the verdict came
RESTORE_EDITED = "edited_since"  # the creator changed the video after this change: theirs is kept
RESTORE_GONE = "video_removed"
RESTORE_NO_PRIOR = "no_prior_version"
RESTORE_REFUSED = "refused"  # the earlier version is one YouTube would refuse (the write gate)
AUTO_RESTORE_NOTES = {
    RESTORED: "This change measured worse, so the earlier version was restored automatically.",
    RESTORE_OFF: "This change measured worse; consider restoring the earlier version.",
    RESTORE_EDITED: "This change measured worse, but the video was edited since, so it was not restored automatically.",
    RESTORE_GONE: "This change measured worse; the video was removed from YouTube, so nothing was restored.",
    RESTORE_NO_PRIOR: "This change measured worse, but no earlier version is stored to restore.",
    RESTORE_REFUSED: "This change measured worse, but YouTube would refuse the earlier version: not restored.",
}


def open_on_apply(cur: Cursor, *, video_id: int, suggestion_id: int, cooling_days: int) -> None:
    """The experiment for a suggestion just applied, cooling for ``cooling_days``.
    A retried apply finds it already open (one experiment per suggestion)."""
    now = datetime.now(tz=UTC)
    cur.execute(
        """INSERT INTO experiments (video_id, suggestion_id, applied_at, cooling_until, status)
           VALUES (%s, %s, %s, %s, %s) ON CONFLICT (suggestion_id) DO NOTHING""",
        (video_id, suggestion_id, now, (now + timedelta(days=cooling_days)).date(), COOLING),
    )


def open_past_change(cur: Cursor, *, video_id: int, applied_at: datetime, cooling_days: int) -> int:
    """The experiment of a change made before the product knew the video (the
    demo channel's past title change, optimizer/demo_import.py): no
    suggestion, applied at ``applied_at``, cooling from then like any other.
    Returns its id; the judging step moves it on as it would any."""
    cur.execute(
        """INSERT INTO experiments (video_id, suggestion_id, applied_at, cooling_until, status)
           VALUES (%s, NULL, %s, %s, %s) RETURNING id""",
        (video_id, applied_at, (applied_at + timedelta(days=cooling_days)).date(), COOLING),
    )
    experiment_id: int = cur.fetchone()["id"]
    return experiment_id


def interrupt_open_for_video(cur: Cursor, video_id: int, *, except_suggestion_id: int | None = None) -> list[int]:
    """cooling|measuring -> interrupted: the video has been changed again (an
    apply, a restore), so what follows can no longer be put down to the
    earlier change. Returns the experiments ended."""
    cur.execute(
        """UPDATE experiments SET status = %s, ended_at = now()
           WHERE video_id = %s AND status IN %s AND suggestion_id IS DISTINCT FROM %s RETURNING id""",
        (INTERRUPTED, video_id, OPEN, except_suggestion_id),
    )
    return [row["id"] for row in cur.fetchall()]


def interrupt_edited_elsewhere(cur: Cursor, video_ids: list[int]) -> list[int]:
    """cooling|measuring -> interrupted for videos a sync found changed on
    YouTube (the creator edited them in Studio): the same second change."""
    if not video_ids:
        return []
    cur.execute(
        "UPDATE experiments SET status = %s, ended_at = now() WHERE video_id = ANY(%s) AND status IN %s RETURNING id",
        (INTERRUPTED, video_ids, OPEN),
    )
    return [row["id"] for row in cur.fetchall()]


def videos_being_measured(cur: Cursor, video_ids: list[int]) -> set[int]:
    """Which of these videos have a change still cooling or measuring (applying
    another change now would end that measurement)."""
    if not video_ids:
        return set()
    cur.execute(
        "SELECT DISTINCT video_id FROM experiments WHERE video_id = ANY(%s) AND status IN %s", (video_ids, OPEN)
    )
    return {row["video_id"] for row in cur.fetchall()}


# -- the judging job's moves -----------------------------------------------------------------------------------------


def due(cur: Cursor, today: date) -> list[Row]:
    """Open experiments whose cooling is over by ``today``, with what judging
    them needs: the change day (UTC), the channel, and the looks made so far."""
    cur.execute(
        """SELECT e.id, e.video_id, e.suggestion_id, e.status, e.look, e.cooling_until,
                  (e.applied_at AT TIME ZONE 'UTC')::date AS change_day, v.channel_id
           FROM experiments e JOIN videos v ON v.id = e.video_id
           WHERE e.status IN %s AND e.cooling_until < %s
           ORDER BY e.id""",
        (OPEN, today),
    )
    return list(cur.fetchall())


def start_measuring(cur: Cursor, experiment_id: int, today: date) -> bool:
    """cooling -> measuring, once the last cooling day is before ``today``."""
    cur.execute(
        "UPDATE experiments SET status = %s WHERE id = %s AND status = %s AND cooling_until < %s RETURNING id",
        (MEASURING, experiment_id, COOLING, today),
    )
    return cur.fetchone() is not None


def status_after(outcome: str, look: int) -> str:
    """The state a look leaves the experiment in: 'helped'/'hurt' end it at any
    look; at the last look anything ends it (a before/after reading, which
    never says helped or hurt, ends as inconclusive); before that it keeps
    measuring with the outcome as its latest lean."""
    if outcome in DECIDED:
        return outcome
    if look < MAX_POST_WEEKS:
        return MEASURING
    return outcome if outcome in VERDICTS else INCONCLUSIVE


def record_evaluation(cur: Cursor, experiment_id: int, verdict: Verdict, *, look: int, today: date) -> str | None:
    """measuring -> measuring (the latest lean) or a verdict: look number
    ``look`` (whole post weeks by ``today``) stored and copied onto the
    experiment. Guarded by the look, so a retried job stores a look once.
    Returns the new status, None if it did not move."""
    status = status_after(verdict.outcome, look)
    low, high = verdict.interval if verdict.interval is not None else (None, None)
    cur.execute(
        """UPDATE experiments SET status = %s, outcome = %s, look = %s, lift = %s, confidence = %s,
                  interval_low = %s, interval_high = %s, metric = %s, details = %s, evaluated_at = now(),
                  ended_at = CASE WHEN %s THEN now() END
           WHERE id = %s AND status = %s AND look < %s RETURNING id""",
        (
            status,
            verdict.outcome,
            look,
            _fits(verdict.lift, 9999),
            _fits(verdict.confidence, 1),
            _finite(low),
            _finite(high),
            verdict.metric,
            Json(verdict.as_json()),
            status != MEASURING,
            experiment_id,
            MEASURING,
            look,
        ),
    )
    if cur.fetchone() is None:
        return None
    cur.execute(
        """INSERT INTO experiment_evaluations (experiment_id, evaluated_for, look, outcome, lift, interval_low,
                                               interval_high, confidence, method, metric, post_days, controls,
                                               details)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (experiment_id, look) DO NOTHING""",
        (
            experiment_id,
            today,
            look,
            verdict.outcome,
            _finite(verdict.lift),
            _finite(low),
            _finite(high),
            _finite(verdict.confidence),
            verdict.method,
            verdict.metric,
            verdict.post_days,
            verdict.controls,
            Json({"sentence": verdict.sentence}),
        ),
    )
    return status


def evaluations(cur: Cursor, experiment_id: int) -> list[Row]:
    """Every look's evaluation, first look first (how the estimate moved)."""
    cur.execute("SELECT * FROM experiment_evaluations WHERE experiment_id = %s ORDER BY look", (experiment_id,))
    return list(cur.fetchall())


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _fits(value: float | None, limit: float) -> float | None:
    """For the numeric columns of the experiment row: a value beyond them is kept in the evaluation only."""
    value = _finite(value)
    return value if value is not None and abs(value) <= limit else None


# -- auto-restore: decided once for a final 'hurt' -------------------------------------------------------------------


def claim_auto_restore(cur: Cursor, experiment_id: int) -> Row | None:
    """A 'hurt' experiment whose auto-restore is not decided yet, locked, with
    what deciding it needs (the change's suggestion, versions and channel)."""
    cur.execute(
        """SELECT e.id, e.video_id, s.id AS suggestion_id, s.applied_version_id,
                  coalesce(s.prior_version_id, s.base_version_id) AS prior_version_id,
                  c.auto_restore AS channel_auto_restore
           FROM experiments e JOIN suggestions s ON s.id = e.suggestion_id
                JOIN videos v ON v.id = e.video_id JOIN channels c ON c.id = v.channel_id
           WHERE e.id = %s AND e.status = %s AND e.auto_restore IS NULL
           FOR UPDATE OF e""",
        (experiment_id, HURT),
    )
    return cur.fetchone()


def settle_auto_restore(
    cur: Cursor, experiment_id: int, decision: str, *, restore_suggestion_id: int | None = None
) -> bool:
    """What auto-restore decided, once: a second decision changes nothing."""
    cur.execute(
        """UPDATE experiments SET auto_restore = %s, auto_restore_at = now(), restore_suggestion_id = %s
           WHERE id = %s AND status = %s AND auto_restore IS NULL RETURNING id""",
        (decision, restore_suggestion_id, experiment_id, HURT),
    )
    return cur.fetchone() is not None


def undecided_auto_restores(cur: Cursor) -> list[int]:
    """'hurt' experiments whose auto-restore was not decided (a restore the
    quota refused yesterday is tried again)."""
    cur.execute(
        """SELECT id FROM experiments WHERE status = %s AND auto_restore IS NULL AND suggestion_id IS NOT NULL
           ORDER BY id""",
        (HURT,),
    )
    return [row["id"] for row in cur.fetchall()]
