"""SQL of "Download my data" (webapp/accounts/export.py): one query per
section, each the rows the person owns in one table, read a page at a time
(ordered by the table's key, after the last one sent).

What a row shows is chosen column by column so that nothing of anyone else
is in it: no other member's id or address, no secret (password hash, token
hashes, encrypted OAuth tokens). Where a row is shared (a suggestion made in
one member's run and decided by another), each gets their own part."""

from __future__ import annotations

from typing import Any, cast

from reliability.db import Cursor

_PAGE = "{key} > %(after)s ORDER BY {key} LIMIT %(limit)s"

# section -> (query with %(id)s, %(email)s, %(after)s, %(limit)s; the key column it pages on)
SECTIONS: dict[str, tuple[str, str]] = {
    "users": (
        """SELECT id, email, role, created_at, updated_at, last_login_at, email_verified_at,
                  monthly_optimization_quota, monthly_cost_cap_usd
           FROM users WHERE id = %(id)s AND """,
        "id",
    ),
    "user_sessions": (
        """SELECT id, created_at, expires_at, last_seen_at, remember, user_agent, created_ip, last_ip, revoked_at
           FROM user_sessions WHERE user_id = %(id)s AND """,
        "id",
    ),
    "account_tokens": (
        "SELECT id, purpose, email, created_at, expires_at, used_at FROM account_tokens WHERE user_id = %(id)s AND ",
        "id",
    ),
    "api_token_families": (
        """SELECT id, state, created_at, expires_at, last_used_at, revoked_at, created_ip, user_agent
           FROM api_token_families WHERE user_id = %(id)s AND """,
        "id",
    ),
    "api_refresh_tokens": (
        """SELECT t.id, t.family_id, t.created_at, t.spent_at
           FROM api_refresh_tokens t JOIN api_token_families f ON f.id = t.family_id
           WHERE f.user_id = %(id)s AND """,
        "t.id",
    ),
    "api_personal_tokens": (
        """SELECT id, name, hint, created_at, last_used_at, last_used_ip, revoked_at
           FROM api_personal_tokens WHERE user_id = %(id)s AND """,
        "id",
    ),
    "channel_members": (
        """SELECT m.channel_id, c.youtube_channel_id, c.title AS channel_title, m.role, m.added_at
           FROM channel_members m JOIN channels c ON c.id = m.channel_id WHERE m.user_id = %(id)s AND """,
        "m.channel_id",
    ),
    "channels": (
        "SELECT id, youtube_channel_id, title, status, created_at FROM channels WHERE created_by = %(id)s AND ",
        "id",
    ),
    # Sent by the person (without the invitee's address), or addressed to them.
    "channel_invitations": (
        """SELECT id, channel_id, role, created_at, expires_at, accepted_at,
                  invited_by = %(id)s AS sent_by_me,
                  CASE WHEN accepted_by = %(id)s OR email_key_of(email) = email_key_of(%(email)s)
                       THEN email END AS email
           FROM channel_invitations
           WHERE (invited_by = %(id)s OR accepted_by = %(id)s OR email_key_of(email) = email_key_of(%(email)s))
             AND """,
        "id",
    ),
    "mail_outbox": (
        """SELECT id, kind, recipient, subject, created_at, sent_at FROM mail_outbox
           WHERE email_key_of(recipient) = email_key_of(%(email)s) AND """,
        "id",
    ),
    "optimization_runs": (
        """SELECT id, channel_id, status, video_count, without_transcripts, error, created_at, started_at, finished_at
           FROM optimization_runs WHERE requested_by = %(id)s AND """,
        "id",
    ),
    # Made in the person's run (what was suggested), decided by them (the decision), or both.
    "suggestions": (
        """SELECT s.id, s.run_id, s.video_id, s.status, s.engine, s.created_at,
                  r.requested_by = %(id)s AS from_my_run, s.decided_by = %(id)s AS decided_by_me,
                  CASE WHEN r.requested_by = %(id)s THEN jsonb_build_object(
                      'model', s.model, 'titles', s.titles, 'chosen_title', s.chosen_title,
                      'description', s.description, 'tags', s.tags, 'primary_keyword', s.primary_keyword,
                      'chapters', s.chapters, 'rationale', s.rationale, 'notes', s.notes,
                      'input_tokens', s.input_tokens, 'output_tokens', s.output_tokens, 'cost_usd', s.cost_usd)
                  END AS suggested,
                  CASE WHEN s.decided_by = %(id)s THEN jsonb_build_object(
                      'approved_title', s.approved_title, 'approved_description', s.approved_description,
                      'approved_tags', s.approved_tags, 'decided_at', s.decided_at, 'applied_at', s.applied_at)
                  END AS decision
           FROM suggestions s JOIN optimization_runs r ON r.id = s.run_id
           WHERE (r.requested_by = %(id)s OR s.decided_by = %(id)s) AND """,
        "s.id",
    ),
    "metadata_versions": (
        """SELECT id, video_id, source, suggestion_id, title, description, tags, category_id, default_language,
                  default_audio_language, created_at
           FROM metadata_versions WHERE created_by = %(id)s AND """,
        "id",
    ),
    "sync_runs": (
        """SELECT id, channel_id, kind, status, videos_seen, units_used, error, created_at, started_at, finished_at
           FROM sync_runs WHERE requested_by = %(id)s AND """,
        "id",
    ),
    "usage_ledger": (
        """SELECT id, occurred_at, service, model, outcome, input_tokens, output_tokens, cache_read_tokens,
                  cache_write_tokens, cost_usd, channel_id, run_id, video_id
           FROM usage_ledger WHERE user_id = %(id)s AND """,
        "id",
    ),
    "quota_ledger": (
        """SELECT id, occurred_at, api, method, units, channel_id, sync_run_id
           FROM quota_ledger WHERE user_id = %(id)s AND """,
        "id",
    ),
    "quota_reservations": (
        """SELECT id, created_at, expires_at, released_at, units, purpose, channel_id, run_id, suggestion_id
           FROM quota_reservations WHERE user_id = %(id)s AND """,
        "id",
    ),
    # What the person did; another member named as the target is left out.
    "audit_log": (
        """SELECT id, occurred_at, action, actor_email, target_type,
                  CASE WHEN target_type = 'user' AND target_id <> %(id)s::text THEN NULL ELSE target_id END
                      AS target_id,
                  CASE WHEN details ->> 'user_id' <> %(id)s::text THEN details - 'user_id' ELSE details END
                      AS details,
                  request_id, host(ip_address) AS ip_address
           FROM audit_log WHERE actor_id = %(id)s AND """,
        "id",
    ),
}


def page(cur: Cursor, section: str, user: dict[str, Any], after: Any, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` rows of ``section`` whose key is past ``after``."""
    query, key = SECTIONS[section]
    cur.execute(
        query + _PAGE.format(key=key),
        {"id": user["id"], "email": user["email"], "after": after, "limit": limit},
    )
    return cast("list[dict[str, Any]]", cur.fetchall())
