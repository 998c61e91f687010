"""Who may see and change a channel.

Every route that takes a channel id goes through ``require_channel``: a
non-member gets 404 (we do not confirm that the channel exists), a member
whose role is too low gets 403. Admins may do everything.
"""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from reliability.db import Cursor, read
from reliability.errors import PermissionDenied
from webapp.channels import store
from webapp.channels.store import ROLE_RANK
from webapp.errors import page_not_found


def require_channel(channel_id: int, min_role: str = "viewer", *, cur: Cursor | None = None) -> dict[str, Any]:
    """The channel row with ``my_role``, or raise NotFound / PermissionDenied.
    With ``cur``, on the caller's connection: a page that reads more after
    the check then borrows one connection from the pool, not two."""
    if cur is None:
        channel = read(store.channel_with_role, channel_id, current_user.id)
    else:
        channel = store.channel_with_role(cur, channel_id, current_user.id)
    if channel is None:
        raise page_not_found()
    if channel["my_role"] is None:
        if not current_user.is_admin:
            raise page_not_found()
        channel["my_role"] = "owner"
    if ROLE_RANK[channel["my_role"]] < ROLE_RANK[min_role]:
        raise PermissionDenied()
    return channel


def can(channel: dict[str, Any], role: str) -> bool:
    return ROLE_RANK[channel["my_role"]] >= ROLE_RANK[role]
