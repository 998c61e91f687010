"""The creator's decisions about suggestions, as use cases: each opens one
transaction and makes its change through optimizer/suggestions.py, which
owns the states and the guarded transitions (see the diagram there).
"""

from __future__ import annotations

from typing import Any

from jobs.enqueue import enqueue_apply
from optimizer import suggestion_store, suggestions
from optimizer.suggestions import Actor, Draft, saved_draft
from optimizer.youtube import gate
from reliability.db import transaction
from reliability.errors import Conflict, NotFound, ServiceUnavailable, ValidationError

# Far above YouTube's limits (500 tag characters, 5,000 description bytes,
# 100 title characters): refuse pasted novels before splitting and diffing them.
MAX_TAGS_INPUT = 20_000
MAX_DESCRIPTION_INPUT = 20_000
MAX_TITLE_INPUT = 1_000


DECIDED_MEANWHILE = "This suggestion was decided meanwhile (in another tab?). Reload the page."
VIDEO_REMOVED = "This video was removed from YouTube, so it cannot be changed."


def get_suggestion(channel_id: int, suggestion_id: int) -> dict[str, Any]:
    """The suggestion with its video, if it belongs to the channel."""
    with transaction() as cur:
        row = suggestion_store.find(cur, channel_id, suggestion_id)
    if row is None:
        raise NotFound()
    return row


def draft_from_form(form: Any, suggestion: dict[str, Any]) -> Draft:
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
        raise ValidationError(
            "That is far more text than YouTube accepts (a title of 100 characters, a description of 5,000 bytes).",
            code="youtube_limits",
        )
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


def _check_changeable(suggestion: dict[str, Any], draft: Draft) -> None:
    if suggestion["removed_at"] is not None:
        raise Conflict(VIDEO_REMOVED)
    check_draft(draft)


def save(suggestion: dict[str, Any], draft: Draft, user: Actor, *, accept: bool) -> None:
    """Store the edited draft; with ``accept`` the suggestion is also accepted."""
    _check_changeable(suggestion, draft)
    with transaction() as cur:
        if not suggestions.save_draft(cur, suggestion["id"], draft, user, accept=accept):
            raise Conflict(DECIDED_MEANWHILE)


def apply_draft(
    channel: dict[str, Any], suggestion: dict[str, Any], draft: Draft, user: Actor, redis: Any, daily_budget: int
) -> None:
    """The Apply click, in one transaction: an accepted suggestion whose saved
    draft is the form's goes straight to the apply job; otherwise the form's
    draft is saved and accepted first. Either way what is sent is what the
    creator saw, whatever another tab saved before the row was locked."""
    _check_changeable(suggestion, draft)
    with transaction() as cur:
        current = suggestion_store.lock(cur, suggestion["id"])
        if current is None:
            raise Conflict(DECIDED_MEANWHILE)
        as_saved = current["status"] == suggestions.ACCEPTED and saved_draft(current).writes_same_as(draft)
        if not as_saved and not suggestions.save_draft(cur, suggestion["id"], draft, user, accept=True):
            raise Conflict(DECIDED_MEANWHILE)
        ready = suggestions.send_to_apply(cur, channel, [suggestion["id"]], user, daily_budget)
        if not ready:
            raise Conflict(DECIDED_MEANWHILE)
    enqueue_applies(ready, redis)


def accept_pending(run_id: int, user: Actor, suggestion_ids: list[int] | None = None) -> int:
    """Accept pending suggestions of a run as they stand; returns how many."""
    with transaction() as cur:
        return len(suggestions.accept_pending(cur, run_id, user, suggestion_ids))


def reject(run_id: int, user: Actor, suggestion_ids: list[int] | None = None) -> int:
    """Reject the given suggestions (any still open), or every undecided one of the run."""
    with transaction() as cur:
        return len(suggestions.reject(cur, run_id, user, suggestion_ids))


def send_to_apply(
    channel: dict[str, Any], suggestion_ids: list[int], user: Actor, redis: Any, daily_budget: int
) -> list[int]:
    """Queue accepted suggestions for the apply job, the quota for all of them
    checked up front (a batch is not half applied for want of units)."""
    with transaction() as cur:
        ready = suggestions.send_to_apply(cur, channel, suggestion_ids, user, daily_budget)
    enqueue_applies(ready, redis)
    return ready


def enqueue_applies(suggestion_ids: list[int], redis: Any) -> None:
    for done, suggestion_id in enumerate(suggestion_ids):
        try:
            enqueue_apply(redis, suggestion_id)
        except Exception as exc:  # Redis down: give back what was not queued instead of leaving it 'applying'
            with transaction() as cur:
                suggestions.give_back_unqueued(cur, suggestion_ids[done:])
            raise ServiceUnavailable(
                "The job queue is unavailable; the changes not yet queued were not sent to YouTube. Try again shortly."
            ) from exc


def keep_mine_over_youtube(
    channel: dict[str, Any], suggestion: dict[str, Any], user: Actor, redis: Any, daily_budget: int
) -> None:
    """Resolve a conflict in favour of the creator's draft and apply it over
    YouTube's version, in one transaction (YouTube's stays in History)."""
    gate.check_writable(*gate.approved_metadata(suggestion))  # before the conflict is cleared
    with transaction() as cur:
        if not suggestions.keep_mine_over_youtube(cur, suggestion["id"], user):
            raise Conflict("There is no conflict to resolve on this suggestion any more. Reload the page.")
        ready = suggestions.send_to_apply(cur, channel, [suggestion["id"]], user, daily_budget)
        if not ready:
            raise Conflict(VIDEO_REMOVED)
    enqueue_applies(ready, redis)
