"""Queries for channels, members and the video table. Every query that takes
a channel id is paired with a membership check in access.py.

Each function runs on the caller's cursor and never opens or commits a
transaction (see reliability.db): the view or use case owns the unit of work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg2.errors

from optimizer import seo
from optimizer.youtube import quota
from reliability import audit
from reliability.db import Cursor
from reliability.errors import NotFound
from reliability.prepared import Statement

ROLES = ("owner", "editor", "viewer")
ROLE_RANK = {"viewer": 1, "editor": 2, "owner": 3}

# Sort keys the video table accepts, mapped to SQL (never user text).
VIDEO_SORTS = {
    "newest": "v.published_at DESC NULLS LAST, v.id DESC",
    "oldest": "v.published_at ASC NULLS LAST, v.id ASC",
    "views": "v.view_count DESC, v.id DESC",
    "least_views": "v.view_count ASC, v.id ASC",
    "title": "lower(v.title) ASC, v.id ASC",
    "seo": "v.seo_score ASC NULLS LAST, v.view_count DESC, v.id ASC",
}
VIDEO_FILTERS = {
    "all": "v.removed_at IS NULL",
    "public": "v.removed_at IS NULL AND v.privacy_status = 'public'",
    "unlisted": "v.removed_at IS NULL AND v.privacy_status = 'unlisted'",
    "private": "v.removed_at IS NULL AND v.privacy_status = 'private'",
    "removed": "v.removed_at IS NOT NULL",
    # Below optimizer.seo.ATTENTION_THRESHOLD: worth optimizing first.
    "attention": f"v.removed_at IS NULL AND v.seo_score < {int(seo.ATTENTION_THRESHOLD)}",
}


def channel_role(cur: Cursor, channel_id: int, user_id: int) -> str | None:
    cur.execute("SELECT role FROM channel_members WHERE channel_id = %s AND user_id = %s", (channel_id, user_id))
    row = cur.fetchone()
    return row["role"] if row else None


def get_channel(cur: Cursor, channel_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM channels WHERE id = %s", (channel_id,))
    return cur.fetchone()


_CHANNEL_WITH_ROLE = Statement(
    "channel_with_role",
    """SELECT c.*, m.role AS my_role, coalesce(dv.version, 0) AS data_version FROM channels c
       LEFT JOIN channel_members m ON m.channel_id = c.id AND m.user_id = %s
       LEFT JOIN channel_data_versions dv ON dv.channel_id = c.id
       WHERE c.id = %s""",
)


def channel_with_role(cur: Cursor, channel_id: int, user_id: int) -> dict[str, Any] | None:
    """The channel row with ``my_role``: the user's role, None for a non-member;
    and ``data_version``, which the database bumps whenever anything the
    channel page shows changes (migration 0018: the page cache's key).
    Prepared: every channel page and API call on a channel runs it."""
    _CHANNEL_WITH_ROLE.execute(cur, (user_id, channel_id))
    return cur.fetchone()


def channels_for(cur: Cursor, user_id: int, *, admin: bool) -> list[dict[str, Any]]:
    """The user's channels with their role (admins: every channel)."""
    cur.execute(
        """SELECT c.*, m.role AS my_role,
                  (SELECT s.status FROM sync_runs s WHERE s.channel_id = c.id ORDER BY s.id DESC LIMIT 1) AS sync_status
           FROM channels c
           LEFT JOIN channel_members m ON m.channel_id = c.id AND m.user_id = %s
           WHERE m.user_id IS NOT NULL OR %s
           ORDER BY c.is_demo, lower(c.title), c.id""",
        (user_id, admin),
    )
    return cur.fetchall()


def owned_demo_count(cur: Cursor, user_id: int) -> int:
    """How many demo channels the user owns (the demo button caps them)."""
    cur.execute(
        """SELECT count(*) AS n FROM channels c JOIN channel_members m ON m.channel_id = c.id
           WHERE c.is_demo AND m.user_id = %s AND m.role = 'owner'""",
        (user_id,),
    )
    return cur.fetchone()["n"]


def quota_used_today(cur: Cursor) -> int:
    return quota.units_used_today(cur)


def video_page(
    cur: Cursor, channel_id: int, *, search: str, sort: str, status_filter: str, page: int, per_page: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the channel's videos and the number matching, in one query."""
    where = [VIDEO_FILTERS[status_filter], "v.channel_id = %(channel_id)s"]
    params: dict[str, Any] = {"channel_id": channel_id, "limit": per_page, "offset": (page - 1) * per_page}
    if search:
        where.append("(v.title ILIKE %(pattern)s OR v.youtube_video_id = %(exact)s)")
        params["pattern"] = "%" + _escape_like(search) + "%"
        params["exact"] = search
    # Plain tuples made into dicts here: RealDictCursor builds each row one
    # __setitem__ at a time in Python, twice the CPU for a page of 50. A plain
    # cursor on the caller's connection stays in the caller's transaction.
    # The count is a scalar subquery, run once (an InitPlan) over the index
    # alone where it can: count(*) OVER () read every matching row whole
    # before the LIMIT, 4 ms at 5,000 videos against 0.4 at 500.
    conditions = " AND ".join(where)
    with cur.connection.cursor() as plain:
        plain.execute(
            f"""SELECT v.id, v.youtube_video_id, v.title, v.thumbnail_url, v.published_at, v.view_count,
                       v.like_count, v.comment_count, v.duration_seconds, v.privacy_status, v.removed_at, v.seo_score,
                       (SELECT count(*) FROM videos v WHERE {conditions}) AS total
                FROM videos v WHERE {conditions}
                ORDER BY {VIDEO_SORTS[sort]} LIMIT %(limit)s OFFSET %(offset)s""",
            params,
        )
        names = [column.name for column in plain.description]
        rows = [dict(zip(names, row, strict=True)) for row in plain.fetchall()]
    return rows, (rows[0]["total"] if rows else 0)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def latest_sync(cur: Cursor, channel_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM sync_runs WHERE channel_id = %s ORDER BY id DESC LIMIT 1", (channel_id,))
    return cur.fetchone()


def get_sync_run(cur: Cursor, channel_id: int, run_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM sync_runs WHERE id = %s AND channel_id = %s", (run_id, channel_id))
    return cur.fetchone()


# -- members ----------------------------------------------------------------


def members(cur: Cursor, channel_id: int) -> list[dict[str, Any]]:
    cur.execute(
        """SELECT u.id AS user_id, u.email, m.role, m.added_at FROM channel_members m
           JOIN users u ON u.id = m.user_id WHERE m.channel_id = %s
           ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'editor' THEN 1 ELSE 2 END, lower(u.email)""",
        (channel_id,),
    )
    return cur.fetchall()


def change_member_role(
    cur: Cursor, channel_id: int, user_id: int, role: str, *, actor_id: int, actor_email: str
) -> None:
    cur.execute(
        "UPDATE channel_members SET role = %s "
        "WHERE channel_id = %s AND user_id = %s AND role <> 'owner' RETURNING user_id",
        (role, channel_id, user_id),
    )
    if cur.fetchone() is None:
        raise NotFound("That member cannot be changed.", code="member_not_found")
    audit.record(
        cur,
        "channel.member_role_changed",
        actor_id=actor_id,
        actor_email=actor_email,
        target_type="channel",
        target_id=channel_id,
        details={"user_id": user_id, "role": role},
    )


def set_auto_restore(cur: Cursor, channel_id: int, enabled: bool, *, actor_id: int, actor_email: str) -> bool:
    """The owner's opt-in to automatic restores of changes that hurt. False: it was already so."""
    cur.execute(
        "UPDATE channels SET auto_restore = %s, updated_at = now() WHERE id = %s AND auto_restore <> %s RETURNING id",
        (enabled, channel_id, enabled),
    )
    if cur.fetchone() is None:
        return False
    audit.record(
        cur,
        "channel.auto_restore_changed",
        actor_id=actor_id,
        actor_email=actor_email,
        target_type="channel",
        target_id=channel_id,
        details={"auto_restore": enabled},
    )
    return True


def remove_member(cur: Cursor, channel_id: int, user_id: int, *, actor_id: int, actor_email: str) -> None:
    cur.execute(
        "DELETE FROM channel_members WHERE channel_id = %s AND user_id = %s AND role <> 'owner' RETURNING user_id",
        (channel_id, user_id),
    )
    if cur.fetchone() is None:
        raise NotFound("That member cannot be removed.", code="member_not_found")
    audit.record(
        cur,
        "channel.member_removed",
        actor_id=actor_id,
        actor_email=actor_email,
        target_type="channel",
        target_id=channel_id,
        details={"user_id": user_id},
    )


def add_member(cur: Cursor, channel_id: int, user_id: int, role: str, *, added_by: int | None) -> bool:
    """Add the user to the channel; False when they already are a member
    (a savepoint keeps the caller's transaction usable)."""
    cur.execute("SAVEPOINT add_member")
    try:
        cur.execute(
            "INSERT INTO channel_members (channel_id, user_id, role, added_by) VALUES (%s, %s, %s, %s)",
            (channel_id, user_id, role, added_by),
        )
    except psycopg2.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT add_member")
        return False
    return True


def disconnected_by_creator(cur: Cursor, channel_id: int) -> bool:
    """Whether the channel's last disconnect was a member pressing Disconnect
    (not Google refusing its token): the page words the two apart."""
    cur.execute(
        """SELECT details->>'reason' AS reason FROM audit_log
           WHERE target_type = 'channel' AND target_id = %s AND action = 'channel.disconnected'
           ORDER BY occurred_at DESC, id DESC LIMIT 1""",
        (str(channel_id),),
    )
    row = cur.fetchone()
    return bool(row) and row["reason"] == "user"


# -- connecting a YouTube channel ---------------------------------------------


def connectable_channel(cur: Cursor, youtube_channel_id: str, user_id: int) -> dict[str, Any] | None:
    """The stored (non-demo) channel with this YouTube id and the user's role on it."""
    cur.execute(
        "SELECT c.id, m.role FROM channels c LEFT JOIN channel_members m ON m.channel_id = c.id AND m.user_id = %s "
        "WHERE c.youtube_channel_id = %s AND NOT c.is_demo",
        (user_id, youtube_channel_id),
    )
    return cur.fetchone()


def insert_channel(cur: Cursor, summary: dict[str, Any], owner_id: int) -> int | None:
    """A new channel owned by ``owner_id``; None when another account
    connected the same YouTube channel first (a savepoint keeps the caller's
    transaction usable)."""
    cur.execute("SAVEPOINT insert_channel")
    try:
        cur.execute(
            """INSERT INTO channels (youtube_channel_id, title, thumbnail_url, uploads_playlist_id, created_by)
               VALUES (%s, %s, %s, %s, %s) RETURNING id""",
            (summary["id"], summary["title"], summary.get("thumbnail"), summary["uploads"], owner_id),
        )
    except psycopg2.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT insert_channel")
        return None
    channel_id = cur.fetchone()["id"]
    cur.execute(
        "INSERT INTO channel_members (channel_id, user_id, role, added_by) VALUES (%s, %s, 'owner', %s)",
        (channel_id, owner_id, owner_id),
    )
    return channel_id


def mark_connected(cur: Cursor, channel_id: int, summary: dict[str, Any]) -> None:
    """Connected, with YouTube's title and uploads playlist; YouTube's video
    count only until the first sync counts them itself."""
    cur.execute(
        "UPDATE channels SET status = 'connected', title = %s, uploads_playlist_id = %s, updated_at = now(), "
        "video_count = CASE WHEN last_synced_at IS NULL THEN %s ELSE video_count END WHERE id = %s",
        (summary["title"], summary["uploads"], summary.get("video_count", 0), channel_id),
    )


# -- invitations ----------------------------------------------------------------


def insert_invitation(
    cur: Cursor, channel_id: int, email: str, role: str, *, invited_by: int, token_hash: str, lifetime: timedelta
) -> int:
    cur.execute(
        """INSERT INTO channel_invitations (channel_id, email, role, invited_by, token_hash, expires_at)
           VALUES (%s, %s, %s, %s, %s, now() + %s) RETURNING id""",
        (channel_id, email, role, invited_by, token_hash, lifetime),
    )
    return cur.fetchone()["id"]


def pending_invitations(cur: Cursor, channel_id: int) -> list[dict[str, Any]]:
    cur.execute(
        """SELECT email, role, expires_at FROM channel_invitations
           WHERE channel_id = %s AND accepted_at IS NULL AND expires_at > now()
           ORDER BY created_at DESC LIMIT 100""",
        (channel_id,),
    )
    return cur.fetchall()


_OPEN_INVITATION = "i.token_hash = %s AND i.accepted_at IS NULL AND i.expires_at > now()"


def open_invitation(cur: Cursor, token_hash: str, user_email: str) -> dict[str, Any] | None:
    """The open invitation with this link hash, with ``for_me``: whether it was
    sent to ``user_email`` (compared as accounts are: migration 0009)."""
    cur.execute(
        f"""SELECT i.id, i.email, i.role, c.title AS channel_title, u.email AS inviter,
                   email_key_of(i.email) = email_key_of(%s) AS for_me
            FROM channel_invitations i JOIN channels c ON c.id = i.channel_id
            LEFT JOIN users u ON u.id = i.invited_by WHERE {_OPEN_INVITATION}""",
        (user_email, token_hash),
    )
    return cur.fetchone()


def use_invitation(cur: Cursor, token_hash: str, user_id: int, user_email: str) -> dict[str, Any] | None:
    """Mark the open invitation sent to ``user_email`` accepted by the user:
    its id, channel_id, role and invited_by; None when there is none."""
    cur.execute(
        f"""UPDATE channel_invitations i SET accepted_at = now(), accepted_by = %s
            WHERE {_OPEN_INVITATION} AND email_key_of(i.email) = email_key_of(%s)
            RETURNING id, channel_id, role, invited_by""",
        (user_id, token_hash, user_email),
    )
    return cur.fetchone()
