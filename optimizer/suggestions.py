"""A suggestion's lifecycle: its states, their labels, and every change of state.

    pending --accept--> accepted --send to apply--> applying --claim--> applied
       |                   |                           |  |-----------> failed (an error, or a conflict
       +------reject-------+--> rejected               |                 with YouTube) --apply--> applying
                                                       +--enqueue failed--> accepted
    (an applied suggestion makes the video's open ones 'superseded';
     a restore is created 'applying' directly)

'accepted' means decided and waiting for the creator to press Apply (a batch
is accepted row by row, then applied together); 'applying' means queued for,
or inside, the apply job. Each transition is one UPDATE guarded by the states
it may come from, so two tabs, a double click or a retried job cannot move a
suggestion twice; the ones a person makes are in the audit log.

Nothing outside this module (and suggestion_store.py, its reads and inserts)
writes ``suggestions.status``. Every function runs on the caller's cursor:
the caller opens the one transaction a use case needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from psycopg2.extras import Json

from optimizer import experiments, limits
from optimizer.youtube import gate, quota
from reliability import audit

PENDING = "pending"
ACCEPTED = "accepted"
REJECTED = "rejected"
APPLYING = "applying"
APPLIED = "applied"
FAILED = "failed"
REVERTED = "reverted"  # allowed by the schema; nothing moves a suggestion there yet
SUPERSEDED = "superseded"
RESTORE_ENGINE = "restore"  # a suggestion that puts an earlier version back (optimizer/video_history.py)

STATES = (PENDING, ACCEPTED, REJECTED, APPLYING, APPLIED, FAILED, REVERTED, SUPERSEDED)
OPEN = (PENDING, ACCEPTED, FAILED)  # still to decide: editable, acceptable, appliable
UNDECIDED = (PENDING, ACCEPTED)  # what "Reject all undecided" rejects
IN_PLAY = (*OPEN, APPLYING)  # shown for review on the video page
MAY_GO_LIVE = (*UNDECIDED, APPLYING)  # its title is warned about when another video would get the same
LABELS = {
    PENDING: "Pending",
    ACCEPTED: "Accepted",
    APPLYING: "Applying…",
    APPLIED: "Applied",
    FAILED: "Failed",
    REJECTED: "Rejected",
    REVERTED: "Reverted",
    SUPERSEDED: "Superseded",
}

QUEUE_UNREACHABLE = "The job queue was unreachable; nothing was sent to YouTube. Try again."
CONFLICT_ERROR = "The video changed on YouTube since this suggestion was made."
STRANDED_ERROR = (
    "The apply job was lost (the job queue was reset?). Nothing is lost: try again; "
    "a change that did reach YouTube is recognised, not written twice."
)


class Actor(Protocol):
    """Who decides: a logged-in user."""

    id: int
    email: str


@dataclass(frozen=True)
class Draft:
    """The metadata the creator wants applied: a ranked title or their own."""

    title: str
    description: str
    tags: list[str]
    title_index: int | None  # None: the creator wrote their own title

    def problems(self) -> list[limits.Problem]:
        return limits.validate(self.title, self.description, self.tags)

    def writes_same_as(self, other: Draft) -> bool:
        """Applying either would write the same metadata to YouTube."""
        return (self.title, self.description, list(self.tags)) == (other.title, other.description, list(other.tags))


def saved_draft(suggestion: dict[str, Any]) -> Draft:
    """What the creator last saved, else the suggestion as made."""
    index = suggestion["chosen_title"]
    title, description, tags = gate.approved_metadata(suggestion)  # what Apply would write
    custom = title != suggestion["titles"][index]["title"]
    return Draft(title, description, tags, None if custom else index)


def _audit(cur: Any, action: str, user: Actor, suggestion_id: int, details: dict[str, Any] | None = None) -> None:
    audit.record(
        cur,
        action,
        actor_id=user.id,
        actor_email=user.email,
        target_type="suggestion",
        target_id=suggestion_id,
        details=details,
    )


# -- the creator's decisions ---------------------------------------------------------------------------------------


def save_draft(cur: Any, suggestion_id: int, draft: Draft, user: Actor, *, accept: bool) -> bool:
    """Store the edited draft of an open suggestion without a conflict; with
    ``accept`` it is accepted too. False: it was decided meanwhile."""
    cur.execute(
        """UPDATE suggestions SET chosen_title = coalesce(%s, chosen_title), approved_title = %s,
                  approved_description = %s, approved_tags = %s, updated_at = now(),
                  status = CASE WHEN %s THEN %s ELSE status END,
                  decided_by = CASE WHEN %s THEN %s ELSE decided_by END,
                  decided_at = CASE WHEN %s THEN now() ELSE decided_at END
           WHERE id = %s AND status IN %s AND conflict IS NULL RETURNING id""",
        (
            draft.title_index,
            draft.title,
            draft.description,
            draft.tags,
            accept,
            ACCEPTED,
            accept,
            user.id,
            accept,
            suggestion_id,
            OPEN,
        ),
    )
    if cur.fetchone() is None:
        return False
    _audit(
        cur,
        "suggestion.accepted" if accept else "suggestion.edited",
        user,
        suggestion_id,
        {"title_index": draft.title_index},
    )
    return True


def accept_pending(cur: Any, run_id: int, user: Actor, suggestion_ids: list[int] | None = None) -> list[int]:
    """Accept the run's pending suggestions (or the given ones) as they stand."""
    return _decide(cur, run_id, user, (PENDING,), ACCEPTED, suggestion_ids)


