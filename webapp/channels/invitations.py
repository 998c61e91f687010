"""Invitations to a channel, by address.

The owner invites any address; the page answers the same whether or not an
account uses it (no account enumeration), and a mail carries a one-time
link. The role is granted only when a logged-in account whose confirmed
address is the invited one accepts the link; until then nobody gains
anything. Every step is audited.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from reliability import audit
from reliability.db import transaction
from webapp.accounts import tokens
from webapp.accounts.mailing import compose, dispatch, link
from webapp.accounts.recovery import email_unverified
from webapp.accounts.store import normalize_email
from webapp.channels import store

bp = Blueprint("invitations", __name__)

ROLE_LABELS = {"editor": "an editor (can optimize and apply)", "viewer": "a viewer (can only look)"}


def invite(channel: dict[str, Any], email: str, role: str, *, actor_id: int, actor_email: str) -> None:
    """Store the invitation and mail its link (the same for any address)."""
    token, token_hash = tokens.new_secret("invitation")
    email = normalize_email(email)  # the form accounts are stored in (migration 0009)
    with transaction() as cur:
        invitation_id = store.insert_invitation(
            cur,
            channel["id"],
            email,
            role,
            invited_by=actor_id,
            token_hash=token_hash,
            lifetime=tokens.LIFETIMES["invitation"],
        )
        audit.record(
            cur,
            "channel.member_invited",
            actor_id=actor_id,
            actor_email=actor_email,
            target_type="channel",
            target_id=channel["id"],
            details={"invitation_id": invitation_id, "role": role},
        )
        outbox_id = compose(
            cur,
            kind="invitation",
            recipient=email,
            subject="You are invited to a channel on Channel Optimizer",
            inviter=actor_email,
            channel_title=channel["title"],
            role_label=ROLE_LABELS[role],
            url=link("channels.invitations.show", token=token),
            days=tokens.LIFETIMES["invitation"].days,
        )
    dispatch(outbox_id)


def _find(token: str, user_email: str) -> dict[str, Any] | None:
    """The open invitation behind a link, with ``for_me``: whether it was
    sent to ``user_email`` (compared as accounts are: migration 0009)."""
    token_hash = tokens.hash_of_link("invitation", token)
    if token_hash is None:
        return None
    with transaction() as cur:
        return store.open_invitation(cur, token_hash, user_email)


def _accept(token: str, user_id: int, user_email: str) -> tuple[int, str] | None:
    """Use the link once and grant its role: (channel id, outcome), outcome
    'joined' or 'already_member'; None when the link does not work."""
    token_hash = tokens.hash_of_link("invitation", token)
    if token_hash is None:
        return None
    with transaction() as cur:
        invitation = store.use_invitation(cur, token_hash, user_id, user_email)
        if invitation is None:
            return None
        if not store.add_member(
            cur, invitation["channel_id"], user_id, invitation["role"], added_by=invitation["invited_by"]
        ):
            return invitation["channel_id"], "already_member"
        audit.record(
            cur,
            "channel.member_added",
            actor_id=user_id,
            actor_email=user_email,
            target_type="channel",
            target_id=invitation["channel_id"],
            details={"user_id": user_id, "role": invitation["role"], "invitation_id": invitation["id"]},
        )
        return invitation["channel_id"], "joined"


def _refusal(invitation: dict[str, Any]) -> str | None:
    """Why the logged-in user may not accept this invitation yet, or None."""
    if not invitation["for_me"]:
        return (
            "This invitation was sent to another address. Log in with the account that uses it, "
            "or create one with that address."
        )
    if email_unverified():
        return "Confirm your address first (use the link we mailed you), then open this invitation again."
    return None


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@login_required
def show(token: str) -> ResponseReturnValue:
    invitation = _find(token, current_user.email)
    if invitation is None:
        return render_template("auth/link_invalid.html", message=tokens.INVALID_LINK), 400
    refusal = _refusal(invitation)
    if request.method == "GET" or refusal:
        return render_template(
            "channels/invitation.html",
            invitation=invitation,
            refusal=refusal,
            role_label=ROLE_LABELS[invitation["role"]],
        ), (403 if refusal and request.method == "POST" else 200)
    accepted = _accept(token, current_user.id, current_user.email)
    if accepted is None:
        return render_template("auth/link_invalid.html", message=tokens.INVALID_LINK), 400
    channel_id, outcome = accepted
    flash("You joined the channel." if outcome == "joined" else "You were already a member of this channel.", "success")
    return redirect(url_for("channels.show", channel_id=channel_id))
