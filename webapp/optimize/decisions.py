"""What a creator decides about suggestions, as state changes in PostgreSQL.

The states a suggestion moves through:

    pending --accept--> accepted --apply--> applying --> applied
       |                   |                    |------> failed (reason, maybe a conflict) --apply--> applying
       +------reject-------+--> rejected        (a newer applied suggestion makes open ones 'superseded')

'accepted' means decided and waiting for the creator to press Apply (a
batch is accepted row by row, then applied together); 'applying' means
queued for, or inside, the apply job. Every transition is one UPDATE guarded
by the states it may come from, so two tabs or a double click cannot move a
suggestion twice, and each one is in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort

from jobs.enqueue import enqueue_apply
from optimizer import limits
from optimizer.youtube import gate, quota
from reliability import audit
from reliability.db import transaction
from reliability.errors import Conflict, ServiceUnavailable, ValidationError

APPLY_UNITS = quota.APPLY_UNITS  # the live snippet read (videos.list), then written (videos.update)
OPEN = ("pending", "accepted", "failed")
# Far above YouTube's limits (500 tag characters, 5,000 description bytes,
# 100 title characters): refuse pasted novels before splitting and diffing them.
MAX_TAGS_INPUT = 20_000
MAX_DESCRIPTION_INPUT = 20_000
MAX_TITLE_INPUT = 1_000


@dataclass(frozen=True)
class Draft:
    """The metadata the creator wants applied: a ranked title or their own."""

    title: str
    description: str
    tags: list[str]
    title_index: int | None  # None: the creator wrote their own title

    def problems(self) -> list[limits.Problem]:
        return limits.validate(self.title, self.description, self.tags)


def get_suggestion(channel_id: int, suggestion_id: int) -> dict[str, Any]:
    """The suggestion with its video, if it belongs to the channel (else 404)."""
    with transaction() as cur:
        cur.execute(
            """SELECT s.*, v.channel_id, v.title AS current_title, v.description AS current_description,
                      v.tags AS current_tags, v.removed_at, v.thumbnail_url
               FROM suggestions s JOIN videos v ON v.id = s.video_id
               WHERE s.id = %s AND v.channel_id = %s""",
            (suggestion_id, channel_id),
        )
        row = cur.fetchone()
    if row is None:
        abort(404)
    return row


def saved_draft(suggestion: dict[str, Any]) -> Draft:
    """What the creator last saved, else the suggestion as made."""
    index = suggestion["chosen_title"]
    title, description, tags = gate.approved_metadata(suggestion)  # what Apply would write
    custom = title != suggestion["titles"][index]["title"]
    return Draft(title, description, tags, None if custom else index)


def draft_from_form(form, suggestion: dict[str, Any]) -> Draft:
    """The creator's choices; fields left out of the form keep the saved draft."""
    saved = saved_draft(suggestion)
    choice = form.get("title_index", "" if saved.title_index is None else str(saved.title_index))
    if choice == "custom":
        title, index = squash_title(form.get("title", "")), None
    elif choice in [str(i) for i in range(len(suggestion["titles"]))]:  # not int(): "²".isdigit() is True
        index = int(choice)
        title = suggestion["titles"][index]["title"]
    elif choice == "" and saved.title_index is None:
        title, index = saved.title, None
    else:
        raise ValidationError("Choose one of the suggested titles or write your own.")
    description = form.get("description", saved.description).replace("\r\n", "\n")
    if len(description) > MAX_DESCRIPTION_INPUT or len(form.get("title", "")) > MAX_TITLE_INPUT:
        raise ValidationError("That is far more text than YouTube accepts (a title of 100 characters, "
                              "a description of 5,000 bytes).", code="youtube_limits")
    raw_tags = form.get("tags")
    if raw_tags is not None and len(raw_tags) > MAX_TAGS_INPUT:
        raise ValidationError("That is far more tag text than YouTube accepts (500 characters).", code="youtube_limits")
    tags = saved.tags if raw_tags is None else split_tags(raw_tags)
    return Draft(title, description, tags, index)


def squash_title(text: str) -> str:
    return " ".join(text.split())


def split_tags(text: str) -> list[str]:
    """Tags typed one per line or separated by commas."""
    return [tag.strip() for line in text.splitlines() for tag in line.split(",") if tag.strip()]


def check_draft(draft: Draft) -> None:
    problems = draft.problems()
    if problems:
        raise ValidationError(" ".join(p.message for p in problems), code="youtube_limits")


def save(suggestion: dict[str, Any], draft: Draft, user, *, accept: bool) -> None:
    """Store the edited draft; with ``accept`` the suggestion is also accepted."""
    if suggestion["removed_at"] is not None:
        raise Conflict("This video was removed from YouTube, so it cannot be changed.")
    check_draft(draft)
    with transaction() as cur:
        cur.execute(
            """UPDATE suggestions SET chosen_title = coalesce(%s, chosen_title), approved_title = %s,
                      approved_description = %s, approved_tags = %s, updated_at = now(),
                      status = CASE WHEN %s THEN 'accepted' ELSE status END,
                      decided_by = CASE WHEN %s THEN %s ELSE decided_by END,
                      decided_at = CASE WHEN %s THEN now() ELSE decided_at END
               WHERE id = %s AND status IN %s AND conflict IS NULL RETURNING id""",
            (draft.title_index, draft.title, draft.description, draft.tags, accept, accept, user.id, accept,
             suggestion["id"], OPEN),
        )
        if cur.fetchone() is None:
            raise Conflict("This suggestion was decided meanwhile (in another tab?). Reload the page.")
        audit.record(cur, "suggestion.accepted" if accept else "suggestion.edited", actor_id=user.id,
                     actor_email=user.email, target_type="suggestion", target_id=suggestion["id"],
                     details={"title_index": draft.title_index})