def reject(cur: Any, run_id: int, user: Actor, suggestion_ids: list[int] | None = None) -> list[int]:
    """Reject the given suggestions (any still open), or every undecided one of the run."""
    return _decide(cur, run_id, user, OPEN if suggestion_ids is not None else UNDECIDED, REJECTED, suggestion_ids)


def _decide(
    cur: Any, run_id: int, user: Actor, from_states: tuple[str, ...], to_state: str, suggestion_ids: list[int] | None
) -> list[int]:
    cur.execute(
        """UPDATE suggestions SET status = %s, decided_by = %s, decided_at = now(), updated_at = now()
           WHERE run_id = %s AND status IN %s AND (%s::bigint[] IS NULL OR id = ANY(%s::bigint[]))
             AND (%s = %s OR video_id IN (SELECT id FROM videos WHERE removed_at IS NULL))
           RETURNING id""",
        (to_state, user.id, run_id, from_states, suggestion_ids, suggestion_ids, to_state, REJECTED),
    )
    moved = [row["id"] for row in cur.fetchall()]
    for suggestion_id in moved:
        _audit(cur, f"suggestion.{to_state}", user, suggestion_id)
    return moved


def send_to_apply(
    cur: Any, channel: dict[str, Any], suggestion_ids: list[int], user: Actor, daily_budget: int
) -> list[int]:
    """Move the accepted ones (of live videos) to 'applying', the write gate
    passed and the quota reserved for all of them up front (a batch is not
    half sent for want of units). The caller queues the returned ids after
    commit, and gives back with ``give_back_unqueued`` those it could not."""
    cur.execute(
        """SELECT s.id, s.titles, s.chosen_title, s.description, s.tags, s.approved_title, s.approved_description,
                  s.approved_tags, v.title AS video_title
           FROM suggestions s JOIN videos v ON v.id = s.video_id
           WHERE s.id = ANY(%s) AND s.status = %s AND v.channel_id = %s AND v.removed_at IS NULL
           ORDER BY s.id FOR UPDATE OF s""",
        (suggestion_ids, ACCEPTED, channel["id"]),
    )
    rows = cur.fetchall()
    for row in rows:  # the whole batch is refused: none of it is half sent
        gate.check_writable(*gate.approved_metadata(row), video=row["video_title"] if len(rows) > 1 else None)
    ready = [row["id"] for row in rows]
    if ready and not channel["is_demo"]:  # the demo channel never calls YouTube
        quota.reserve(
            cur,
            [quota.APPLY_UNITS] * len(ready),
            daily_budget,
            purpose="apply",
            channel_id=channel["id"],
            user_id=user.id,
            suggestion_ids=ready,
        )
    cur.execute(
        "UPDATE suggestions SET status = %s, apply_error = NULL, updated_at = now() WHERE id = ANY(%s) AND status = %s",
        (APPLYING, ready, ACCEPTED),
    )
    for suggestion_id in ready:
        _audit(cur, "suggestion.apply_requested", user, suggestion_id)
    return ready


def give_back_unqueued(cur: Any, suggestion_ids: list[int]) -> list[int]:
    """The job queue refused them: back to 'accepted', their quota released,
    so the creator can press Apply again instead of waiting on 'applying'."""
    cur.execute(
        "UPDATE suggestions SET status = %s, apply_error = %s WHERE id = ANY(%s) AND status = %s RETURNING id",
        (ACCEPTED, QUEUE_UNREACHABLE, suggestion_ids, APPLYING),
    )
    given_back = [row["id"] for row in cur.fetchall()]
    quota.release(cur, suggestion_ids=suggestion_ids)
    return given_back


def keep_mine_over_youtube(cur: Any, suggestion_id: int, user: Actor) -> bool:
    """Resolve a conflict in favour of the creator's draft: the live version
    stored when the conflict was found becomes the new base, so the next
    apply writes over it (and that version stays in History). False: there
    is no conflict to resolve any more."""
    cur.execute(
        """UPDATE suggestions SET base_version_id = prior_version_id, conflict = NULL, apply_error = NULL,
                  status = %s, decided_by = %s, decided_at = now(), updated_at = now()
           WHERE id = %s AND status = %s AND conflict IS NOT NULL AND prior_version_id IS NOT NULL
           RETURNING id""",
        (ACCEPTED, user.id, suggestion_id, FAILED),
    )
    if cur.fetchone() is None:
        return False
    _audit(cur, "suggestion.conflict_resolved", user, suggestion_id, {"kept": "mine"})
    return True


