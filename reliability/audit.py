"""The audit trail: every state change a user makes is written here, in the
same transaction as the change itself, so neither exists without the other."""

from __future__ import annotations

from typing import Any

from psycopg2.extras import Json

from reliability.logs import request_id_var


def record(
    cur,
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
