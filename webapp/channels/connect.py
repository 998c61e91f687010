"""Connecting a channel with Google OAuth (code flow, state and PKCE),
picking among several channels, disconnecting."""

from __future__ import annotations

import hmac
import json
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from jobs.queueing import QueueUnavailable, queue_sync
from optimizer.youtube import oauth, quota, tokens
from optimizer.youtube.client import YouTubeClient, YouTubeError
from reliability import audit
from reliability.crypto import TokenCipher
from reliability.db import transaction
from reliability.errors import AppError, Conflict, ValidationError
from webapp.channels import store
from webapp.channels.access import require_channel
from webapp.channels.syncing import create_sync_run
from webapp.extensions import limiter
from webapp.redis_client import get_redis

bp = Blueprint("connect", __name__)

_PENDING = "oauth_pending"  # state + PKCE verifier between redirect and callback
_CHOICES = "oauth_channel_choices"


class NotConfigured(AppError):
    code = "google_not_configured"
    status = 503
    message = (
        "Connecting channels needs a Google OAuth client: set GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET "
        "and TOKEN_ENCRYPTION_KEY (see the README). Meanwhile, try the demo channel."
    )


def _config() -> oauth.GoogleOAuthConfig:
    config = oauth.GoogleOAuthConfig.from_config(current_app.config)
    if config is None or not current_app.config["TOKEN_ENCRYPTION_KEY"]:
        raise NotConfigured()
    return config


def _redirect_uri() -> str:
    return url_for("channels.connect.callback", _external=True)


@bp.post("/channels/connect")
@login_required
@limiter.limit("10 per minute")
def start() -> ResponseReturnValue:
    try:
        request_ = oauth.start_authorization(_config(), _redirect_uri())
    except NotConfigured as exc:
        flash(exc.message, "warning")
        return redirect(url_for("channels.index"))
    session[_PENDING] = {"state": request_.state, "verifier": request_.code_verifier}
    return redirect(request_.url)


@bp.get("/oauth/google/callback")
@login_required
def callback() -> ResponseReturnValue:
    pending = session.pop(_PENDING, None)
    state = request.args.get("state", "")
    if not pending or not hmac.compare_digest(pending["state"], state):
        raise ValidationError(
            "This sign-in link is stale or was not started here. Please connect again.", code="oauth_state_mismatch"
        )
    if request.args.get("error"):
        flash("Google did not grant access, so no channel was connected.", "warning")
        return redirect(url_for("channels.index"))
    cfg = _config()
    try:
        token = oauth.exchange_code(cfg, _redirect_uri(), request.args.get("code", ""), pending["verifier"])
        channels = _list_channels(token)
    except (oauth.OAuthFailed, YouTubeError):
        flash("Google could not complete the connection. Please try again.", "error")
        return redirect(url_for("channels.index"))
    if not channels:
        flash("This Google account has no YouTube channel.", "warning")
        return redirect(url_for("channels.index"))
    if len(channels) == 1:
        return _connect(channels[0], token)
    session[_CHOICES] = {
        "token": TokenCipher(current_app.config["TOKEN_ENCRYPTION_KEY"]).encrypt(_dump(token)),
        "channels": [_summary(c) for c in channels],
    }
    return redirect(url_for("channels.connect.choose"))


def _list_channels(token: dict[str, Any]) -> list[dict[str, Any]]:
    client = YouTubeClient(
        current_app.config["YOUTUBE_API_BASE_URL"],
        lambda _force: token["access_token"],
        timeout_s=current_app.config["YOUTUBE_TIMEOUT_S"],
        max_retries=1,
    )
    channels = client.my_channels()
    with transaction() as cur:
        quota.record(cur, "channels.list", user_id=current_user.id)
    return channels


def _summary(channel: dict[str, Any]) -> dict[str, Any]:
    snippet = channel.get("snippet", {})
    return {
        "id": channel["id"],
        "title": snippet.get("title", channel["id"]),
        "thumbnail": (snippet.get("thumbnails", {}).get("default") or {}).get("url"),
        "uploads": channel.get("contentDetails", {}).get("relatedPlaylists", {}).get("uploads"),
        "subscribers": channel.get("statistics", {}).get("subscriberCount"),
        # YouTube's own count, so the daily-budget check before the first sync
        # knows the channel's size (it read video_count 0 and let a sync of
        # any size through; found by tests/integration/test_sync_runs.py).
        "video_count": _int(channel.get("statistics", {}).get("videoCount")),
    }


def _int(value: str | int | None) -> int:
    if value is None:
        return 0
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _dump(token: dict[str, Any]) -> str:
    return json.dumps(token)


