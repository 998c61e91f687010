"""Pages behind the links we mail: confirm an address, reset a forgotten
password; and the "check your inbox" page that registration answers with.

A link opened with GET only shows a form: mail scanners open links, and
must neither confirm an address nor use up a reset link. The POST does it.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, logout_user

from reliability.db import read, transaction
from webapp.accounts import signup, store, tokens
from webapp.accounts.forms import ForgotPasswordForm, ResetPasswordForm
from webapp.extensions import client_address_key, limiter
from webapp.inputs import text

bp = Blueprint("recovery", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _register_limit() -> str:
    return current_app.config["REGISTER_RATE_LIMIT"]


def _invalid_link() -> tuple[str, int]:
    return render_template("auth/link_invalid.html", message=tokens.INVALID_LINK), 400


@bp.app_context_processor
def _verification_state() -> dict[str, Callable[[], bool]]:
    return {"email_unverified": email_unverified}


def email_unverified() -> bool:
    """Whether the logged-in user has yet to confirm their address (asked
    once per request: the banner and a view may both want it)."""
    if not current_user.is_authenticated:
        return False
    if "_email_verified" not in g:
        try:
            with transaction() as cur:
                g._email_verified = store.email_verified(cur, current_user.id)
        except Exception:  # the banner must not break a page, the 503 page least of all
            g._email_verified = True
    return not g._email_verified


@bp.get("/register/check-inbox")
def check_inbox() -> ResponseReturnValue:
    return render_template("auth/check_inbox.html")


@bp.route("/verify/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=client_address_key, methods=["POST"])
def verify(token: str) -> ResponseReturnValue:
    if request.method == "GET":
        with transaction() as cur:
            user = tokens.peek(cur, "verify_email", token)
        return render_template("auth/verify.html", email=user["email"]) if user else _invalid_link()
    user = signup.verify(token, request.remote_addr)
    if user is None:
        return _invalid_link()
    flash("Your email address is confirmed.", "success")
    if current_user.is_authenticated and current_user.id == user["id"]:
        return redirect(url_for("main.dashboard"))
    return redirect(url_for("accounts.login"))


@bp.post("/verify/resend")
@login_required
@limiter.limit(_register_limit, methods=["POST"])
def resend_verification() -> ResponseReturnValue:
    if email_unverified():
        user = read(store.get_user, current_user.id)
        assert user is not None  # the logged-in user's own row
        signup.send_verification(user, throttle=True)
        flash(f"We sent a new confirmation link to {current_user.email}.", "info")
    return redirect(url_for("main.dashboard"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_register_limit, key_func=client_address_key, methods=["POST"])
def forgot() -> ResponseReturnValue:
    form = ForgotPasswordForm()
    if request.method == "GET":
        return render_template("auth/forgot.html", form=form)
    if not form.validate_on_submit():
        return render_template("auth/forgot.html", form=form), 400
    signup.request_reset(text(form.email))
    return redirect(url_for("accounts.recovery.forgot_sent"))


@bp.get("/password/forgot/sent")
def forgot_sent() -> ResponseReturnValue:
    return render_template("auth/forgot_sent.html")


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=client_address_key, methods=["POST"])
def reset(token: str) -> ResponseReturnValue:
    with transaction() as cur:
        user = tokens.peek(cur, "reset_password", token)
    if user is None:
        return _invalid_link()
    form = ResetPasswordForm()
    if request.method == "GET":
        return render_template("auth/reset.html", form=form, email=user["email"])
    if not form.validate_on_submit():
        return render_template("auth/reset.html", form=form, email=user["email"]), 400
    if signup.reset(token, text(form.password), request.remote_addr) is None:
        return _invalid_link()
    # Every session of the account ended with the reset, this browser's too.
    logout_user()
    session.clear()
    flash("Your password was changed and every device was logged out. Log in with the new password.", "success")
    return redirect(url_for("accounts.login"))
