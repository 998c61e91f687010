"""Register, log in, log out, account settings, and the admin's user list."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp.accounts import sessions, signup, store, throttle
from webapp.accounts.forms import ChangePasswordForm, DeleteAccountForm, LoginForm, RegisterForm
from webapp.accounts.identity import User, safe_next_url
from webapp.accounts.passwords import hash_password
from webapp.extensions import client_address_key, limiter

bp = Blueprint("accounts", __name__)

BAD_CREDENTIALS = "Incorrect email or password."


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _register_limit() -> str:
    return current_app.config["REGISTER_RATE_LIMIT"]


def _client_ip() -> str | None:
    return request.remote_addr


def _hash(password: str) -> str:
    return hash_password(password, current_app.config["BCRYPT_ROUNDS"])


def _start_session(row: dict, remember: bool = False) -> None:
    """A new server-side session with a new token (rotation at login and at
    a password change); nothing from before survives into it."""
    token = sessions.start(row["id"], remember=remember, user_agent=request.user_agent.string, ip=_client_ip())
    session.clear()
    login_user(User(row, token), remember=remember)
    session.permanent = True


def _locked(template: str, exc: throttle.AccountLocked, refused_form, /, **context):
    """The page again, with the wait in words on ``refused_form``, as 429
    with Retry-After."""
    refused_form.form_errors.append(exc.message)
    return render_template(template, **context), 429, {"Retry-After": str(exc.retry_after)}


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=client_address_key, methods=["POST"])
def login():
    dashboard = url_for("main.dashboard")
    if current_user.is_authenticated:
        return redirect(safe_next_url(request.args.get("next"), dashboard))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        return render_template("auth/login.html", form=form)
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400
    row = store.find_by_email(form.email.data)
    try:
        right = throttle.check_password(form.email.data, form.password.data, row["password_hash"] if row else None)
    except throttle.AccountLocked as exc:
        return _locked("auth/login.html", exc, form, form=form)
    if not right:
        form.form_errors.append(BAD_CREDENTIALS)
        return render_template("auth/login.html", form=form), 401
    _start_session(row, remember=form.remember.data)
    store.record_login(row, _client_ip())
    return redirect(safe_next_url(form.next.data, dashboard))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, key_func=client_address_key, methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = RegisterForm()
    if request.method == "GET":
        return render_template("auth/register.html", form=form)
    if not form.validate_on_submit():
        return render_template("auth/register.html", form=form), 400
    # The same answer for a new and a taken address (no account enumeration):
    # the mail tells the address's owner which it was. Nobody is logged in
    # here, since that too would tell the two apart; log in next.
    signup.register(form.email.data, form.password.data, _client_ip())
    return redirect(url_for("recovery.check_inbox"))


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        sessions.revoke(current_user.session_token)  # every copy of this cookie dies with it
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("accounts.login"))


@bp.get("/settings")
@login_required
def settings():
    return render_template(
        "account/settings.html", password_form=ChangePasswordForm(), delete_form=DeleteAccountForm()
    )


@bp.post("/settings/password")
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        row = store.get_user(current_user.id)
        try:
            right = throttle.check_password(row["email"], form.current_password.data, row["password_hash"])
        except throttle.AccountLocked as exc:
            return _locked("account/settings.html", exc, form, password_form=form, delete_form=DeleteAccountForm())
        if not right:
            form.current_password.errors.append("That is not your current password.")
        elif form.password.data.lower() == row["email"].lower():
            form.password.errors.append("Your password cannot be your email address.")
        else:
            store.change_password(row["id"], _hash(form.password.data), ip_address=_client_ip())
            _start_session(row, remember=current_user.session_remember)
            flash("Your password was changed. Other devices have been logged out.", "success")
            return redirect(url_for("accounts.settings"))
    return render_template("account/settings.html", password_form=form, delete_form=DeleteAccountForm()), 400


@bp.post("/settings/delete")
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def delete_account():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        row = store.get_user(current_user.id)
        try:
            right = throttle.check_password(row["email"], form.current_password.data, row["password_hash"])
        except throttle.AccountLocked as exc:
            return _locked("account/settings.html", exc, form, password_form=ChangePasswordForm(), delete_form=form)
        if not right:
            form.current_password.errors.append("That is not your password.")
        elif row["role"] == "admin" and store.count_admins() <= 1:
            form.form_errors.append("You are the only admin. Make another user an admin before deleting your account.")
        else:
            store.delete_user(row["id"], ip_address=_client_ip())
            logout_user()
            session.clear()
            flash("Your account was deleted.", "info")
            return redirect(url_for("accounts.login"))
    return render_template("account/settings.html", password_form=ChangePasswordForm(), delete_form=form), 400


@bp.get("/admin/users")
@login_required
def admin_users():
    # A member is not told that the page exists.
    if not current_user.is_admin:
        abort(404)
    return render_template("admin/users.html", users=store.list_users(), lookalikes=store.email_lookalikes())
