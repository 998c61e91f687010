"""Channel list, the demo channel, the channel page with its video table,
and syncing."""

from __future__ import annotations

import math
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from jobs.queueing import queue_sync
from optimizer.youtube import quota
from optimizer.youtube.oauth import GoogleOAuthConfig
from reliability.db import reading, transaction
from reliability.errors import AppError, NotFound
from webapp.channels import dashboard_store, showing, store
from webapp.channels.access import can, require_channel
from webapp.channels.syncing import create_sync_run
from webapp.extensions import limiter
from webapp.htmx import is_htmx, refused
from webapp.inputs import parse_id
from webapp.optimize import store as optimize_store
from webapp.redis_client import get_redis

bp = Blueprint("channels", __name__)

PER_PAGE = 50
MAX_SEARCH = 200


@bp.get("/channels")
@login_required
def index() -> str:
    with transaction() as cur:
        channels = store.channels_for(cur, current_user.id, admin=current_user.is_admin)
        quota_used = store.quota_used_today(cur)
    return render_template(
        "channels/index.html",
        channels=channels,
        quota_used=quota_used,
        quota_budget=current_app.config["YOUTUBE_DAILY_QUOTA"],
        google_configured=GoogleOAuthConfig.from_config(current_app.config) is not None,
    )


MAX_DEMO_CHANNELS = 3


@bp.post("/channels/demo")
@login_required
@limiter.limit("10 per hour")
def add_demo() -> ResponseReturnValue:
    with transaction() as cur:
        owned = store.owned_demo_count(cur, current_user.id)
    if owned >= MAX_DEMO_CHANNELS:
        flash(f"You already have {MAX_DEMO_CHANNELS} demo channels; use one of them.", "warning")
        return redirect(url_for("channels.index"))
    # Imported here, not at the top: judging the demo's past change needs numpy and
    # scipy, and a web process that never imports a demo should not carry them
    # (their objects made every request's garbage collection slower: GET /login
    # served 30 % fewer requests a second with them loaded).
    from optimizer.demo_import import import_demo_channel
    from optimizer.verdict import VerdictSettings

    channel_id = import_demo_channel(
        current_user.id, current_user.email, VerdictSettings.from_config(current_app.config)
    )
    flash(
        "The demo channel is ready. Everything works on it; its changes stay here and never reach YouTube.", "success"
    )
    return redirect(url_for("channels.show", channel_id=channel_id))


def _table_args() -> dict[str, Any]:
    """The video table's query arguments, checked: bad values fall back to
    defaults instead of erroring, so a hand-edited URL still shows a page."""
    args = request.args
    sort = args.get("sort", "newest")
    status_filter = args.get("filter", "all")
    page = max(1, min(parse_id(args.get("page", "1")) or 1, 100_000))
    return {
        # PostgreSQL text cannot hold NUL: psycopg2 refused "?q=%00" with a
        # ValueError, a 500 (found by tests/integration/test_channel_pages.py).
        "search": (args.get("q") or "").replace("\x00", "").strip()[:MAX_SEARCH],
        "sort": sort if sort in store.VIDEO_SORTS else "newest",
        "status_filter": status_filter if status_filter in store.VIDEO_FILTERS else "all",
        "page": page,
    }


@bp.get("/channels/<int:channel_id>")
@login_required
def show(channel_id: int) -> ResponseReturnValue:
    table = _table_args()
    fragment = is_htmx() and request.headers.get("HX-Target") == "video-table"
    budget = current_app.config["YOUTUBE_DAILY_QUOTA"]
    # The page only reads: no transaction round trips (reading), and the
    # membership check on the same connection (one pool checkout). The table
    # and the dashboard come from the page cache while the channel's data
    # version stands (webapp/channels/showing.py); today's quota is read
    # every time.
    with reading() as cur:
        channel = require_channel(channel_id, cur=cur)
        can_edit = can(channel, "editor")
        listing = showing.video_listing(cur, channel, table, PER_PAGE)
        table["page"] = listing["page"]
        quota_today = quota.usage_today(cur, channel_id)
        left = max(0, budget - quota_today["used"] - quota_today["held"])
        # What Optimize spends of the YouTube quota, shown to those who may press it.
        estimate = (
            optimize_store.quota_estimate(
                cur,
                channel,
                listing["video_ids"],
                budget,
                left=left,
                transcripts=showing.transcripts_to_fetch(cur, channel, listing["video_ids"]),
            )
            if can_edit
            else None
        )
        context = {
            "channel": channel,
            "listing": listing,
            "total": listing["total"],
            "pages": max(1, math.ceil(listing["total"] / PER_PAGE)),
            "table": table,
            "can_edit": can_edit,
            "can_manage": can(channel, "owner"),
            "estimate": estimate,
        }
        if fragment:
            return _video_table_fragment(channel, table, estimate, context)
        live = {
            "quota_today": quota_today["used"],
            "channel_quota_today": quota_today["channel_used"],
            "disconnected_by_creator": channel["status"] == "disconnected"
            and store.disconnected_by_creator(cur, channel_id),
            "attention_max": dashboard_store.ATTENTION_ROWS,
            "quota_budget": budget,
        }
        # Rendered once per data version, role and live figures (webapp/channels/showing.py).
        return showing.page_answer(cur, channel, context, live)


def _video_table_fragment(
    channel: dict[str, Any], table: dict[str, Any], estimate: dict[str, int] | None, context: dict[str, Any]
) -> ResponseReturnValue:
    """The table alone, for htmx (search, sort, filter, pages). Answered 304
    when the browser already holds this very fragment (its ETag covers the
    data version, the role, the session and today's quota): the browser
    keeps its copy, one-time key included, and no row is rendered."""
    etag = showing.table_etag(channel, table, estimate or {}, current_user.session_token)
    # The browser may keep the fragment, but must ask each time (no-cache):
    # its ETag is checked on every use.
    headers = {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache", "Vary": "HX-Request, HX-Target, Cookie"}
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    html = render_template("channels/_video_table.html", idempotency_key=uuid.uuid4().hex, **context)
    return Response(html, headers=headers)


@bp.post("/channels/<int:channel_id>/sync")
@login_required
def start_sync(channel_id: int) -> ResponseReturnValue:
    channel = require_channel(channel_id, "editor")
    try:
        run = create_sync_run(channel, current_user.id, current_app.config["YOUTUBE_DAILY_QUOTA"])
    except AppError as exc:
        # htmx swaps no error response: the refusal goes out as the shared JSON
        # error, whose message the page shows (static/js/app.js).
        return refused(exc, redirect(url_for("channels.show", channel_id=channel_id)))
    queue_sync(get_redis(), run["id"])  # Redis down: 503, the run is kept and queued by the sweep
    if is_htmx():
        return render_template("channels/_sync_status.html", channel=channel, sync=run, error=None)
    flash("Sync started.", "info")
    return redirect(url_for("channels.show", channel_id=channel_id))


@bp.get("/channels/<int:channel_id>/syncs/<int:run_id>")
@login_required
def sync_status(channel_id: int, run_id: int) -> str:
    channel = require_channel(channel_id)
    with transaction() as cur:
        run = store.get_sync_run(cur, channel_id, run_id)
    if run is None:
        raise NotFound("No such sync.")  # the shared error handler: a page, or JSON for htmx
    return render_template("channels/_sync_status.html", channel=channel, sync=run, error=None)