def accept_pending(run_id: int, user, suggestion_ids: list[int] | None = None) -> int:
    """Accept pending suggestions of a run as they stand; returns how many."""
    return _move(run_id, user, ("pending",), "accepted", "suggestion.accepted", suggestion_ids)


def reject(run_id: int, user, suggestion_ids: list[int] | None = None) -> int:
    """Reject the given suggestions (any still open), or every undecided one of the run."""
    states = OPEN if suggestion_ids is not None else ("pending", "accepted")
    return _move(run_id, user, states, "rejected", "suggestion.rejected", suggestion_ids)


def _move(run_id: int, user, from_states: tuple[str, ...], to_state: str, action: str,
          suggestion_ids: list[int] | None) -> int:
    with transaction() as cur:
        cur.execute(
            """UPDATE suggestions SET status = %s, decided_by = %s, decided_at = now(), updated_at = now()
               WHERE run_id = %s AND status IN %s AND (%s::bigint[] IS NULL OR id = ANY(%s::bigint[]))
                 AND (%s = 'rejected' OR video_id IN (SELECT id FROM videos WHERE removed_at IS NULL))
               RETURNING id""",
            (to_state, user.id, run_id, from_states, suggestion_ids, suggestion_ids, to_state),
        )
        moved = [row["id"] for row in cur.fetchall()]
        for suggestion_id in moved:
            audit.record(cur, action, actor_id=user.id, actor_email=user.email, target_type="suggestion",
                         target_id=suggestion_id)
    return len(moved)


def send_to_apply(channel: dict[str, Any], suggestion_ids: list[int], user, redis, daily_budget: int,
                  draft: Draft | None = None) -> list[int]:
    """Queue accepted suggestions for the apply job, the quota for all of them
    checked up front (a batch is not half applied for want of units). With
    ``draft``, only if that is still what is saved: another tab saving a
    different draft in between must not have its draft sent by this click."""
    with transaction() as cur:
        cur.execute(
            """SELECT s.id, s.titles, s.chosen_title, s.description, s.tags, s.approved_title, s.approved_description,
                      s.approved_tags, v.title AS video_title
               FROM suggestions s JOIN videos v ON v.id = s.video_id
               WHERE s.id = ANY(%s) AND s.status = 'accepted' AND v.channel_id = %s AND v.removed_at IS NULL
                 AND (%s OR (s.approved_title, s.approved_description, s.approved_tags) = (%s, %s, %s::text[]))
               ORDER BY s.id FOR UPDATE OF s""",
            (suggestion_ids, channel["id"], draft is None, *(
                (draft.title, draft.description, draft.tags) if draft else (None, None, []))),
        )
        rows = cur.fetchall()
        for row in rows:  # the whole batch is refused: none of it is half sent
            gate.check_writable(*gate.approved_metadata(row), video=row["video_title"] if len(rows) > 1 else None)
        ready = [row["id"] for row in rows]
        if ready and not channel["is_demo"]:  # the demo channel never calls YouTube
            quota.reserve(cur, [APPLY_UNITS] * len(ready), daily_budget, purpose="apply", channel_id=channel["id"],
                          user_id=user.id, suggestion_ids=ready)
        cur.execute("""UPDATE suggestions SET status = 'applying', apply_error = NULL, updated_at = now()
                       WHERE id = ANY(%s)""", (ready,))
        for suggestion_id in ready:
            audit.record(cur, "suggestion.apply_requested", actor_id=user.id, actor_email=user.email,
                         target_type="suggestion", target_id=suggestion_id)
    enqueue_applies(ready, redis)
    return ready


def enqueue_applies(suggestion_ids: list[int], redis) -> None:
    for done, suggestion_id in enumerate(suggestion_ids):
        try:
            enqueue_apply(redis, suggestion_id)
        except Exception as exc:  # Redis down: give back what was not queued instead of leaving it 'applying'
            _not_queued(suggestion_ids[done:])
            raise ServiceUnavailable("The job queue is unavailable; the changes not yet queued were not sent to "
                                     "YouTube. Try again shortly.") from exc


def _not_queued(suggestion_ids: list[int]) -> None:
    with transaction() as cur:
        cur.execute(
            """UPDATE suggestions SET status = 'accepted',
                      apply_error = 'The job queue was unreachable; nothing was sent to YouTube. Try again.'
               WHERE id = ANY(%s) AND status = 'applying'""",
            (suggestion_ids,),
        )
        quota.release(cur, suggestion_ids=suggestion_ids)


def keep_mine_over_youtube(suggestion: dict[str, Any], user) -> None:
    """Resolve a conflict in favour of the creator's draft: the live version
    stored when the conflict was found becomes the new base, so the next
    apply writes over it (and that version stays in History)."""
    gate.check_writable(*gate.approved_metadata(suggestion))  # before the conflict is cleared
    with transaction() as cur:
        cur.execute(
            """UPDATE suggestions SET base_version_id = prior_version_id, conflict = NULL, apply_error = NULL,
                      status = 'accepted', decided_by = %s, decided_at = now(), updated_at = now()
               WHERE id = %s AND status = 'failed' AND conflict IS NOT NULL AND prior_version_id IS NOT NULL
               RETURNING id""",
            (user.id, suggestion["id"]),
        )
        if cur.fetchone() is None:
            raise Conflict("There is no conflict to resolve on this suggestion any more. Reload the page.")
        audit.record(cur, "suggestion.conflict_resolved", actor_id=user.id, actor_email=user.email,
                     target_type="suggestion", target_id=suggestion["id"], details={"kept": "mine"})
