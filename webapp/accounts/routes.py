"""Register, log in, log out, account settings, and the admin's user list."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from wtforms import Form

from reliability.db import Cursor, read, transaction
from webapp.accounts import erasure, login_page, sessions, signup, store, throttle
from webapp.accounts.forms import ChangePasswordForm, DeleteAccountForm, LoginForm, RegisterForm
from webapp.accounts.identity import User, safe_next_url
from webapp.accounts.passwords import hash_password
from webapp.errors import page_not_found
from webapp.extensions import client_address_key, limiter
from webapp.inputs import add_error, text

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


def _start_session(cur: Cursor, row: dict[str, Any], remember: bool = False) -> None:
    """A new server-side session with a new token (rotation at login and at
    a password change); nothing from before survives into it."""
    token = sessions.start(cur, row["id"], remember=remember, user_agent=request.user_agent.string, ip=_client_ip())
    session.clear()
    login_user(User(row, token), remember=remember)
    session.permanent = True


def _locked(template: str, exc: throttle.AccountLocked, refused_form: Form, /, **context: Any) -> ResponseReturnValue:
    """The page again, with the wait in words on ``refused_form``, as 429
    with Retry-After."""
    refused_form.form_errors.append(exc.message)
    return render_template(template, **context), 429, {"Retry-After": str(exc.retry_after)}


# Password guesses per client address: the login form and the API's token
# endpoint (webapp/api/auth.py) draw on one shared count, so the API is not
# a second door with its own allowance.
password_guess_limit = limiter.shared_limit(
    _login_limit, scope="password-guess", key_func=client_address_key, methods=["POST"]
)


@bp.route("/login", methods=["GET", "POST"])
@password_guess_limit
def login() -> ResponseReturnValue:
    dashboard = url_for("main.dashboard")
    if current_user.is_authenticated:
        return redirect(safe_next_url(request.args.get("next"), dashboard))
    if request.method == "GET" and login_page.is_plain_visit():
        return login_page.empty_login_page()  # rendered once, this request's CSRF token put in
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        return render_template("auth/login.html", form=form)
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400
    email = text(form.email)
    row = read(store.find_by_email, email)
    try:
        right = throttle.check_password(email, text(form.password), row["password_hash"] if row else None)
    except throttle.AccountLocked as exc:
        return _locked("auth/login.html", exc, form, form=form)
    if not right:
        form.form_errors.append(BAD_CREDENTIALS)
        return render_template("auth/login.html", form=form), 401
    assert row is not None  # never right for an unknown address
    with transaction() as cur:
        _start_session(cur, row, remember=form.remember.data)
    with transaction() as cur:
        store.record_login(cur, row, _client_ip())
    return redirect(safe_next_url(form.next.data, dashboard))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, key_func=client_address_key, methods=["POST"])
def register() -> ResponseReturnValue:
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
    signup.register(text(form.email), text(form.password), _client_ip())
    return redirect(url_for("accounts.recovery.check_inbox"))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    if current_user.is_authenticated:
        with transaction() as cur:
            sessions.revoke(cur, current_user.session_token)  # every copy of this cookie dies with it
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("accounts.login"))


@bp.get("/settings")
@login_required
def settings() -> ResponseReturnValue:
    return render_template("account/settings.html", password_form=ChangePasswordForm(), delete_form=DeleteAccountForm())


@bp.post("/settings/password")
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        row = read(store.get_user, current_user.id)
        assert row is not None  # the logged-in user's own row
        try:
            right = throttle.check_password(row["email"], text(form.current_password), row["password_hash"])
        except throttle.AccountLocked as exc:
            return _locked("account/settings.html", exc, form, password_form=form, delete_form=DeleteAccountForm())
        if not right:
            add_error(form.current_password, "That is not your current password.")
        elif text(form.password).lower() == row["email"].lower():
            add_error(form.password, "Your password cannot be your email address.")
        else:
            password_hash = _hash(text(form.password))
            with transaction() as cur:  # the new session is begun under the new session version
                store.change_password(cur, row["id"], password_hash, ip_address=_client_ip())
                _start_session(cur, row, remember=current_user.session_remember)
            flash("Your password was changed. Other devices have been logged out.", "success")
            return redirect(url_for("accounts.settings"))
    return render_template("account/settings.html", password_form=form, delete_form=DeleteAccountForm()), 400


@bp.post("/settings/delete")
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def delete_account() -> ResponseReturnValue:
    form = DeleteAccountForm()
    if form.validate_on_submit():
        row = read(store.get_user, current_user.id)
        assert row is not None  # the logged-in user's own row
        try:
            right = throttle.check_password(row["email"], text(form.current_password), row["password_hash"])
        except throttle.AccountLocked as exc:
            return _locked("account/settings.html", exc, form, password_form=ChangePasswordForm(), delete_form=form)
        if not right:
            add_error(form.current_password, "That is not your password.")
        elif row["role"] == "admin" and read(store.count_admins) <= 1:
            form.form_errors.append("You are the only admin. Make another user an admin before deleting your account.")
        else:
            try:
                erasure.delete_account(row["id"], current_app.config, ip_address=_client_ip())
            except erasure.OwnsSharedChannels as exc:
                form.form_errors.append(exc.message)
                page = render_template("account/settings.html", password_form=ChangePasswordForm(), delete_form=form)
                return page, 409
            logout_user()
            session.clear()
            flash("Your account was deleted.", "info")
            return redirect(url_for("accounts.login"))
    return render_template("account/settings.html", password_form=ChangePasswordForm(), delete_form=form), 400


@bp.get("/admin/users")
@login_required
def admin_users() -> str:
    # A member is not told that the page exists.
    if not current_user.is_admin:
        raise page_not_found()
    with transaction() as cur:
        users, lookalikes = store.list_users(cur), store.email_lookalikes(cur)
    return render_template("admin/users.html", users=users, lookalikes=lookalikes)
