"""What the channel page shows, worked out once per data version.

The page's expensive parts are the video table (its query, and 50 rows of
Jinja with two links each) and the dashboard's two planned-heavy queries.
Both depend only on rows whose every change bumps the channel's
``data_version`` (migration 0018's triggers), so they are kept in the page
cache (webapp/page_cache.py) under that version: a page asked again before
anything changed runs neither. The rows are stored rendered, keyed also by
the viewer's role (an editor's rows carry select boxes and Optimize
buttons, a viewer's do not); the parts that belong to one request (the
CSRF token, the form's one-time key, today's quota, which moves with every
channel's work) are filled in per request around them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from typing import Any

from flask import Response, render_template, session, url_for
from flask_login import current_user

from optimizer.youtube import transcripts
from reliability.db import Cursor
from webapp.channels import dashboard_store, store
from webapp.channels.access import can
from webapp.channels.video_rows import video_rows
from webapp.page_cache import SlottedPage, page_cache, render_with_slots, request_csrf_token

# A video id no real row has, put in a URL and cut out again: every row's
# link is then prefix + id + suffix, not a url_for call per row.
_MARK = 918273645546372819


def row_url(endpoint: str, **values: Any) -> tuple[str, str]:
    """(prefix, suffix) of ``endpoint``'s URL around its ``video_id``."""
    url = url_for(endpoint, video_id=_MARK, **values)
    prefix, _, suffix = url.partition(str(_MARK))
    return prefix, suffix


def video_listing(cur: Cursor, channel: dict[str, Any], table: dict[str, Any], per_page: int) -> dict[str, Any]:
    """The table's page of videos: ``rows`` (rendered), ``total``, ``video_ids``
    and ``page`` (1 when the asked page is past the last)."""
    key = (
        "video_table",
        channel["id"],
        channel["data_version"],
        channel["my_role"],
        table["search"],
        table["sort"],
        table["status_filter"],
        table["page"],
    )
    return page_cache().get_or_make(key, lambda: _make_listing(cur, channel, table, per_page))


def _make_listing(cur: Cursor, channel: dict[str, Any], table: dict[str, Any], per_page: int) -> dict[str, Any]:
    page = table["page"]
    videos, total = store.video_page(cur, channel["id"], per_page=per_page, **table)
    if not videos and page > 1:
        # Past the last page (a hand-edited URL, or videos removed since) the
        # count comes back empty too, and the page said "0 videos, no videos
        # stored yet". Fall back to the first page instead.
        page = 1
        videos, total = store.video_page(cur, channel["id"], per_page=per_page, **{**table, "page": 1})
    rows = video_rows(
        videos,
        can_edit=can(channel, "editor"),
        video_url=row_url("videos.show", channel_id=channel["id"]),
        optimize_url=row_url("optimize.start_one", channel_id=channel["id"]),
    )
    return {
        "rows": rows,
        "total": total,
        "video_ids": [v["id"] for v in videos],
        "page": page,
    }


def dashboard(cur: Cursor, channel: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's counts this month, what needs attention and the
    latest sync. The month is in the key: "this month" moves without a write."""
    key = ("dashboard", channel["id"], channel["data_version"], _month())
    return page_cache().get_or_make(
        key,
        lambda: {
            "summary": dashboard_store.summary(cur, channel["id"]),
            "attention": dashboard_store.needs_attention(cur, channel["id"]),
            "sync": store.latest_sync(cur, channel["id"]),
        },
    )


def page_answer(cur: Cursor, channel: dict[str, Any], context: dict[str, Any], live: dict[str, Any]) -> str | Response:
    """The whole channel page. Kept rendered (placeholders for the CSRF
    token and the one-time key, filled per answer) under everything it
    shows: the data version and role, whether the viewer is an admin (the
    navigation), the table's arguments, the month, and ``live``: what is
    read on each request (today's quota, why a disconnected channel is; the
    estimate is in ``context``). A flashed message makes the page one of a
    kind: rendered for it alone. The answer is gzip made from the kept
    page's parts deflated once when the client takes it (SlottedPage)."""

    def render(slots: bool) -> str:
        board = dashboard(cur, channel)
        page = {
            **context,
            **live,
            "sync": board["sync"],
            "attention": board["attention"],
            "summary": {
                **board["summary"],
                "quota_today": live["quota_today"],
                "channel_quota_today": live["channel_quota_today"],
            },
        }
        if slots:
            return render_with_slots("channels/show.html", **page)
        return render_template("channels/show.html", idempotency_key=uuid.uuid4().hex, **page)

    if session.get("_flashes"):
        return render(slots=False)
    key = (
        "channel_page",
        channel["id"],
        channel["data_version"],
        channel["my_role"],
        current_user.is_admin,
        _month(),
        tuple(sorted(context["table"].items())),
        tuple(sorted((context["estimate"] or {}).items())),
        tuple(sorted(live.items())),
    )
    return page_cache().get_or_make(key, lambda: SlottedPage(render(slots=True))).answer()


def transcripts_to_fetch(cur: Cursor, channel: dict[str, Any], video_ids: list[int]) -> int:
    """How many of these videos an optimization would fetch a transcript
    for, kept per data version (transcripts and videos are in its trigger
    set) until a video found without captions is due to be looked at again:
    the one change time makes alone. A query over the page's 50 rows saved
    on every answer."""

    def make() -> tuple[int, float | None]:
        count, changes_in = transcripts.count_to_fetch_and_when_it_changes(cur, channel, video_ids)
        return count, None if changes_in is None else time.monotonic() + changes_in

    key = ("transcripts_to_fetch", channel["id"], channel["data_version"], tuple(video_ids))
    count, _ = page_cache().get_or_make(key, make, fresh=lambda kept: kept[1] is None or time.monotonic() < kept[1])
    return count


def _month() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m")


def table_etag(channel: dict[str, Any], table: dict[str, Any], live: dict[str, Any], user_token: str) -> str:
    """The ETag of the video-table fragment: everything it shows or embeds,
    so an unchanged one can be answered 304. The data version and role
    (the rows), the table's arguments, the per-request figures (quota left,
    transcripts to fetch), and the session: its token and the CSRF secret
    the fragment's token is signed from (another session never matches)."""
    request_csrf_token()  # puts the CSRF secret in a new session, as the fragment's form will
    parts = (
        channel["id"],
        channel["data_version"],
        channel["my_role"],
        tuple(sorted(table.items())),
        tuple(sorted(live.items())),
        hashlib.sha256(user_token.encode()).hexdigest(),
        session.get("csrf_token", ""),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
