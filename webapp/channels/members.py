"""A channel's members: the owner invites an address by mail as editor
(optimize, apply) or viewer (read only; see invitations.py: the role is
granted when a confirmed account with that address accepts). Every change
is audited."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from wtforms import EmailField, SelectField
from wtforms.validators import DataRequired, Email, Length

from reliability.errors import AppError
from webapp.channels import invitations, store
from webapp.channels.access import can, require_channel
from webapp.inputs import TextForm

bp = Blueprint("members", __name__)

ROLE_CHOICES = [("editor", "Editor: can optimize and apply"), ("viewer", "Viewer: can only look")]


class InviteForm(TextForm):
    email = EmailField("Email address", validators=[
        DataRequired("Enter their email."), Length(max=254), Email("Enter a valid email.", check_deliverability=False)])
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])


class RoleForm(TextForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])


def _page(channel, form, status=200):
    can_manage = can(channel, "owner")
    return render_template("channels/members.html", channel=channel, members=store.members(channel["id"]),
                           form=form, role_form=RoleForm(), can_manage=can_manage,
                           invitations=invitations.pending(channel["id"]) if can_manage else []), status


@bp.get("/channels/<int:channel_id>/members")
@login_required
def index(channel_id: int):
    return _page(require_channel(channel_id), InviteForm())


@bp.post("/channels/<int:channel_id>/members")
@login_required
def invite(channel_id: int):
    channel = require_channel(channel_id, "owner")
    form = InviteForm()
    if not form.validate_on_submit():
        return _page(channel, form, 400)
    # The same answer for any address, with or without an account.
    invitations.invite(channel, form.email.data, form.role.data, actor_id=current_user.id, actor_email=current_user.email)
    flash(f"We mailed an invitation to {form.email.data.strip()}. They join as {form.role.data} "
          "when they accept it with a confirmed account.", "success")
    return redirect(url_for("members.index", channel_id=channel_id))


@bp.post("/channels/<int:channel_id>/members/<int:user_id>/role")
@login_required
def change_role(channel_id: int, user_id: int):
    channel = require_channel(channel_id, "owner")
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Pick editor or viewer.", "error")
        return redirect(url_for("members.index", channel_id=channel_id))
    try:
        store.change_member_role(channel_id, user_id, form.role.data, actor_id=current_user.id, actor_email=current_user.email)
        flash("Role changed.", "success")
    except AppError as exc:
        flash(exc.message, "error")
    return redirect(url_for("members.index", channel_id=channel["id"]))


@bp.post("/channels/<int:channel_id>/members/<int:user_id>/remove")
@login_required
def remove(channel_id: int, user_id: int):
    # Owners remove anyone but themselves; any member may leave.
    channel = require_channel(channel_id, "viewer" if user_id == current_user.id else "owner")
    try:
        store.remove_member(channel_id, user_id, actor_id=current_user.id, actor_email=current_user.email)
    except AppError as exc:
        flash(exc.message, "error")
        return redirect(url_for("members.index", channel_id=channel_id))
    if user_id == current_user.id:
        flash(f"You left {channel['title']}.", "info")
        return redirect(url_for("channels.index"))
    flash("Member removed.", "info")
    return redirect(url_for("members.index", channel_id=channel_id))
