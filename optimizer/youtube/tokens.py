"""A channel's OAuth tokens: stored encrypted, refreshed before expiry.

A refresh happens under a row lock, so two workers needing a fresh token at
the same moment make one refresh call, and the second one uses its result.
When Google answers ``invalid_grant`` (access revoked, token expired or
unused for six months) the channel is marked disconnected and the creator is
asked to reconnect.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from optimizer.youtube import oauth
from reliability import audit
from reliability.crypto import TokenCipher
from reliability.db import Cursor, Row, transaction
from reliability.errors import AppError

REFRESH_MARGIN_S = 120  # refresh this long before Google says it expires


class ChannelDisconnected(AppError):
    code = "channel_disconnected"
    status = 409
    message = "This channel is no longer connected to YouTube. Reconnect it from the channel page."


def store_tokens(cur: Cursor, channel_id: int, token: dict[str, Any], cipher: TokenCipher) -> None:
    """Insert or replace the channel's tokens (in the caller's transaction).
    A token answer without a refresh token keeps the stored one."""
    refresh_enc = cipher.encrypt(token["refresh_token"]) if token.get("refresh_token") else None
    cur.execute(
        """INSERT INTO oauth_tokens (channel_id, access_token_enc, refresh_token_enc, expires_at, scopes)
           VALUES (%s, %s, %s, to_timestamp(%s), %s)
           ON CONFLICT (channel_id) DO UPDATE SET
               access_token_enc = EXCLUDED.access_token_enc,
               refresh_token_enc = coalesce(EXCLUDED.refresh_token_enc, oauth_tokens.refresh_token_enc),
               expires_at = EXCLUDED.expires_at,
               scopes = EXCLUDED.scopes,
               updated_at = now()""",
        (
            channel_id,
            cipher.encrypt(token["access_token"]),
            refresh_enc,
            int(token["expires_at"]),
            token.get("scope", ""),
        ),
    )


def mark_disconnected(
    cur: Cursor, channel_id: int, reason: str, *, actor_id: int | None = None, actor_email: str | None = None
) -> None:
    """Disconnected and its tokens forgotten, audited with ``reason`` ('user'
    when a member pressed Disconnect: the channel page words the two apart)."""
    cur.execute(
        "UPDATE channels SET status = 'disconnected', updated_at = now() WHERE id = %s AND NOT is_demo", (channel_id,)
    )
    cur.execute("DELETE FROM oauth_tokens WHERE channel_id = %s", (channel_id,))
    audit.record(
        cur,
        "channel.disconnected",
        actor_id=actor_id,
        actor_email=actor_email,
        target_type="channel",
        target_id=channel_id,
        details={"reason": reason},
    )


def locked_encrypted_tokens(cur: Cursor, channel_id: int) -> dict[str, Any] | None:
    """The channel's encrypted tokens, locked until the caller's transaction ends."""
    cur.execute(
        "SELECT refresh_token_enc, access_token_enc FROM oauth_tokens WHERE channel_id = %s FOR UPDATE",
        (channel_id,),
    )
    return cur.fetchone()


def all_locked_encrypted_tokens(cur: Cursor) -> list[dict[str, Any]]:
    """Every channel's encrypted tokens, locked (key rotation rewrites them all)."""
    cur.execute("SELECT channel_id, access_token_enc, refresh_token_enc FROM oauth_tokens FOR UPDATE")
    return cur.fetchall()


def replace_encrypted_tokens(cur: Cursor, channel_id: int, access_enc: str, refresh_enc: str | None) -> None:
    cur.execute(
        "UPDATE oauth_tokens SET access_token_enc = %s, refresh_token_enc = %s, updated_at = now() "
        "WHERE channel_id = %s",
        (access_enc, refresh_enc, channel_id),
    )


class ChannelTokenSource:
    """Callable giving a valid access token: ``source(force_refresh)``.
    Hand it to YouTubeClient as its token_source."""

    def __init__(self, channel_id: int, cipher: TokenCipher, oauth_config: oauth.GoogleOAuthConfig | None):
        self.channel_id = channel_id
        self._cipher = cipher
        self._oauth = oauth_config
        self._access_token: str | None = None
        self._expires_at = 0.0

    def __call__(self, force_refresh: bool = False) -> str:
        if not force_refresh and self._access_token and self._expires_at - time.time() > REFRESH_MARGIN_S:
            return self._access_token
        revoked = self._load_or_refresh(force_refresh)
        if revoked:
            raise ChannelDisconnected()
        assert self._access_token is not None
        return self._access_token

    def _load_or_refresh(self, force_refresh: bool) -> str | None:
        """Returns a reason when access was revoked (after recording it)."""
        with transaction() as cur:
            cur.execute(
                """SELECT access_token_enc, refresh_token_enc, extract(epoch FROM expires_at) AS expires_at
                   FROM oauth_tokens WHERE channel_id = %s FOR UPDATE""",
                (self.channel_id,),
            )
            row = cur.fetchone()
            if row is None:
                return "no tokens stored"
            expires_at = float(row["expires_at"])
            fresh_enough = expires_at - time.time() > REFRESH_MARGIN_S
            if fresh_enough and not (
                force_refresh and self._access_token == self._cipher.decrypt(row["access_token_enc"])
            ):
                self._remember(self._cipher.decrypt(row["access_token_enc"]), expires_at)
                return None
            return self._refresh(cur, row)

    def _refresh(self, cur: Cursor, row: Row) -> str | None:
        if not row["refresh_token_enc"] or self._oauth is None:
            mark_disconnected(cur, self.channel_id, "no refresh token")
            return "no refresh token"
        try:
            token = oauth.refresh(self._oauth, self._cipher.decrypt(row["refresh_token_enc"]))
        except oauth.OAuthFailed as exc:
            if exc.access_revoked:
                mark_disconnected(cur, self.channel_id, "invalid_grant")
                return "invalid_grant"
            raise
        store_tokens(cur, self.channel_id, token, self._cipher)
        self._remember(token["access_token"], float(token["expires_at"]))
        return None

    def _remember(self, access_token: str, expires_at: float) -> None:
        self._access_token = access_token
        self._expires_at = expires_at


def expires_at_datetime(token: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(token["expires_at"]), tz=UTC)
