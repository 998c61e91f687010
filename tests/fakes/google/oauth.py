"""State of the fake Google OAuth 2.0 server: clients, consent, codes, grants, tokens.

Why a model and not canned responses: the app's connect/refresh/disconnect
paths depend on Google's rules, which the fake reproduces:
- a code is single-use, expires (10 minutes here), and is bound to client_id,
  redirect_uri and the PKCE S256 challenge;
- a refresh token comes back only with access_type=offline, and only on the
  first consent of that account for that client unless prompt=consent;
- revoking any token of a grant revokes every grant of that account for that
  client, and a revoked or expired refresh token answers invalid_grant.

Consent (who "signs in" and which channel they pick) is configured by the test
with `consent()` because the fake has no consent page. The authorize step binds
the grant to one channel, as Google's channel picker does, so channels.list
(mine=true) returns that single channel. Choices:
- consent(subject, channel_id=None): the account's first channel (default);
- consent(subject, channel_id="UC..."): that channel;
- consent(subject, channel_id=ALL_CHANNELS): every channel of the account
  (not what Google does; for testing a client against several items).
With no consent configured, the first account in the world signs in.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass, field

from tests.fakes.clock import Clock

from .world import World

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
YOUTUBE = SCOPE_PREFIX + "youtube"
YOUTUBE_FORCE_SSL = SCOPE_PREFIX + "youtube.force-ssl"
YOUTUBE_READONLY = SCOPE_PREFIX + "youtube.readonly"
YOUTUBEPARTNER = SCOPE_PREFIX + "youtubepartner"
YT_ANALYTICS_READONLY = SCOPE_PREFIX + "yt-analytics.readonly"
YT_ANALYTICS_MONETARY = SCOPE_PREFIX + "yt-analytics-monetary.readonly"
KNOWN_SCOPES = frozenset(
    {
        YOUTUBE, YOUTUBE_FORCE_SSL, YOUTUBE_READONLY, YOUTUBEPARTNER, YT_ANALYTICS_READONLY, YT_ANALYTICS_MONETARY,
        SCOPE_PREFIX + "youtube.upload", SCOPE_PREFIX + "userinfo.email", SCOPE_PREFIX + "userinfo.profile",
        "openid", "email", "profile",
    }
)  # fmt: skip
APP_SCOPES = (YOUTUBE_FORCE_SSL, YT_ANALYTICS_READONLY)
ALL_CHANNELS = "*all-channels*"
DEFAULT_CLIENT_ID = "fake-client-id.apps.googleusercontent.com"
DEFAULT_CLIENT_SECRET = "fake-client-secret"


class OAuthError(Exception):
    """A token/revoke endpoint error: {"error": code, "error_description": description}."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status, self.code, self.description = status, code, description


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()  # empty: any redirect_uri is accepted


@dataclass
class Consent:
    subject: str | None = None
    channel_id: str | None = None
    deny: bool = False
    granted_scopes: tuple[str, ...] | None = None  # None: everything requested


@dataclass
class Grant:
    """What one consent produced: the account, channel(s) and scopes a token acts for."""

    subject: str
    client_id: str
    channel_ids: tuple[str, ...]
    scopes: tuple[str, ...]
    refresh_token: str | None = None
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    grant: Grant
    challenge: str | None
    offline: bool
    force_consent: bool
    expires_at: float
    used: bool = False


@dataclass
class AccessToken:
    token: str
    grant: Grant
    expires_at: float


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")


