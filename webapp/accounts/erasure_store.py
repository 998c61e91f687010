"""SQL of account deletion (webapp/accounts/erasure.py): the channels that
go with the account, the ones that would be left without an owner, and the
rows addressed to the person rather than linked to the account (those
linked by id go by the schema's ON DELETE CASCADE or SET NULL). Every
function runs on the caller's cursor."""

from __future__ import annotations

from typing import Any, cast

from reliability.db import Cursor


def channels_left_without_owner(cur: Cursor, user_id: int) -> list[dict[str, Any]]:
    """Channels this user is the only owner of while others are members:
    deleting the account would leave those members unable to manage them."""
    cur.execute(
        """SELECT c.id, c.title FROM channel_members m JOIN channels c ON c.id = m.channel_id
           WHERE m.user_id = %(id)s AND m.role = 'owner'
             AND NOT EXISTS (SELECT 1 FROM channel_members o
                             WHERE o.channel_id = m.channel_id AND o.user_id <> %(id)s AND o.role = 'owner')
             AND EXISTS (SELECT 1 FROM channel_members o WHERE o.channel_id = m.channel_id AND o.user_id <> %(id)s)
           ORDER BY c.title""",
        {"id": user_id},
    )
    return cast("list[dict[str, Any]]", cur.fetchall())


def channels_of_only_this_member(cur: Cursor, user_id: int) -> list[int]:
    """Channels nobody else belongs to (the demo channel among them): they go with the account."""
    cur.execute(
        """SELECT m.channel_id FROM channel_members m
           WHERE m.user_id = %(id)s
             AND NOT EXISTS (SELECT 1 FROM channel_members o WHERE o.channel_id = m.channel_id AND o.user_id <> %(id)s)
           ORDER BY m.channel_id FOR UPDATE""",
        {"id": user_id},
    )
    return [int(row["channel_id"]) for row in cur.fetchall()]


def delete_channels(cur: Cursor, channel_ids: list[int]) -> None:
    """The channels and, by cascade, everything kept about them."""
    cur.execute("DELETE FROM channels WHERE id = ANY(%s)", (channel_ids,))


def delete_addressed_to(cur: Cursor, email: str) -> None:
    """Invitations sent to the address and mail to it: they name the person
    though no foreign key links them to the account."""
    cur.execute("DELETE FROM channel_invitations WHERE email_key_of(email) = email_key_of(%s)", (email,))
    cur.execute("DELETE FROM mail_outbox WHERE email_key_of(recipient) = email_key_of(%s)", (email,))
