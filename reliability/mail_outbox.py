"""The ``mail_outbox`` table: the one home of its queries.

A mail is put here by the web in the caller's transaction and sent by
jobs/mail.py. The body may hold a one-time link, so every move that ends a
mail's life (sent, given up) erases it. Functions run on the caller's
cursor and never open or commit a transaction (reliability/db.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from reliability.db import Cursor


def put(cur: Cursor, *, kind: str, recipient: str, subject: str, body: str) -> int:
    """Add a mail to the outbox in the caller's transaction; returns its id."""
    cur.execute(
        "INSERT INTO mail_outbox (kind, recipient, subject, body) VALUES (%s, %s, %s, %s) RETURNING id",
        (kind, recipient, subject, body),
    )
    return cast(int, cur.fetchone()["id"])


def sent_recently(cur: Cursor, *, kind: str, recipient: str, within: timedelta) -> bool:
    """Whether a mail of this kind went into the outbox for this address
    lately: notices and resends are throttled so nobody can flood an inbox."""
    cur.execute(
        """SELECT 1 FROM mail_outbox WHERE lower(recipient) = lower(%s) AND kind = %s
             AND created_at > now() - %s LIMIT 1""",
        (recipient, kind, within),
    )
    return cur.fetchone() is not None


def take_unsent(cur: Cursor, outbox_id: int) -> dict[str, Any] | None:
    """The mail still to send (None once sent or erased), its attempt counted."""
    cur.execute("SELECT * FROM mail_outbox WHERE id = %s AND sent_at IS NULL AND body IS NOT NULL", (outbox_id,))
    row = cast("dict[str, Any] | None", cur.fetchone())
    if row is not None:
        cur.execute("UPDATE mail_outbox SET attempts = attempts + 1 WHERE id = %s", (outbox_id,))
    return row


def mark_sent(cur: Cursor, outbox_id: int) -> None:
    """Sent: the body (and any link in it) is erased."""
    cur.execute("UPDATE mail_outbox SET sent_at = now(), body = NULL WHERE id = %s", (outbox_id,))


def mark_failed(cur: Cursor, outbox_id: int) -> None:
    """Given up on: the body is erased and the mail shown failed to the operator."""
    cur.execute("UPDATE mail_outbox SET failed_at = now(), body = NULL WHERE id = %s AND sent_at IS NULL", (outbox_id,))
