"""Where am I logged in: the user's live sessions, "End" for one of them and
"Log out everywhere" (every session and remember-me cookie of the user)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, logout_user

from reliability.db import transaction
from webapp.accounts import sessions
from webapp.api import credentials
from webapp.errors import page_not_found

bp = Blueprint("devices", __name__)


def _me() -> dict[str, Any]:
    return {"id": current_user.id, "email": current_user.email}


def _leave(message: str) -> ResponseReturnValue:
    """This browser's session has just been ended: forget its cookies too."""
    logout_user()
    session.clear()
    flash(message, "info")
    return redirect(url_for("accounts.login"))


@bp.get("/settings/sessions")
@login_required
def list_sessions() -> str:
    with transaction() as cur:
        live = sessions.list_live(cur, current_user.id)
    return render_template(
        "account/sessions.html",
        sessions=live,
        current_session_id=current_user.session_id,
    )


@bp.post("/settings/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int) -> ResponseReturnValue:
    # Another user's session, or one already ended: not found, same as a stranger's id anywhere.
    with transaction() as cur:
        ended = sessions.end_one(cur, _me(), session_id, ip=request.remote_addr)
    if not ended:
        raise page_not_found()
    if session_id == current_user.session_id:
        return _leave("You are logged out.")
    flash("That session was ended: the device using it is logged out.", "success")
    return redirect(url_for("accounts.devices.list_sessions"))


@bp.post("/settings/sessions/end-all")
@login_required
def end_all_sessions() -> ResponseReturnValue:
    with transaction() as cur:
        sessions.end_all(cur, _me(), ip=request.remote_addr)
        credentials.revoke_everything(cur, current_user.id)  # the API's logins and personal tokens too
    return _leave("You are logged out everywhere, on this device too.")
