"""Sync a channel's videos into PostgreSQL at the least quota the API allows.

One ``channels.list`` for the uploads playlist, then per page of 50: one
``playlistItems.list`` and one ``videos.list`` — 1 + 2·ceil(N/50) units.
Captions are never fetched here (250 units a video); they are fetched on
demand when a video is optimized.

Each page is written in one transaction together with the run's progress
and the page's quota ledger rows, so a killed worker or a spent quota loses
nothing: the next attempt resumes from the stored page token. Videos not
seen during a complete pass over the playlist are marked removed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from optimizer import channel_store, experiments, video_history, video_store
from optimizer.youtube import quota, sync_runs
from optimizer.youtube.client import Call, QuotaExceeded, YouTubeClient, YouTubeError
from optimizer.youtube.mapping import metadata_of_row, video_row
from optimizer.youtube.tokens import ChannelDisconnected
from reliability.breaker import CircuitOpen
from reliability.db import Cursor, transaction

log = logging.getLogger(__name__)

ClientFactory = Callable[[int, Callable[[Call], None]], YouTubeClient]


@dataclass
class PendingLedger:
    """Calls made since the last commit; written with the next page."""

    channel_id: int
    user_id: int | None
    run_id: int
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, call: Call) -> None:
        with self._lock:  # calls come from the fetch thread, flushes from the writer
            self.calls.append(call)

    def flush(self, cur: Cursor) -> int:
        with self._lock:
            calls, self.calls = self.calls, []
        return quota.record_sync_calls(
            cur,
            [(c.method, c.units) for c in calls],
            channel_id=self.channel_id,
            user_id=self.user_id,
            sync_run_id=self.run_id,
        )


def run_sync(run_id: int, client_factory: ClientFactory) -> str:
    """Run (or resume) one sync run; returns its final status. Raises only
    for errors worth a later retry by the job queue (5xx after retries)."""
    run = _claim(run_id)
    if run is None:
        return "skipped"
    ledger = PendingLedger(run["channel_id"], run["requested_by"], run_id)
    try:
        client = client_factory(run["channel_id"], ledger.add)
        _sync_pages(run, client, ledger)
    except QuotaExceeded:
        return _stop(
            run,
            ledger,
            sync_runs.QUOTA_EXCEEDED,
            "YouTube's daily quota is used up. The next sync resumes where this one stopped.",
        )
    except ChannelDisconnected as exc:
        return _stop(run, ledger, sync_runs.FAILED, exc.message)
    except CircuitOpen:
        _save_ledger(ledger)
        raise  # YouTube is failing for every worker: the queue retries later, the run resumes
    except YouTubeError as exc:
        if exc.retryable:
            _save_ledger(ledger)
            raise
        return _stop(run, ledger, sync_runs.FAILED, f"YouTube refused the request ({exc.reason}).")
    return sync_runs.SUCCEEDED


def _claim(run_id: int) -> dict[str, Any] | None:
    with transaction() as cur:
        return sync_runs.claim(cur, run_id)


def _sync_pages(run: dict[str, Any], client: YouTubeClient, ledger: PendingLedger) -> None:
    """Fetch page k+1 from YouTube while page k is written: PostgreSQL's
    time then hides behind YouTube's instead of adding to it. One fetch is in
    flight at a time, so the client is never used by two threads at once."""
    playlist_id = _refresh_channel(run["channel_id"], client)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-fetch") as fetcher:
        pending = fetcher.submit(_fetch_page, client, playlist_id, run["resume_page_token"])
        while True:
            page, items = pending.result()  # a QuotaExceeded here leaves the stored pages and token
            next_token = page.get("nextPageToken")
            if next_token:
                pending = fetcher.submit(_fetch_page, client, playlist_id, next_token)
            _store_page(run, items, next_token, page.get("pageInfo", {}).get("totalResults"), ledger)
            if not next_token:
                break
    _finish(run, ledger)


def _fetch_page(
    client: YouTubeClient, playlist_id: str, page_token: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    page = client.playlist_page(playlist_id, page_token)
    ids = [item["contentDetails"]["videoId"] for item in page.get("items", [])]
    return page, client.videos(ids)


def _refresh_channel(channel_id: int, client: YouTubeClient) -> str:
    """channels.list(mine): the uploads playlist, and fresh channel facts."""
    channels = client.my_channels()
    with transaction() as cur:
        youtube_id = channel_store.youtube_id(cur, channel_id)
        match = next((c for c in channels if c["id"] == youtube_id), None)
        if match is None:
            raise YouTubeError(403, "channelNotFound", "The connected Google account no longer manages this channel.")
        uploads = match["contentDetails"]["relatedPlaylists"]["uploads"]
        channel_store.refresh_from_youtube(
            cur,
            channel_id,
            title=match["snippet"]["title"],
            uploads_playlist_id=uploads,
            subscriber_count=_int(match.get("statistics", {}).get("subscriberCount")),
            thumbnail_url=(match["snippet"].get("thumbnails", {}).get("default") or {}).get("url"),
        )
    return uploads


def _int(value: str | int | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _store_page(
    run: dict[str, Any], items: list[dict[str, Any]], next_token: str | None, total: int | None, ledger: PendingLedger
) -> None:
    rows = [video_row(run["channel_id"], item) for item in items]
    with transaction() as cur:
        # A page lost to a crash before it reaches disk is fetched again on
        # resume (the token is in the same transaction), so durability can wait.
        cur.execute("SET LOCAL synchronous_commit = off")
        now = datetime.now(tz=UTC)
        written = video_store.upsert_synced(cur, rows, now)
        _store_new_versions(cur, rows, written)
        units = ledger.flush(cur)
        sync_runs.record_page(cur, run["id"], next_token=next_token, seen=len(rows), total=total, units=units)


def _store_new_versions(cur: Cursor, rows: list[tuple[Any, ...]], ids: dict[str, int]) -> None:
    """A metadata version for each video whose metadata differs from its
    latest stored version (or that has none)."""
    if not rows:
        return
    by_id = {ids[row[1]]: metadata_of_row(row) for row in rows}
    kept = video_history.keep_versions(cur, by_id, source="sync")
    changed = [video_id for video_id, (_, new) in kept.items() if new]
    if changed:
        # The score depends only on the metadata: clear it where that changed;
        # optimizer.scores fills it in after the sync, off its critical path.
        video_store.clear_scores(cur, changed)
        # Edited on YouTube while a change of ours was being measured: that measurement is over.
        experiments.interrupt_edited_elsewhere(cur, changed)


def _finish(run: dict[str, Any], ledger: PendingLedger) -> None:
    with transaction() as cur:
        video_store.mark_removed_unseen(cur, run["channel_id"], run["id"])
        units = ledger.flush(cur)
        sync_runs.succeed(cur, run["id"], units)
        channel_store.record_sync_finished(cur, run["channel_id"], sync_runs.SUCCEEDED)


def _stop(run: dict[str, Any], ledger: PendingLedger, status: str, message: str) -> str:
    """End the run with a status the creator can read; progress already
    committed page by page stays, and so does the resume token."""
    with transaction() as cur:
        units = ledger.flush(cur)
        sync_runs.stop(cur, run["id"], status, message, units)
        channel_store.record_sync_stopped(cur, run["channel_id"], status)
    log.info("sync stopped", extra={"sync_run_id": run["id"], "status": status})
    return status


def _save_ledger(ledger: PendingLedger) -> None:
    with transaction() as cur:
        ledger.flush(cur)
