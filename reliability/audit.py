"""The audit trail: every state change a user makes is written here, in the
same transaction as the change itself, so neither exists without the other."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from typing import Any

from psycopg2.extras import Json

from reliability.db import Cursor
from reliability.logs import request_id_var


def record(
    cur: Cursor,
    action: str,
    *,
    actor_id: int | None,
    actor_email: str | None = None,
    target_type: str | None = None,
    target_id: Any = None,
    details: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> None:
    """Append one audit row using the caller's cursor (its transaction)."""
    cur.execute(
        """INSERT INTO audit_log (actor_id, actor_email, action, target_type, target_id,
                                  details, request_id, ip_address)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            actor_id,
            actor_email,
            action,
            target_type,
            None if target_id is None else str(target_id),
            Json(details or {}),
            request_id_var.get(),
            ip_address,
        ),
    )


def purge_older_than(cur: Cursor, retention_days: int, batch_size: int) -> int:
    """Delete up to ``batch_size`` audit rows older than the retention
    period (the oldest first); returns how many went. Small batches keep
    each lock short: the caller commits between them."""
    cur.execute(
        """DELETE FROM audit_log WHERE id IN (
               SELECT id FROM audit_log
               WHERE occurred_at < now() - make_interval(days => %s)
               ORDER BY id LIMIT %s)""",
        (retention_days, batch_size),
    )
    return int(cur.rowcount)


# -- a deleted account's rows: the events stay, naming nobody --------------------------------

PSEUDONYM_PREFIX = "deleted-user:"


def pseudonym_key(secret_key: str) -> bytes:
    """The HMAC key of pseudonyms, derived from SECRET_KEY (a purpose of its
    own, so a pseudonym reveals nothing of the key that signs sessions)."""
    return hmac.new(secret_key.encode(), b"audit-log pseudonyms", hashlib.sha256).digest()


def pseudonym(key: bytes, value: str) -> str:
    """A keyed hash: the same person's events read as one person's, and
    nobody without the key can test a guessed address against it."""
    return PSEUDONYM_PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def pseudonymise(cur: Cursor, user_id: int, email: str, key: bytes) -> int:
    """Before an account is deleted: its own rows get the pseudonym for the
    address and a keyed hash for the IP; rows of others that name it (as the
    target, or ``details.user_id``) get the pseudonym for its id. Returns
    the rows changed."""
    person = pseudonym(key, unicodedata.normalize("NFKC", email).strip().lower())
    # Rows with no account but this address (a failed login, a reset asked for) are the person's too; a row of
    # another account whose address looks the same (two accounts from before migration 0009) is not.
    own = "(actor_id = %(id)s OR (actor_id IS NULL AND email_key_of(actor_email) = email_key_of(%(email)s)))"
    cur.execute(
        f"SELECT DISTINCT host(ip_address) AS ip FROM audit_log WHERE {own} AND ip_address IS NOT NULL",
        {"id": user_id, "email": email},
    )
    hashes = {row["ip"]: pseudonym(key, "ip:" + row["ip"]) for row in cur.fetchall()}
    cur.execute(
        f"""UPDATE audit_log SET actor_email = %(person)s, ip_hash = (%(hashes)s::jsonb) ->> host(ip_address),
                                 ip_address = NULL
            WHERE {own}""",
        {"id": user_id, "email": email, "person": person, "hashes": Json(hashes)},
    )
    changed = int(cur.rowcount)
    cur.execute(
        """UPDATE audit_log SET
               target_id = CASE WHEN target_type = 'user' AND target_id = %(id)s THEN %(person)s ELSE target_id END,
               details = CASE WHEN details ->> 'user_id' = %(id)s
                              THEN jsonb_set(details, '{user_id}', to_jsonb(%(person)s::text)) ELSE details END
           WHERE (target_type = 'user' AND target_id = %(id)s) OR details ->> 'user_id' = %(id)s""",
        {"id": str(user_id), "person": person},
    )
    return changed + int(cur.rowcount)
