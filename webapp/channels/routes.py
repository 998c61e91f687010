"""Channel list, the demo channel, the channel page with its video table,
and syncing."""

from __future__ import annotations

import math
import uuid

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from jobs.queueing import queue_sync
from optimizer.demo_import import import_demo_channel
from optimizer.youtube.oauth import GoogleOAuthConfig
from reliability.db import transaction
from reliability.errors import AppError, NotFound
from webapp.channels import dashboard, store
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
def index():
    return render_template(
        "channels/index.html",
        channels=store.channels_for(current_user.id, admin=current_user.is_admin),
        quota_used=store.quota_used_today(),
        quota_budget=current_app.config["YOUTUBE_DAILY_QUOTA"],
        google_configured=GoogleOAuthConfig.from_config(current_app.config) is not None,
    )


MAX_DEMO_CHANNELS = 3


@bp.post("/channels/demo")
@login_required
@limiter.limit("10 per hour")
def add_demo():
    with transaction() as cur:
        cur.execute(
            """SELECT count(*) AS n FROM channels c JOIN channel_members m ON m.channel_id = c.id
               WHERE c.is_demo AND m.user_id = %s AND m.role = 'owner'""",
            (current_user.id,),
        )
        if cur.fetchone()["n"] >= MAX_DEMO_CHANNELS:
            flash(f"You already have {MAX_DEMO_CHANNELS} demo channels; use one of them.", "warning")
            return redirect(url_for("channels.index"))
    channel_id = import_demo_channel(current_user.id, current_user.email)
    flash("The demo channel is ready. Everything works on it; its changes stay here and never reach YouTube.", "success")
    return redirect(url_for("channels.show", channel_id=channel_id))


def _table_args() -> dict:
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
def show(channel_id: int):
    channel = require_channel(channel_id)
    table = _table_args()
    videos, total = store.video_page(channel_id, per_page=PER_PAGE, **table)
    if not videos and table["page"] > 1:
        # Past the last page (a hand-edited URL, or videos removed since) the
        # window count comes back empty too, and the page said "0 videos, no
        # videos stored yet". Fall back to the first page instead.
        table["page"] = 1
        videos, total = store.video_page(channel_id, per_page=PER_PAGE, **table)
    context = {
        "channel": channel,
        "videos": videos,
        "total": total,
        "pages": max(1, math.ceil(total / PER_PAGE)),
        "table": table,
        "can_edit": can(channel, "editor"),
        "can_manage": can(channel, "owner"),
        "idempotency_key": uuid.uuid4().hex,
        # What Optimize spends of the YouTube quota, shown before it is pressed.
        "estimate": optimize_store.quota_estimate(channel, [v["id"] for v in videos],
                                                  current_app.config["YOUTUBE_DAILY_QUOTA"]),
    }
    if is_htmx() and request.headers.get("HX-Target") == "video-table":
        return render_template("channels/_video_table.html", **context)
    context["sync"] = store.latest_sync(channel_id)
    context["disconnected_by_creator"] = channel["status"] == "disconnected" and store.disconnected_by_creator(channel_id)
    context.update(summary=dashboard.summary(channel_id), attention=dashboard.needs_attention(channel_id),
                   attention_max=dashboard.ATTENTION_ROWS, quota_budget=current_app.config["YOUTUBE_DAILY_QUOTA"])
    return render_template("channels/show.html", **context)


@bp.post("/channels/<int:channel_id>/sync")
@login_required
def start_sync(channel_id: int):
    channel = require_channel(channel_id, "editor")
    try:
        run = create_sync_run(channel)
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
def sync_status(channel_id: int, run_id: int):
    channel = require_channel(channel_id)
    run = store.get_sync_run(channel_id, run_id)
    if run is None:
        raise NotFound("No such sync.")  # the shared error handler: a page, or JSON for htmx
    return render_template("channels/_sync_status.html", channel=channel, sync=run, error=None)