@dataclass
class OAuthState:
    clock: Clock
    world: World
    expires_in: int = 3599
    code_ttl_s: int = 600
    required_scopes: set[str] = field(default_factory=lambda: {YOUTUBE_FORCE_SSL})
    require_pkce: bool = True
    require_offline: bool = True
    require_state: bool = True
    clients: dict[str, Client] = field(default_factory=dict)
    standing_consent: Consent = field(default_factory=Consent)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # --- configuration by tests ---------------------------------------------

    def register_client(self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...] = ()) -> Client:
        self.clients[client_id] = Client(client_id, client_secret, tuple(redirect_uris))
        return self.clients[client_id]

    def consent(
        self,
        subject: str | None = None,
        channel_id: str | None = None,
        *,
        deny: bool = False,
        granted_scopes: tuple[str, ...] | None = None,
    ) -> None:
        """What the next authorizations answer: who signs in, which channel they
        pick, whether they click Cancel (deny → error=access_denied), and which
        of the requested scopes they leave ticked."""
        if channel_id not in (None, ALL_CHANNELS) and self.world.channel(channel_id).owner != subject:
            raise ValueError(f"channel {channel_id} is not owned by {subject}")
        self.standing_consent = Consent(subject, channel_id, deny, granted_scopes)

    # --- authorize ----------------------------------------------------------

    def consenting_grant(self, client_id: str, requested: list[str]) -> Grant | None:
        """The grant the configured consent gives, or None when the user denies."""
        consent = self.standing_consent
        if consent.deny:
            return None
        subject = consent.subject or next(iter(self.world.accounts), None)
        if subject is None:
            raise LookupError("the fake world has no Google account: call world.add_channel() or oauth.consent()")
        channels = [c.id for c in self.world.channels_of(subject)]
        if consent.channel_id == ALL_CHANNELS:
            chosen = tuple(channels)
        else:
            chosen = (consent.channel_id,) if consent.channel_id else tuple(channels[:1])
        allowed = consent.granted_scopes
        scopes = tuple(s for s in requested if allowed is None or s in allowed)
        return Grant(subject, client_id, chosen, scopes)

    def issue_code(self, grant: Grant, redirect_uri: str, challenge: str | None, offline: bool, force: bool) -> str:
        code = "4/0A" + secrets.token_urlsafe(48)
        with self.lock:
            self.codes[code] = AuthCode(
                code,
                grant.client_id,
                redirect_uri,
                grant,
                challenge,
                offline,
                force,
                self.clock.now() + self.code_ttl_s,
            )
        return code

    def has_prior_grant(self, subject: str, client_id: str) -> bool:
        with self.lock:
            return any(g.subject == subject and g.client_id == client_id and not g.revoked for g in self.grants)

    # --- token endpoint -----------------------------------------------------

    def authenticate_client(self, client_id: str | None, client_secret: str | None) -> Client:
        client = self.clients.get(client_id or "")
        if client is None:
            raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
        if not client_secret or not secrets.compare_digest(client.client_secret, client_secret):
            raise OAuthError(401, "invalid_client", "Unauthorized")
        return client

    def exchange_code(self, client: Client, code: str | None, redirect_uri: str | None, verifier: str | None) -> dict:
        if not code:
            raise OAuthError(400, "invalid_request", "Missing required parameter: code")
        with self.lock:
            record = self.codes.get(code)
            if record is None or record.used or record.expires_at <= self.clock.now():
                raise OAuthError(400, "invalid_grant", "Malformed auth code." if record is None else "Bad Request")
            if record.client_id != client.client_id:
                raise OAuthError(400, "invalid_grant", "Bad Request")
            if redirect_uri != record.redirect_uri:
                raise OAuthError(400, "redirect_uri_mismatch", "Bad Request")
            self._check_verifier(record, verifier)
            record.used = True
            grant = record.grant
            first = not self.has_prior_grant(grant.subject, grant.client_id)
            if record.offline and (first or record.force_consent):
                grant.refresh_token = "1//0" + secrets.token_urlsafe(64)
            self.grants.append(grant)
            return self._token_response(grant, include_refresh=grant.refresh_token is not None)

    @staticmethod
    def _check_verifier(record: AuthCode, verifier: str | None) -> None:
        if record.challenge is None:
            return
        if not verifier:
            raise OAuthError(400, "invalid_grant", "Missing code verifier.")
        if not secrets.compare_digest(s256(verifier), record.challenge):
            raise OAuthError(400, "invalid_grant", "Invalid code verifier.")

    def refresh(self, client: Client, refresh_token: str | None) -> dict:
        if not refresh_token:
            raise OAuthError(400, "invalid_request", "Missing required parameter: refresh_token")
        with self.lock:
            grant = self._grant_by_refresh(refresh_token)
            if grant is None or grant.revoked:
                raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
            if grant.client_id != client.client_id:
                raise OAuthError(401, "unauthorized_client", "Unauthorized")
            return self._token_response(grant, include_refresh=False)

    def _token_response(self, grant: Grant, *, include_refresh: bool) -> dict:
        token = AccessToken("ya29.a0" + secrets.token_urlsafe(96), grant, self.clock.now() + self.expires_in)
        self.access_tokens[token.token] = token
        body = {"access_token": token.token, "expires_in": self.expires_in}
        if include_refresh:
            body["refresh_token"] = grant.refresh_token
        body.update(scope=" ".join(grant.scopes), token_type="Bearer")
        return body

    def _grant_by_refresh(self, refresh_token: str) -> Grant | None:
        return next((g for g in self.grants if g.refresh_token == refresh_token), None)

    # --- revocation and expiry ----------------------------------------------

    def revoke(self, token: str | None) -> None:
        """What POST /revoke does; also callable from tests."""
        with self.lock:
            grant = self._grant_by_refresh(token or "")
            access = self.access_tokens.get(token or "")
            if grant is None and access is not None:
                grant = access.grant
            if grant is None or grant.revoked:
                raise OAuthError(400, "invalid_token", "Token expired or revoked")
            self.revoke_all(grant.subject, grant.client_id)

    def revoke_all(self, subject: str, client_id: str | None = None) -> None:
        """The user removed the app at myaccount.google.com/permissions."""
        with self.lock:
            for grant in self.grants:
                if grant.subject == subject and client_id in (None, grant.client_id):
                    grant.revoked = True

    def expire_refresh_token(self, refresh_token: str) -> None:
        """Six months unused, testing-mode 7 days, too many tokens: Google just
        answers invalid_grant from then on; so does the fake."""
        with self.lock:
            grant = self._grant_by_refresh(refresh_token)
            if grant is None:
                raise KeyError(refresh_token)
            grant.revoked = True

    def expire_access_tokens(self) -> None:
        with self.lock:
            for token in self.access_tokens.values():
                token.expires_at = min(token.expires_at, self.clock.now())

    # --- used by the API ----------------------------------------------------

    def check_access_token(self, token: str) -> Grant | None:
        """The grant behind a valid, unexpired, unrevoked access token."""
        with self.lock:
            record = self.access_tokens.get(token)
            if record is None or record.grant.revoked or record.expires_at <= self.clock.now():
                return None
            return record.grant

    def issue_tokens(
        self,
        subject: str,
        channel_id: str | None = None,
        scopes: tuple[str, ...] = APP_SCOPES,
        client_id: str = DEFAULT_CLIENT_ID,
    ) -> dict:
        """Tokens without the browser dance, for tests that start connected.
        Same shape as the token endpoint's answer, refresh_token included."""
        channels = self.world.channels_of(subject)
        if channel_id == ALL_CHANNELS:
            chosen = tuple(c.id for c in channels)
        else:
            chosen = (channel_id,) if channel_id else tuple(c.id for c in channels[:1])
        grant = Grant(subject, client_id, chosen, tuple(scopes), "1//0" + secrets.token_urlsafe(64))
        with self.lock:
            self.grants.append(grant)
            return self._token_response(grant, include_refresh=True)
