"""Who may see and change a channel.

Every route that takes a channel id goes through ``require_channel``: a
non-member gets 404 (we do not confirm that the channel exists), a member
whose role is too low gets 403. Admins may do everything.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_login import current_user

from reliability.db import transaction
from webapp.channels.store import ROLE_RANK


def require_channel(channel_id: int, min_role: str = "viewer") -> dict[str, Any]:
    """The channel row with ``my_role``, or abort 404/403."""
    with transaction() as cur:
        cur.execute(
            """SELECT c.*, m.role AS my_role FROM channels c
               LEFT JOIN channel_members m ON m.channel_id = c.id AND m.user_id = %s
               WHERE c.id = %s""",
            (current_user.id, channel_id),
        )
        channel = cur.fetchone()
    if channel is None:
        abort(404)
    if channel["my_role"] is None:
        if not current_user.is_admin:
            abort(404)
        channel["my_role"] = "owner"
    if ROLE_RANK[channel["my_role"]] < ROLE_RANK[min_role]:
        abort(403)
    return channel


def can(channel: dict[str, Any], role: str) -> bool:
    return ROLE_RANK[channel["my_role"]] >= ROLE_RANK[role]
