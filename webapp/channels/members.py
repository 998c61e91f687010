"""A channel's members: the owner invites an address by mail as editor
(optimize, apply) or viewer (read only; see invitations.py: the role is
granted when a confirmed account with that address accepts). Every change
is audited."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from wtforms import EmailField, SelectField
from wtforms.validators import DataRequired, Email, Length

from reliability.db import transaction
from reliability.errors import AppError
from webapp.channels import invitations, store
from webapp.channels.access import can, require_channel
from webapp.inputs import TextForm, text

bp = Blueprint("members", __name__)

ROLE_CHOICES = [("editor", "Editor: can optimize and apply"), ("viewer", "Viewer: can only look")]


class InviteForm(TextForm):
    email = EmailField(
        "Email address",
        validators=[
            DataRequired("Enter their email."),
            Length(max=254),
            Email("Enter a valid email.", check_deliverability=False),
        ],
    )
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])


class RoleForm(TextForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])


class AutoRestoreForm(TextForm):
    """Turn automatic restores on or off (a select, not a checkbox: an
    unchecked box sends nothing, and nothing must not mean "off")."""

    auto_restore = SelectField("Automatic restore", choices=[("on", "On"), ("off", "Off")], validators=[DataRequired()])


def _page(channel: dict[str, Any], form: InviteForm, status: int = 200) -> tuple[str, int]:
    can_manage = can(channel, "owner")
    with transaction() as cur:
        members = store.members(cur, channel["id"])
        pending = store.pending_invitations(cur, channel["id"]) if can_manage else []
    return render_template(
        "channels/members.html",
        channel=channel,
        members=members,
        form=form,
        role_form=RoleForm(),
        auto_restore_form=AutoRestoreForm(auto_restore="on" if channel["auto_restore"] else "off"),
        can_manage=can_manage,
        invitations=pending,
    ), status


@bp.get("/channels/<int:channel_id>/members")
@login_required
def index(channel_id: int) -> tuple[str, int]:
    return _page(require_channel(channel_id), InviteForm())


@bp.post("/channels/<int:channel_id>/members")
@login_required
def invite(channel_id: int) -> ResponseReturnValue:
    channel = require_channel(channel_id, "owner")
    form = InviteForm()
    if not form.validate_on_submit():
        return _page(channel, form, 400)
    # The same answer for any address, with or without an account.
    invitations.invite(
        channel, text(form.email), form.role.data, actor_id=current_user.id, actor_email=current_user.email
    )
    flash(
        f"We mailed an invitation to {text(form.email).strip()}. They join as {form.role.data} "
        "when they accept it with a confirmed account.",
        "success",
    )
    return redirect(url_for("channels.members.index", channel_id=channel_id))


@bp.post("/channels/<int:channel_id>/members/<int:user_id>/role")
@login_required
def change_role(channel_id: int, user_id: int) -> ResponseReturnValue:
    channel = require_channel(channel_id, "owner")
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Pick editor or viewer.", "error")
        return redirect(url_for("channels.members.index", channel_id=channel_id))
    try:
        with transaction() as cur:
            store.change_member_role(
                cur, channel_id, user_id, form.role.data, actor_id=current_user.id, actor_email=current_user.email
            )
        flash("Role changed.", "success")
    except AppError as exc:
        flash(exc.message, "error")
    return redirect(url_for("channels.members.index", channel_id=channel["id"]))


@bp.post("/channels/<int:channel_id>/members/<int:user_id>/remove")
@login_required
def remove(channel_id: int, user_id: int) -> ResponseReturnValue:
    # Owners remove anyone but themselves; any member may leave.
    channel = require_channel(channel_id, "viewer" if user_id == current_user.id else "owner")
    try:
        with transaction() as cur:
            store.remove_member(cur, channel_id, user_id, actor_id=current_user.id, actor_email=current_user.email)
    except AppError as exc:
        flash(exc.message, "error")
        return redirect(url_for("channels.members.index", channel_id=channel_id))
    if user_id == current_user.id:
        flash(f"You left {channel['title']}.", "info")
        return redirect(url_for("channels.index"))
    flash("Member removed.", "info")
    return redirect(url_for("channels.members.index", channel_id=channel_id))


@bp.post("/channels/<int:channel_id>/auto-restore")
@login_required
def auto_restore(channel_id: int) -> ResponseReturnValue:
    """The owner's choice: restore a change automatically when its verdict is 'hurt'."""
    channel = require_channel(channel_id, "owner")
    form = AutoRestoreForm()
    if not form.validate_on_submit():
        flash("Choose on or off.", "error")
        return redirect(url_for("channels.members.index", channel_id=channel_id))
    enabled = form.auto_restore.data == "on"
    with transaction() as cur:
        store.set_auto_restore(cur, channel["id"], enabled, actor_id=current_user.id, actor_email=current_user.email)
    flash(
        "Automatic restore is on: a change measured to have hurt is put back to the earlier version."
        if enabled
        else "Automatic restore is off.",
        "success",
    )
    return redirect(url_for("channels.members.index", channel_id=channel_id))
