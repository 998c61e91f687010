"""Auto-restore (opt-in per channel, off by default): when a change's verdict
is a final 'hurt' (never a 'likely hurt' lean), put back the version the video
had before it, through the same safe path as the Restore button (a restore
suggestion with its quota reserved, carried out by the conflict-aware apply
job), audited as automatic.

Decided once per experiment (experiments.auto_restore): not when the channel
has it off, not when the video was removed, and not when the creator edited
the video since the change (what we store differs from what the change
wrote): their edit wins, and the decision says why. A live edit not yet
synced is caught by the apply job's conflict check (the restore's base is
the newest stored version).
"""

from __future__ import annotations

from typing import Any

from optimizer import experiments, video_history, video_store
from optimizer.youtube import gate
from reliability import audit
from reliability.db import Cursor


def decide(cur: Cursor, experiment_id: int, daily_budget: int) -> int | None:
    """Decide a 'hurt' experiment's auto-restore. Returns the restore
    suggestion to queue for the apply job after commit, or None. Raises
    quota.QuotaBudgetExceeded when today's budget is spent (the caller rolls
    back; the decision is left open for tomorrow)."""
    claimed = experiments.claim_auto_restore(cur, experiment_id)
    if claimed is None:
        return None
    if not claimed["channel_auto_restore"]:
        experiments.settle_auto_restore(cur, experiment_id, experiments.RESTORE_OFF)
        return None
    video = video_store.with_channel(cur, claimed["video_id"])
    assert video is not None  # an experiment's video_id references its video
    why_not = _why_not(cur, claimed, video)
    prior = None if why_not else video_history.find_version(cur, video["id"], claimed["prior_version_id"])
    if prior is None:
        _skip(cur, claimed, why_not or experiments.RESTORE_NO_PRIOR)
        return None
    channel = {"id": video["channel_id"], "is_demo": video["is_demo"]}
    try:
        suggestion_id = video_history.create_restore(
            cur, channel, video, prior, None, daily_budget, experiment_id=experiment_id
        )
    except gate.WriteRefused:
        _skip(cur, claimed, experiments.RESTORE_REFUSED)
        return None
    experiments.settle_auto_restore(cur, experiment_id, experiments.RESTORED, restore_suggestion_id=suggestion_id)
    return suggestion_id


def _why_not(cur: Cursor, claimed: dict[str, Any], video: dict[str, Any]) -> str | None:
    if video["removed_at"] is not None:
        return experiments.RESTORE_GONE
    if claimed["prior_version_id"] is None:
        return experiments.RESTORE_NO_PRIOR
    applied = video_history.find_content(cur, claimed["applied_version_id"])
    if applied is None or _core(video) != _core(applied):
        return experiments.RESTORE_EDITED
    return None


def _core(meta: dict[str, Any]) -> tuple[str, str, list[str]]:
    return (meta["title"] or "", meta["description"] or "", list(meta["tags"] or []))


def _skip(cur: Cursor, claimed: dict[str, Any], reason: str) -> None:
    experiments.settle_auto_restore(cur, claimed["id"], reason)
    audit.record(
        cur,
        "experiment.auto_restore_skipped",
        actor_id=None,
        target_type="video",
        target_id=claimed["video_id"],
        details={"automatic": True, "experiment_id": claimed["id"], "reason": reason},
    )
