"""Account flows that go through the owner's inbox: registering an address,
confirming it, resetting a forgotten password.

Each one answers the same whatever the address (new, taken, unknown) and
does about the same work either way (one bcrypt hash, one lookup, one
outbox row), so neither the page nor its timing says whether an account
exists. The mail says it, to the address's owner only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app

from reliability import audit
from reliability.db import Cursor, read, transaction
from reliability.errors import Conflict
from reliability.mail_outbox import sent_recently
from webapp.accounts import store, tokens
from webapp.accounts.mailing import compose, dispatch, link
from webapp.accounts.passwords import hash_password

# One notice per address per hour, one resend a minute: nobody can flood an
# inbox through our forms.
NOTICE_EVERY = timedelta(hours=1)
RESEND_EVERY = timedelta(minutes=1)


def _hash(password: str) -> str:
    return hash_password(password, current_app.config["BCRYPT_ROUNDS"])


def register(email: str, password: str, ip_address: str | None) -> None:
    """Create an unverified account and mail its confirmation link, or, when
    the address is taken, mail its owner a notice. The caller answers the
    same in both cases."""
    password_hash = _hash(password)  # paid whether or not an account is made
    existing = read(store.find_by_email, email)
    if existing is None:
        try:
            with transaction() as cur:
                user = store.create_user(cur, email, password_hash, ip_address=ip_address)
        except Conflict:  # registered a moment ago by someone else
            existing = read(store.find_by_email, email)
        else:
            send_verification(user)
            return
    if existing is not None:
        _send_register_notice(existing)


def send_verification(user: dict[str, Any], *, throttle: bool = False) -> None:
    with transaction() as cur:
        if throttle and _recently(cur, "verify_email", user["email"], RESEND_EVERY):
            return
        token = tokens.issue(cur, user, "verify_email")
        outbox_id = compose(
            cur,
            kind="verify_email",
            recipient=user["email"],
            subject="Confirm your email address",
            url=link("accounts.recovery.verify", token=token),
            hours=_hours("verify_email"),
        )
    dispatch(outbox_id)


def _send_register_notice(user: dict[str, Any]) -> None:
    outbox_id = None
    with transaction() as cur:
        if not _recently(cur, "register_notice", user["email"], NOTICE_EVERY):
            outbox_id = compose(
                cur,
                kind="register_notice",
                recipient=user["email"],
                subject="Someone tried to create an account with your address",
                login_url=link("accounts.login"),
                reset_url=link("accounts.recovery.forgot"),
            )
    dispatch(outbox_id)


def request_reset(email: str) -> None:
    """Mail a reset link when an account uses ``email``; nothing otherwise
    (the page answers the same)."""
    user = read(store.find_by_email, email)
    outbox_id = None
    with transaction() as cur:
        if user is not None and not _recently(cur, "reset_password", user["email"], RESEND_EVERY):
            token = tokens.issue(cur, user, "reset_password")
            outbox_id = compose(
                cur,
                kind="reset_password",
                recipient=user["email"],
                subject="Reset your password",
                url=link("accounts.recovery.reset", token=token),
                minutes=_hours("reset_password") * 60,
            )
    dispatch(outbox_id)


def verify(token: str, ip_address: str | None) -> dict[str, Any] | None:
    """Use a confirmation link: the user whose address is now confirmed, or None."""
    with transaction() as cur:
        user = tokens.consume(cur, "verify_email", token)
        if user is None:
            return None
        store.mark_verified(cur, user["id"])
        audit.record(
            cur,
            "user.email_verified",
            actor_id=user["id"],
            actor_email=user["email"],
            target_type="user",
            target_id=user["id"],
            ip_address=ip_address,
        )
        return user


def reset(token: str, password: str, ip_address: str | None) -> dict[str, Any] | None:
    """Use a reset link: set the password, end every other session (the
    session version moves on), confirm the address (the link reached it).
    The updated user row, or None when the link does not work."""
    password_hash = _hash(password)
    with transaction() as cur:
        user = tokens.consume(cur, "reset_password", token)
        if user is None:
            return None
        return store.reset_password(cur, user["id"], password_hash, ip_address=ip_address)


def _recently(cur: Cursor, kind: str, recipient: str, within: timedelta) -> bool:
    return sent_recently(cur, kind=kind, recipient=recipient, within=within)


def _hours(purpose: str) -> int:
    return int(tokens.LIFETIMES[purpose].total_seconds() // 3600)