# -- the apply job -------------------------------------------------------------------------------------------------


def claim_for_apply(cur: Any, suggestion_id: int) -> dict[str, Any] | None:
    """The suggestion the apply job is to write, if it is 'applying' (queued by
    the web). An 'accepted' one waits for the creator's Apply, and one given
    back after a failed enqueue must not be written by a job that did get queued."""
    cur.execute(
        """UPDATE suggestions SET apply_error = NULL, updated_at = now()
           WHERE id = %s AND status = %s
           RETURNING id, video_id, base_version_id, decided_by, engine, titles, chosen_title, description, tags,
                     approved_title, approved_description, approved_tags, prior_version_id""",
        (suggestion_id, APPLYING),
    )
    return cur.fetchone()


def record_prior_version(cur: Any, suggestion_id: int, version_id: int) -> None:
    """The live version found before writing (what a conflict resolution builds on)."""
    cur.execute(
        "UPDATE suggestions SET prior_version_id = %s WHERE id = %s AND status = %s",
        (version_id, suggestion_id, APPLYING),
    )


def mark_applied(
    cur: Any,
    suggestion_id: int,
    *,
    video_id: int,
    version_id: int,
    cooling_days: int,
    actor_id: int | None,
    wrote: bool,
) -> bool:
    """The change is on YouTube: the suggestion is applied, the video's other
    open suggestions are superseded (made from metadata it no longer has), an
    experiment still measuring an earlier change is interrupted, and the
    experiment measuring this change is opened (not for a restore: it undoes
    a change rather than making one to judge)."""
    # From 'failed' too: a job marked lost (jobs/maintenance.py) that did finish
    # has written YouTube, and the suggestion must say so.
    cur.execute(
        """UPDATE suggestions SET status = %s, applied_version_id = %s, applied_at = now(), conflict = NULL,
                  updated_at = now() WHERE id = %s AND status IN %s RETURNING engine""",
        (APPLIED, version_id, suggestion_id, (APPLYING, FAILED)),
    )
    applied = cur.fetchone()
    if applied is None:
        return False
    cur.execute(
        """UPDATE suggestions SET status = %s, updated_at = now()
           WHERE video_id = %s AND id <> %s AND status IN %s""",
        (SUPERSEDED, video_id, suggestion_id, OPEN),
    )
    experiments.interrupt_open_for_video(cur, video_id, except_suggestion_id=suggestion_id)
    if applied["engine"] != RESTORE_ENGINE:
        experiments.open_on_apply(cur, video_id=video_id, suggestion_id=suggestion_id, cooling_days=cooling_days)
    audit.record(
        cur,
        "suggestion.applied",
        actor_id=actor_id,
        target_type="video",
        target_id=video_id,
        details={"suggestion_id": suggestion_id, "version_id": version_id, "reconciled": not wrote},
    )
    return True


def mark_conflict(cur: Any, suggestion_id: int, live: dict[str, Any]) -> bool:
    """The video changed on YouTube since the suggestion was made: failed,
    with what YouTube holds kept for the creator to choose between."""
    cur.execute(
        """UPDATE suggestions SET status = %s, updated_at = now(), conflict = %s, apply_error = %s
           WHERE id = %s AND status = %s RETURNING id""",
        (FAILED, Json(live), CONFLICT_ERROR, suggestion_id, APPLYING),
    )
    return cur.fetchone() is not None


CONFLICT_EXPIRED_ERROR = (
    "The video changed on YouTube since this suggestion was made. YouTube's version found then was older than "
    "the data retention limit and is deleted: apply again to compare with what YouTube holds now."
)


def forget_old_conflicts(cur: Any, cutoff: datetime, limit: int) -> int:
    """A conflict's copy of YouTube's metadata, kept past ``cutoff`` without
    being resolved, is YouTube's data like any other (optimizer/retention.py):
    it goes; the suggestion stays failed, and applying it again reads YouTube
    afresh (and finds the conflict again if there still is one)."""
    cur.execute(
        """UPDATE suggestions SET conflict = NULL, apply_error = %s, updated_at = now()
           WHERE id IN (SELECT id FROM suggestions WHERE conflict IS NOT NULL AND updated_at < %s LIMIT %s)""",
        (CONFLICT_EXPIRED_ERROR, cutoff, limit),
    )
    return int(cur.rowcount)


def mark_failed(cur: Any, suggestion_ids: list[int], message: str) -> list[int]:
    """Applying stopped (YouTube refused, RQ gave up, the job was lost): failed
    with a reason the page shows next to its retry button."""
    cur.execute(
        """UPDATE suggestions SET status = %s, apply_error = %s, updated_at = now()
           WHERE id = ANY(%s) AND status = %s RETURNING id""",
        (FAILED, message, suggestion_ids, APPLYING),
    )
    return [row["id"] for row in cur.fetchall()]
