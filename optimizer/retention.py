"""Keeping YouTube's data no longer than ``DATA_RETENTION_DAYS``.

YouTube's terms: data kept from its APIs is refreshed or deleted within the
limit. What refreshes what (docs/data.md has the whole table): the sync
rewrites a channel's facts, its videos' metadata and statistics (``synced_at``)
and snapshots changed metadata; the analytics ingest writes daily numbers
again before they grow old (``refreshed_at``); transcripts are fetched when a
video is optimized (``fetched_at``). ``sync_due_channels`` queues a sync for
every connected channel half-way through the limit, so a channel nobody
looks at stays fresh; ``enforce`` deletes whatever was still not refreshed
in time, which covers a disconnected channel too (nothing refreshes it).

A conflict's copy of YouTube's metadata that nobody resolved within the
limit goes too (``suggestions.forget_old_conflicts``).

What stays: the creator's own work (suggestions, decisions, the versions
their approved changes wrote and the one each would be restored to,
experiments and their verdicts), which are theirs, not YouTube's. A video
row those hang on stays, blanked of YouTube's fields.

Both take ``now`` from the caller (cron passes the clock, tests their own),
and each step commits batch by batch so that no lock is held long.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from optimizer import retention_store, suggestions
from optimizer.youtube import quota, sync_runs
from reliability.db import Cursor, transaction

log = logging.getLogger(__name__)

BATCH_SIZE = 5000


def cutoff(now: datetime, retention_days: int) -> datetime:
    """Rows last refreshed before this are older than the limit."""
    return now - timedelta(days=retention_days)


def refresh_due(now: datetime, retention_days: int) -> datetime:
    """Rows last refreshed before this are fetched again: half-way through
    the limit, leaving the other half for failed or quota-stopped attempts."""
    return now - timedelta(days=retention_days / 2)


def enforce(now: datetime, retention_days: int, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Delete (or blank) what was not refreshed within the limit; returns
    how many rows each step touched. Safe to run twice, or to stop midway."""
    before = cutoff(now, retention_days)
    steps: dict[str, Callable[[Cursor], int]] = {
        "daily_stats": lambda cur: retention_store.delete_stale_stats(cur, before, batch_size),
        "transcripts": lambda cur: retention_store.delete_stale_transcripts(cur, before, batch_size),
        "sync_versions": lambda cur: retention_store.delete_stale_sync_versions(cur, before, batch_size),
        "videos_deleted": lambda cur: retention_store.delete_stale_videos(cur, before, batch_size),
        "videos_blanked": lambda cur: retention_store.blank_stale_videos(cur, before, now, batch_size),
        "conflicts": lambda cur: suggestions.forget_old_conflicts(cur, before, batch_size),
    }
    done = {name: _in_batches(step, batch_size) for name, step in steps.items()}
    with transaction() as cur:
        done["channels_blanked"] = retention_store.blank_stale_channels(cur, before, now)
    log.info("data retention enforced", extra={"retention": done, "cutoff": before.isoformat()})
    return done


def _in_batches(step: Callable[[Cursor], int], batch_size: int) -> int:
    total = 0
    while True:
        with transaction() as cur:
            touched = step(cur)
        total += touched
        if touched < batch_size:
            return total


def create_refresh_syncs(now: datetime, retention_days: int, daily_budget: int) -> list[int]:
    """A sync run (requested by nobody) for each connected channel due for
    a refresh, while today's YouTube budget allows; returns their ids for
    the caller to queue. A channel left out is due again tomorrow."""
    with transaction() as cur:
        due = retention_store.channels_due_for_sync(cur, refresh_due(now, retention_days))
    run_ids = []
    for channel in due:
        try:
            with transaction() as cur:
                quota.check_budget(cur, quota.full_sync_minimum(channel["video_count"]), daily_budget)
                run_ids.append(int(sync_runs.create(cur, channel, None)["id"]))
        except quota.QuotaBudgetExceeded:
            left = len(due) - len(run_ids)
            log.warning("refresh syncs stopped: today's YouTube budget is spent", extra={"left": left})
            break
    return run_ids
