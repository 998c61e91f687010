"""Personal API tokens on the settings page: list (name, when made, last
use), create (the token is shown once, on the answer to the form, and never
again: only its hash is kept) and revoke. Rules in webapp/api/credentials.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp

from reliability.db import read, transaction
from webapp.api import credentials, token_store
from webapp.compression import keep_uncompressed
from webapp.errors import page_not_found
from webapp.inputs import TextForm, text

bp = Blueprint("api_tokens", __name__)

# More would be forgotten tokens nobody revokes.
MAX_TOKENS = 20


class NewTokenForm(TextForm):
    name = StringField(
        "Name",
        validators=[
            DataRequired("Give the token a name, such as the script that will use it."),
            Length(max=100),
            # PostgreSQL text cannot hold NUL, and control characters have no place in a label.
            Regexp(r"^[^\x00-\x1f\x7f]*$", message="Use letters, digits, spaces and punctuation only."),
        ],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"maxlength": 100, "autocomplete": "off"},
    )


def _me() -> dict[str, Any]:
    return {"id": current_user.id, "email": current_user.email}


def _page(form: NewTokenForm, new_token: str | None = None) -> str:
    tokens = read(token_store.list_personal, current_user.id)
    return render_template("account/api_tokens.html", tokens=tokens, form=form, new_token=new_token)


@bp.get("/settings/api-tokens")
@login_required
def index() -> ResponseReturnValue:
    return _page(NewTokenForm())


@bp.post("/settings/api-tokens")
@login_required
def create() -> ResponseReturnValue:
    form = NewTokenForm()
    if not form.validate_on_submit():
        return _page(form), 400
    if len(read(token_store.list_personal, current_user.id)) >= MAX_TOKENS:
        form.form_errors.append(f"You have {MAX_TOKENS} tokens. Revoke one you no longer use first.")
        return _page(form), 409
    with transaction() as cur:
        token = credentials.create_personal(cur, _me(), text(form.name), request.remote_addr)
    # Shown on this answer only (no redirect: the token must not travel in a URL or a cookie),
    # and never compressed: its length under compression must tell nothing (BREACH, webapp/compression.py).
    keep_uncompressed()
    return _page(NewTokenForm(), new_token=token), 201


@bp.post("/settings/api-tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> ResponseReturnValue:
    with transaction() as cur:
        revoked = credentials.revoke_personal(cur, _me(), token_id, request.remote_addr)
    if not revoked:
        raise page_not_found()  # another user's token looks like no token
    flash("The token was revoked: scripts using it are refused from now on.", "success")
    return redirect(url_for("accounts.api_tokens.index"))