@bp.route("/channels/connect/choose", methods=["GET", "POST"])
@login_required
def choose() -> ResponseReturnValue:
    choices = session.get(_CHOICES)
    if not choices:
        return redirect(url_for("channels.index"))
    if request.method == "GET":
        return render_template("channels/choose.html", channels=choices["channels"])
    picked = next((c for c in choices["channels"] if c["id"] == request.form.get("channel_id")), None)
    if picked is None:
        flash("Pick one of the listed channels.", "error")
        return render_template("channels/choose.html", channels=choices["channels"]), 400
    session.pop(_CHOICES, None)
    token = json.loads(TokenCipher(current_app.config["TOKEN_ENCRYPTION_KEY"]).decrypt(choices["token"]))
    return _connect(picked, token)


def _connect(channel: dict[str, Any], token: dict[str, Any]) -> Response:
    summary = channel if "uploads" in channel else _summary(channel)
    cipher = TokenCipher(current_app.config["TOKEN_ENCRYPTION_KEY"])
    try:
        channel_id = _save_channel(summary, token, cipher)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("channels.index"))
    # The message promised a sync but none was started: the creator found
    # "No videos stored yet" (found by tests/integration/test_oauth_connect.py).
    refused = _start_first_sync(channel_id)
    if refused:
        flash(f"Connected {summary['title']}. {refused}", "warning")
    else:
        flash(f"Connected {summary['title']}. Syncing its videos now.", "success")
    return redirect(url_for("channels.show", channel_id=channel_id))


def _start_first_sync(channel_id: int) -> str | None:
    """Queue a sync as the Sync button does; the reason when it may not run."""
    with transaction() as cur:
        channel = store.get_channel(cur, channel_id)
    assert channel is not None  # saved by _connect just before
    try:
        run = create_sync_run(channel, current_user.id, current_app.config["YOUTUBE_DAILY_QUOTA"])
    except AppError as exc:
        return exc.message
    try:
        queue_sync(get_redis(), run["id"])
    except QueueUnavailable as exc:  # connected all the same; the sweep starts the sync
        return exc.message
    return None


_CHANNEL_TAKEN = "This channel is already connected by another account. Ask its owner to invite you."


def _save_channel(summary: dict[str, Any], token: dict[str, Any], cipher: TokenCipher) -> int:
    """Create the channel (or reconnect it, for its owner) and store tokens."""
    with transaction() as cur:
        existing = store.connectable_channel(cur, summary["id"], current_user.id)
        if existing and existing["role"] != "owner":
            raise Conflict(_CHANNEL_TAKEN, code="channel_taken")
        channel_id = existing["id"] if existing else store.insert_channel(cur, summary, current_user.id)
        if channel_id is None:  # another account connected it a moment ago
            raise Conflict(_CHANNEL_TAKEN, code="channel_taken")
        store.mark_connected(cur, channel_id, summary)
        tokens.store_tokens(cur, channel_id, token, cipher)
        audit.record(
            cur,
            "channel.connected",
            actor_id=current_user.id,
            actor_email=current_user.email,
            target_type="channel",
            target_id=channel_id,
            details={"youtube_channel_id": summary["id"]},
        )
        return channel_id


@bp.post("/channels/<int:channel_id>/disconnect")
@login_required
def disconnect(channel_id: int) -> ResponseReturnValue:
    channel = require_channel(channel_id, "owner")
    if channel["is_demo"]:
        flash("The demo channel is not connected to YouTube.", "info")
        return redirect(url_for("channels.show", channel_id=channel_id))
    _revoke_and_forget(channel_id)
    days = current_app.config["DATA_RETENTION_DAYS"]
    flash(
        f"Disconnected. What was fetched from YouTube (video details, statistics, transcripts) is deleted after "
        f"{days} days unless you reconnect; your suggestions, approved changes and results stay.",
        "info",
    )
    return redirect(url_for("channels.show", channel_id=channel_id))


def _revoke_and_forget(channel_id: int) -> None:
    cipher = (
        TokenCipher(current_app.config["TOKEN_ENCRYPTION_KEY"]) if current_app.config["TOKEN_ENCRYPTION_KEY"] else None
    )
    with transaction() as cur:
        row = tokens.locked_encrypted_tokens(cur, channel_id)
        tokens.mark_disconnected(cur, channel_id, "user", actor_id=current_user.id, actor_email=current_user.email)
    config = oauth.GoogleOAuthConfig.from_config(current_app.config)
    if row and cipher and config:
        oauth.revoke(config, cipher.decrypt(row["refresh_token_enc"] or row["access_token_enc"]))
