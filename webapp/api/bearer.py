"""A bearer token to a user: a personal API token (``ycopat_…``, looked up
by its hash) or a JWT access token (signature and claims checked by
webapp/api/jwt_tokens.py, once per token and process, then its family must
still be live). Either way one indexed query; a refused token is 401 with
its code."""

from __future__ import annotations

import datetime as dt

from flask import current_app, request

from reliability.db import read, transaction
from webapp.accounts.identity import User
from webapp.api import credentials, jwt_tokens, token_store
from webapp.api.gate import unauthorized

# Longer than any token we issue; a bigger header is not worth a lookup.
MAX_TOKEN_LENGTH = 2048


def authenticate(token: str) -> tuple[User, str]:
    """The user, and the credential's rate-limit identity
    (``pat:<id>`` or ``family:<id>``)."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise unauthorized("invalid_token", "The token is not valid.")
    if token.startswith(credentials.PERSONAL_PREFIX):
        with transaction() as cur:
            row = credentials.personal_user(cur, token, request.remote_addr, dt.datetime.now(dt.UTC))
        return User(row, token=""), f"pat:{row['token_id']}"
    try:
        user_id, family_id = _verified_tokens().read(token)
    except jwt_tokens.TokenRefused as exc:
        raise unauthorized(exc.code, exc.message) from None
    user = read(token_store.family_user, family_id, user_id)
    if user is None:
        raise unauthorized("token_revoked", "This login was revoked (logout, password change or log out everywhere).")
    return User(user, token=""), f"family:{family_id}"


def _verified_tokens() -> jwt_tokens.VerifiedTokens:
    """This app's: each app has its own keys (tests build several)."""
    tokens: jwt_tokens.VerifiedTokens | None = current_app.extensions.get("api_verified_tokens")
    if tokens is None:
        made = jwt_tokens.VerifiedTokens(jwt_tokens.signing_keys(current_app.config))
        tokens = current_app.extensions.setdefault("api_verified_tokens", made)
    return tokens


def family_id() -> int | None:
    """The family of this request's access token, if it came with one."""
    from flask import g

    credential = g.get("api_credential") or ""
    return int(credential.split(":")[1]) if credential.startswith("family:") else None


def personal_token_id() -> int | None:
    from flask import g

    credential = g.get("api_credential") or ""
    return int(credential.split(":")[1]) if credential.startswith("pat:") else None
