"""Google OAuth 2.0 for YouTube, through Authlib: authorization code flow
with state and PKCE (S256), offline access for a refresh token, refresh and
revoke. Endpoints come from the GOOGLE_OAUTH_* settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

SCOPES = (
    "https://www.googleapis.com/auth/youtube.force-ssl",
    "https://www.googleapis.com/auth/yt-analytics.readonly",
)
TIMEOUT_S = 15


class OAuthFailed(Exception):
    """Google refused (``error`` holds its code, e.g. ``invalid_grant``)."""

    def __init__(self, error: str, description: str | None = None):
        super().__init__(f"{error}: {description or ''}".strip())
        self.error = error
        self.description = description

    @property
    def access_revoked(self) -> bool:
        return self.error == "invalid_grant"


@dataclass(frozen=True)
class GoogleOAuthConfig:
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    revoke_url: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GoogleOAuthConfig | None:
        """None when no client is configured (the UI then says what to set)."""
        if not config.get("GOOGLE_CLIENT_ID") or not config.get("GOOGLE_CLIENT_SECRET"):
            return None
        return cls(
            client_id=config["GOOGLE_CLIENT_ID"],
            client_secret=config["GOOGLE_CLIENT_SECRET"],
            authorize_url=config["GOOGLE_OAUTH_AUTHORIZE_URL"],
            token_url=config["GOOGLE_OAUTH_TOKEN_URL"],
            revoke_url=config["GOOGLE_OAUTH_REVOKE_URL"],
        )


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    code_verifier: str


def _session(cfg: GoogleOAuthConfig, redirect_uri: str | None = None) -> OAuth2Session:
    return OAuth2Session(
        cfg.client_id,
        cfg.client_secret,
        scope=" ".join(SCOPES),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name, not a secret
    )


def start_authorization(cfg: GoogleOAuthConfig, redirect_uri: str) -> AuthorizationRequest:
    """The consent URL plus the state and PKCE verifier to keep in the session."""
    verifier = generate_token(64)
    url, state = _session(cfg, redirect_uri).create_authorization_url(
        cfg.authorize_url,
        code_verifier=verifier,
        access_type="offline",
        prompt="consent",  # so Google returns a refresh token every time
        include_granted_scopes="true",
    )
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier)


def exchange_code(cfg: GoogleOAuthConfig, redirect_uri: str, code: str, code_verifier: str) -> dict[str, Any]:
    return _token_call(
        lambda s: s.fetch_token(cfg.token_url, code=code, code_verifier=code_verifier, timeout=TIMEOUT_S),
        _session(cfg, redirect_uri),
    )


def refresh(cfg: GoogleOAuthConfig, refresh_token: str) -> dict[str, Any]:
    return _token_call(
        lambda s: s.refresh_token(cfg.token_url, refresh_token=refresh_token, timeout=TIMEOUT_S), _session(cfg)
    )


def revoke(cfg: GoogleOAuthConfig, token: str) -> bool:
    """Best effort: True when Google confirmed. A token Google no longer
    knows is as good as revoked."""
    try:
        response = requests.post(cfg.revoke_url, params={"token": token}, timeout=TIMEOUT_S)
    except requests.RequestException:
        return False
    return response.ok or response.status_code == 400


def _token_call(call: Callable[[OAuth2Session], Mapping[str, Any]], session: OAuth2Session) -> dict[str, Any]:
    try:
        token = dict(call(session))
    except OAuthError as exc:
        raise OAuthFailed(exc.error, exc.description) from None
    except (requests.RequestException, ValueError) as exc:
        raise OAuthFailed("temporarily_unavailable", type(exc).__name__) from None
    token.setdefault("expires_at", int(time.time()) + int(token.get("expires_in", 3600)))
    return token
