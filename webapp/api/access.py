"""Membership checks for API URLs that name a row without its channel: find
the channel the row belongs to, then the pages' own rule
(webapp/channels/access.py): 404 for a non-member or a missing row (the two
look the same), 403 for a role too low."""

from __future__ import annotations

from typing import Any

from reliability.db import read
from webapp.api import lookup_store
from webapp.channels.access import require_channel
from webapp.errors import page_not_found

API = "/api/v1"  # where webapp/api/__init__.py mounts the API: the URLs in answers start here


def channel_of(kind: str, row_id: int, min_role: str = "viewer") -> dict[str, Any]:
    """The channel (with ``my_role``) owning the ``kind`` row, for a member of at least ``min_role``."""
    channel_id = read(lookup_store.channel_of, kind, row_id)
    if channel_id is None:
        raise page_not_found()
    return require_channel(channel_id, min_role)
