"""Where am I logged in: the user's live sessions, "End" for one of them and
"Log out everywhere" (every session and remember-me cookie of the user)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user

from webapp.accounts import sessions

bp = Blueprint("sessions", __name__)


def _me() -> dict:
    return {"id": current_user.id, "email": current_user.email}


def _leave(message: str):
    """This browser's session has just been ended: forget its cookies too."""
    logout_user()
    session.clear()
    flash(message, "info")
    return redirect(url_for("accounts.login"))


@bp.get("/settings/sessions")
@login_required
def list_sessions():
    return render_template("account/sessions.html", sessions=sessions.list_live(current_user.id),
                           current_session_id=current_user.session_id)


@bp.post("/settings/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):
    # Another user's session, or one already ended: not found, same as a stranger's id anywhere.
    if not sessions.end_one(_me(), session_id, ip=request.remote_addr):
        abort(404)
    if session_id == current_user.session_id:
        return _leave("You are logged out.")
    flash("That session was ended: the device using it is logged out.", "success")
    return redirect(url_for("sessions.list_sessions"))


@bp.post("/settings/sessions/end-all")
@login_required
def end_all_sessions():
    sessions.end_all(_me(), ip=request.remote_addr)
    return _leave("You are logged out everywhere, on this device too.")
