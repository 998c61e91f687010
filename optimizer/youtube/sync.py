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

from psycopg2 import sql
from psycopg2.extras import execute_values

from optimizer.youtube import quota
from optimizer.youtube.client import Call, QuotaExceeded, YouTubeClient, YouTubeError
from optimizer.youtube.mapping import VIDEO_COLUMNS, content_hash, metadata_of_row, video_row
from optimizer.youtube.tokens import ChannelDisconnected
from reliability import db
from reliability.breaker import CircuitOpen
from reliability.db import transaction

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

    def flush(self, cur) -> int:
        with self._lock:
            calls, self.calls = self.calls, []
        rows = [(quota.pacific_today(), "youtube", c.method, c.units, self.channel_id, self.user_id, self.run_id) for c in calls]
        if rows:
            execute_values(
                cur,
                "INSERT INTO quota_ledger (pacific_day, api, method, units, channel_id, user_id, sync_run_id) VALUES %s",
                rows,
            )
        return sum(r[3] for r in rows)


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
        return _stop(run, ledger, "quota_exceeded", "YouTube's daily quota is used up. The next sync resumes where this one stopped.")
    except ChannelDisconnected as exc:
        return _stop(run, ledger, "failed", exc.message)
    except CircuitOpen:
        _save_ledger(ledger)
        raise  # YouTube is failing for every worker: the queue retries later, the run resumes
    except YouTubeError as exc:
        if exc.retryable:
            _save_ledger(ledger)
            raise
        return _stop(run, ledger, "failed", f"YouTube refused the request ({exc.reason}).")
    return "succeeded"


def _claim(run_id: int) -> dict[str, Any] | None:
    with transaction() as cur:
        cur.execute(
            """UPDATE sync_runs SET status = 'running', started_at = coalesce(started_at, now()),
                      pass_started_at = coalesce(pass_started_at, now())
               WHERE id = %s AND status IN ('queued', 'running') RETURNING *""",
            (run_id,),
        )
        return cur.fetchone()


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


def _fetch_page(client: YouTubeClient, playlist_id: str, page_token: str | None) -> tuple[dict, list[dict]]:
    page = client.playlist_page(playlist_id, page_token)
    ids = [item["contentDetails"]["videoId"] for item in page.get("items", [])]
    return page, client.videos(ids)


def _refresh_channel(channel_id: int, client: YouTubeClient) -> str:
    """channels.list(mine): the uploads playlist, and fresh channel facts."""
    channels = client.my_channels()
    with transaction() as cur:
        cur.execute("SELECT youtube_channel_id FROM channels WHERE id = %s", (channel_id,))
        youtube_id = cur.fetchone()["youtube_channel_id"]
        match = next((c for c in channels if c["id"] == youtube_id), None)
        if match is None:
            raise YouTubeError(403, "channelNotFound", "The connected Google account no longer manages this channel.")
        uploads = match["contentDetails"]["relatedPlaylists"]["uploads"]
        cur.execute(
            """UPDATE channels SET title = %s, uploads_playlist_id = %s, subscriber_count = %s, updated_at = now()
               WHERE id = %s""",
            (match["snippet"]["title"], uploads, _int(match.get("statistics", {}).get("subscriberCount")), channel_id),
        )
    return uploads


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _store_page(run: dict[str, Any], items: list[dict], next_token: str | None, total: int | None, ledger: PendingLedger) -> None:
    rows = [video_row(run["channel_id"], item) for item in items]
    with transaction() as cur:
        # A page lost to a crash before it reaches disk is fetched again on
        # resume (the token is in the same transaction), so durability can wait.
        cur.execute("SET LOCAL synchronous_commit = off")
        now = datetime.now(tz=UTC)
        written = _upsert_videos(cur, rows, now)
        _store_new_versions(cur, rows, written)
        units = ledger.flush(cur)
        cur.execute(
            """UPDATE sync_runs SET resume_page_token = %s, pages_done = pages_done + 1,
                      videos_seen = videos_seen + %s, videos_total = coalesce(%s, videos_total),
                      units_used = units_used + %s
               WHERE id = %s""",
            (next_token, len(rows), total, units, run["id"]),
        )


