"""Queries for users. All SQL for accounts lives here, always with
parameters; callers get plain dicts. Each function runs on the caller's
cursor and never opens or commits a transaction (see reliability.db)."""

from __future__ import annotations

import unicodedata
from typing import Any

import psycopg2.errors

from reliability import audit
from reliability.db import Cursor
from reliability.errors import Conflict
from webapp.accounts import sessions

_USER_COLUMNS = "id, email, password_hash, role, session_version, created_at, last_login_at"


def normalize_email(address: str) -> str:
    """The form an address is stored and looked up in: NFKC, so that "ü" in
    NFC or NFD and a fullwidth "ａ" are the plain characters. Case is kept
    for display; every comparison goes through the database's
    email_key_of() (NFKC, then lower case; migration 0009), and the unique
    index on that key makes look-alikes one account."""
    return unicodedata.normalize("NFKC", address).strip()


def get_user(cur: Cursor, user_id: int) -> dict[str, Any] | None:
    cur.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s", (user_id,))
    return cur.fetchone()


def find_by_email(cur: Cursor, email: str) -> dict[str, Any] | None:
    # Accounts that collided before migration 0009 share a key: the one
    # whose stored address is exactly what was typed comes first.
    address = normalize_email(email)
    cur.execute(
        f"""SELECT {_USER_COLUMNS} FROM users WHERE email_key = email_key_of(%s)
            ORDER BY email = %s DESC, email_lookalike, id LIMIT 1""",
        (address, address),
    )
    return cur.fetchone()


def create_user(
    cur: Cursor, email: str, password_hash: str, role: str = "member", *, ip_address: str | None = None
) -> dict[str, Any]:
    """Insert a user; raises Conflict when the email is taken (a savepoint
    keeps the caller's transaction usable)."""
    cur.execute("SAVEPOINT create_user")
    try:
        cur.execute(
            f"INSERT INTO users (email, password_hash, role) VALUES (%s, %s, %s) RETURNING {_USER_COLUMNS}",
            (normalize_email(email), password_hash, role),
        )
    except psycopg2.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT create_user")
        raise Conflict("An account with this email already exists.", code="email_taken") from None
    user = cur.fetchone()
    audit.record(
        cur,
        "user.created",
        actor_id=user["id"],
        actor_email=user["email"],
        target_type="user",
        target_id=user["id"],
        details={"role": role},
        ip_address=ip_address,
    )
    return user


def record_login(cur: Cursor, user: dict[str, Any], ip_address: str | None) -> None:
    cur.execute("UPDATE users SET last_login_at = now() WHERE id = %s", (user["id"],))
    audit.record(
        cur,
        "user.login",
        actor_id=user["id"],
        actor_email=user["email"],
        target_type="user",
        target_id=user["id"],
        ip_address=ip_address,
    )


def change_password(cur: Cursor, user_id: int, password_hash: str, *, ip_address: str | None = None) -> int:
    """Store the new hash and end every session of this user (the caller
    starts a new one for the browser that changed it). Returns the new
    session version."""
    cur.execute(
        """UPDATE users SET password_hash = %s, session_version = session_version + 1,
                            updated_at = now()
           WHERE id = %s RETURNING email, session_version""",
        (password_hash, user_id),
    )
    row = cur.fetchone()
    sessions.revoke_all(cur, user_id)
    audit.record(
        cur,
        "user.password_changed",
        actor_id=user_id,
        actor_email=row["email"],
        target_type="user",
        target_id=user_id,
        ip_address=ip_address,
    )
    return row["session_version"]


def delete_user(cur: Cursor, user_id: int) -> None:
    """Delete the account row; what hangs on it goes by cascade or is set
    NULL. The whole use case, audit included, is webapp/accounts/erasure.py."""
    cur.execute("DELETE FROM users WHERE id = %s", (user_id,))


def set_role(cur: Cursor, user_id: int, role: str, *, actor_id: int | None, actor_email: str | None) -> None:
    cur.execute("UPDATE users SET role = %s, updated_at = now() WHERE id = %s", (role, user_id))
    audit.record(
        cur,
        "user.role_changed",
        actor_id=actor_id,
        actor_email=actor_email,
        target_type="user",
        target_id=user_id,
        details={"role": role},
    )


def list_users(cur: Cursor, limit: int = 200) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT id, email, role, created_at, last_login_at FROM users ORDER BY created_at LIMIT %s",
        (limit,),
    )
    return cur.fetchall()


def email_lookalikes(cur: Cursor) -> list[dict[str, Any]]:
    """Groups of accounts whose addresses are one after normalisation (they
    existed before migration 0009; new ones cannot be made). Shown to
    admins, never merged: each person keeps their own account."""
    cur.execute(
        """SELECT email_key, array_agg(email ORDER BY id) AS emails, array_agg(id ORDER BY id) AS user_ids
           FROM users GROUP BY email_key HAVING count(*) > 1 ORDER BY min(id)"""
    )
    return cur.fetchall()


def count_admins(cur: Cursor) -> int:
    cur.execute("SELECT count(*) AS n FROM users WHERE role = 'admin'")
    return cur.fetchone()["n"]


# -- confirmed addresses and password resets (webapp/accounts/signup.py) ------------------------


def email_verified(cur: Cursor, user_id: int) -> bool:
    cur.execute("SELECT email_verified_at IS NOT NULL AS verified FROM users WHERE id = %s", (user_id,))
    row = cur.fetchone()
    return bool(row and row["verified"])


def mark_verified(cur: Cursor, user_id: int) -> None:
    cur.execute("UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = %s", (user_id,))


def reset_password(cur: Cursor, user_id: int, password_hash: str, *, ip_address: str | None = None) -> dict[str, Any]:
    """Set the password from a reset link, in the caller's transaction (the
    one that used the link), and end every session of the account, this
    browser's too; the link reached the address, so it counts as confirmed."""
    cur.execute(
        f"""UPDATE users SET password_hash = %s, session_version = session_version + 1, updated_at = now(),
                             email_verified_at = coalesce(email_verified_at, now())
            WHERE id = %s RETURNING {_USER_COLUMNS}""",
        (password_hash, user_id),
    )
    row = cur.fetchone()
    sessions.revoke_all(cur, user_id)  # marked ended, as "log out everywhere" does
    audit.record(
        cur,
        "user.password_reset",
        actor_id=user_id,
        actor_email=row["email"],
        target_type="user",
        target_id=user_id,
        ip_address=ip_address,
    )
    return row
