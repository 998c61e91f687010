"""Queries for channels, members and the video table. Every query that takes
a channel id is paired with a membership check in access.py."""

from __future__ import annotations

from typing import Any

from optimizer.youtube import quota
from reliability import audit
from reliability.db import transaction
from reliability.errors import NotFound

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
    # Below 60 (optimizer.seo.ATTENTION_THRESHOLD): worth optimizing first.
    "attention": "v.removed_at IS NULL AND v.seo_score < 60",
}


def channel_role(channel_id: int, user_id: int) -> str | None:
    with transaction() as cur:
        cur.execute("SELECT role FROM channel_members WHERE channel_id = %s AND user_id = %s", (channel_id, user_id))
        row = cur.fetchone()
        return row["role"] if row else None


def get_channel(channel_id: int) -> dict[str, Any] | None:
    with transaction() as cur:
        cur.execute("SELECT * FROM channels WHERE id = %s", (channel_id,))
        return cur.fetchone()


def channels_for(user_id: int, *, admin: bool) -> list[dict[str, Any]]:
    """The user's channels with their role (admins: every channel)."""
    with transaction() as cur:
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


def quota_used_today() -> int:
    with transaction() as cur:
        return quota.units_used_today(cur)


def video_page(channel_id: int, *, search: str, sort: str, status_filter: str, page: int, per_page: int) -> tuple[list[dict], int]:
    """One page of the channel's videos and the number matching, in one query."""
    where = [VIDEO_FILTERS[status_filter], "v.channel_id = %(channel_id)s"]
    params: dict[str, Any] = {"channel_id": channel_id, "limit": per_page, "offset": (page - 1) * per_page}
    if search:
        where.append("(v.title ILIKE %(pattern)s OR v.youtube_video_id = %(exact)s)")
        params["pattern"] = "%" + _escape_like(search) + "%"
        params["exact"] = search
    # Plain tuples made into dicts here: RealDictCursor builds each row one
    # __setitem__ at a time in Python, twice the CPU for a page of 50.
    with transaction(dict_rows=False) as cur:
        cur.execute(
            f"""SELECT v.id, v.youtube_video_id, v.title, v.thumbnail_url, v.published_at, v.view_count,
                       v.like_count, v.comment_count, v.duration_seconds, v.privacy_status, v.removed_at, v.seo_score,
                       count(*) OVER () AS total
                FROM videos v WHERE {' AND '.join(where)}
                ORDER BY {VIDEO_SORTS[sort]} LIMIT %(limit)s OFFSET %(offset)s""",
            params,
        )
        names = [column.name for column in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return rows, (rows[0]["total"] if rows else 0)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def latest_sync(channel_id: int) -> dict[str, Any] | None:
    with transaction() as cur:
        cur.execute("SELECT * FROM sync_runs WHERE channel_id = %s ORDER BY id DESC LIMIT 1", (channel_id,))
        return cur.fetchone()


def get_sync_run(channel_id: int, run_id: int) -> dict[str, Any] | None:
    with transaction() as cur:
        cur.execute("SELECT * FROM sync_runs WHERE id = %s AND channel_id = %s", (run_id, channel_id))
        return cur.fetchone()


# -- members ----------------------------------------------------------------


def members(channel_id: int) -> list[dict[str, Any]]:
    with transaction() as cur:
        cur.execute(
            """SELECT u.id AS user_id, u.email, m.role, m.added_at FROM channel_members m
               JOIN users u ON u.id = m.user_id WHERE m.channel_id = %s
               ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'editor' THEN 1 ELSE 2 END, lower(u.email)""",
            (channel_id,),
        )
        return cur.fetchall()


def change_member_role(channel_id: int, user_id: int, role: str, *, actor_id: int, actor_email: str) -> None:
    with transaction() as cur:
        cur.execute(
            "UPDATE channel_members SET role = %s WHERE channel_id = %s AND user_id = %s AND role <> 'owner' RETURNING user_id",
            (role, channel_id, user_id),
        )
        if cur.fetchone() is None:
            raise NotFound("That member cannot be changed.", code="member_not_found")
        audit.record(cur, "channel.member_role_changed", actor_id=actor_id, actor_email=actor_email,
                     target_type="channel", target_id=channel_id, details={"user_id": user_id, "role": role})


def remove_member(channel_id: int, user_id: int, *, actor_id: int, actor_email: str) -> None:
    with transaction() as cur:
        cur.execute(
            "DELETE FROM channel_members WHERE channel_id = %s AND user_id = %s AND role <> 'owner' RETURNING user_id",
            (channel_id, user_id),
        )
        if cur.fetchone() is None:
            raise NotFound("That member cannot be removed.", code="member_not_found")
        audit.record(cur, "channel.member_removed", actor_id=actor_id, actor_email=actor_email,
                     target_type="channel", target_id=channel_id, details={"user_id": user_id})


def disconnected_by_creator(channel_id: int) -> bool:
    """Whether the channel's last disconnect was a member pressing Disconnect
    (not Google refusing its token): the page words the two apart."""
    with transaction() as cur:
        cur.execute(
            """SELECT details->>'reason' AS reason FROM audit_log
               WHERE target_type = 'channel' AND target_id = %s AND action = 'channel.disconnected'
               ORDER BY occurred_at DESC, id DESC LIMIT 1""",
            (str(channel_id),),
        )
        row = cur.fetchone()
    return bool(row) and row["reason"] == "user"