def _upsert_videos(cur, rows: list[tuple], now: datetime) -> dict[str, int]:
    """Insert or update the page's videos; returns youtube id -> our id."""
    if not rows:
        return {}
    columns = (*VIDEO_COLUMNS, "synced_at", "removed_at")
    stamped = [(*row, now, None) for row in rows]
    query = db.upsert_query("videos", columns, ("channel_id", "youtube_video_id")) + sql.SQL(" RETURNING id, youtube_video_id")
    result = execute_values(cur, query, stamped, page_size=len(stamped), fetch=True)
    return {r["youtube_video_id"]: r["id"] for r in result}


def _store_new_versions(cur, rows: list[tuple], ids: dict[str, int]) -> None:
    """A metadata version for each video whose metadata differs from its
    latest stored version (or that has none)."""
    if not rows:
        return
    by_id = {ids[row[1]]: metadata_of_row(row) for row in rows}
    cur.execute(
        """SELECT DISTINCT ON (video_id) video_id, content_hash FROM metadata_versions
           WHERE video_id = ANY(%s) ORDER BY video_id, id DESC""",
        (list(by_id),),
    )
    latest = {r["video_id"]: r["content_hash"] for r in cur.fetchall()}
    new_versions = []
    for video_id, meta in by_id.items():
        digest = content_hash(meta)
        if latest.get(video_id) != digest:
            new_versions.append((video_id, "sync", meta["title"], meta["description"], meta["tags"], meta["category_id"],
                                 meta["default_language"], meta["default_audio_language"], digest))
    if new_versions:
        execute_values(
            cur,
            """INSERT INTO metadata_versions (video_id, source, title, description, tags, category_id,
                                              default_language, default_audio_language, content_hash) VALUES %s""",
            new_versions,
        )
        # The score depends only on the metadata: clear it where that changed;
        # optimizer.scores fills it in after the sync, off its critical path.
        cur.execute("UPDATE videos SET seo_score = NULL WHERE id = ANY(%s)", ([v[0] for v in new_versions],))


def _finish(run: dict[str, Any], ledger: PendingLedger) -> None:
    with transaction() as cur:
        cur.execute(
            """UPDATE videos SET removed_at = now()
               WHERE channel_id = %s AND removed_at IS NULL
                 AND synced_at < (SELECT pass_started_at FROM sync_runs WHERE id = %s)""",
            (run["channel_id"], run["id"]),
        )
        units = ledger.flush(cur)
        cur.execute(
            """UPDATE sync_runs SET status = 'succeeded', finished_at = now(), resume_page_token = NULL,
                      units_used = units_used + %s, error = NULL WHERE id = %s""",
            (units, run["id"]),
        )
        cur.execute(
            """UPDATE channels SET last_synced_at = now(), last_sync_status = 'succeeded', updated_at = now(),
                      video_count = (SELECT count(*) FROM videos WHERE channel_id = %s AND removed_at IS NULL)
               WHERE id = %s""",
            (run["channel_id"], run["channel_id"]),
        )


def _stop(run: dict[str, Any], ledger: PendingLedger, status: str, message: str) -> str:
    """End the run with a status the creator can read; progress already
    committed page by page stays, and so does the resume token."""
    with transaction() as cur:
        units = ledger.flush(cur)
        cur.execute(
            """UPDATE sync_runs SET status = %s, error = %s, finished_at = now(), units_used = units_used + %s
               WHERE id = %s""",
            (status, message, units, run["id"]),
        )
        cur.execute(
            "UPDATE channels SET last_sync_status = %s, updated_at = now() WHERE id = %s",
            (status, run["channel_id"]),
        )
    log.info("sync stopped", extra={"sync_run_id": run["id"], "status": status})
    return status


def _save_ledger(ledger: PendingLedger) -> None:
    with transaction() as cur:
        ledger.flush(cur)
