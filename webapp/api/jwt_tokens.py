"""Access tokens: short JWTs signed with HS256 (PyJWT).

One algorithm, pinned both ways: tokens are made with HS256 and read with
``algorithms=["HS256"]`` only, so a token claiming ``none``, RS256 or any
other algorithm is refused before its signature is looked at (the "none"
and RS/HS confusion attacks need the reader to trust the header's alg).
HS256 rather than EdDSA or RS256: only this app ever checks its tokens, so
there is no one to hand a public key to, and one shared secret is one less
thing to store.

Keys come from JWT_SIGNING_KEYS (``kid:secret`` pairs; the first signs, all
verify, so a key is rotated by putting a new one first and dropping the old
one once its last tokens have expired, 15 minutes later). Unset, one key is
derived from SECRET_KEY (HMAC-SHA256 with a fixed label, kid ``sk``): one
secret less to manage, and rotating SECRET_KEY then only costs each client
one refresh, since refresh tokens are random values checked in the database,
not JWTs.

Every token must carry exp, iat, nbf, aud, iss, sub and fam (its family);
the checks here are the signature and the claims; whether the family is
still live is webapp/api/credentials.py's.

`VerifiedTokens` remembers, per process, what each token it verified says
(user, family, expiry), so a token is parsed and its signature checked once
and not on every request: a script sends the same access token for 15
minutes, and PyJWT parses it twice a time (the header for its kid, since the
kid picks the key, then the whole token), a tenth of a millisecond. Only a
token that passed every check is remembered, and its expiry is checked again
at each use. Nothing about the login is remembered: whether its family is
still live is asked of the database on every request, so logout, a password
change or "log out everywhere" still ends the token at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

ALGORITHM = "HS256"
ISSUER = "youtube-channel-optimizer"
AUDIENCE = "youtube-channel-optimizer/api/v1"
ACCESS_TOKEN_TTL = dt.timedelta(minutes=15)
# Clocks of the hosts may differ a little; never more than this.
LEEWAY = dt.timedelta(seconds=30)
DERIVED_KID = "sk"
_REQUIRED = ["exp", "iat", "nbf", "aud", "iss", "sub", "fam"]


class TokenRefused(Exception):
    """The token is not acceptable; ``code`` says why (webapp/api/errors.py)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def signing_keys(config: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """(kid, key) pairs, the signing key first."""
    configured: Sequence[tuple[str, str]] = config.get("JWT_SIGNING_KEYS") or []
    if configured:
        return [(kid, secret.encode("utf-8")) for kid, secret in configured]
    derived = hmac.new(config["SECRET_KEY"].encode("utf-8"), b"yco api access token v1", hashlib.sha256).digest()
    return [(DERIVED_KID, derived)]


def issue(keys: Sequence[tuple[str, bytes]], user_id: int, family_id: int, now: dt.datetime) -> str:
    kid, key = keys[0]
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "fam": family_id,
        "iat": now,
        "nbf": now,
        "exp": now + ACCESS_TOKEN_TTL,
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})


class VerifiedTokens:
    """What the tokens this process verified with ``keys`` say, each until it
    expires. At most ``size`` are kept (then all are forgotten at once: a
    bound on memory, not a cache policy worth more code)."""

    def __init__(self, keys: Sequence[tuple[str, bytes]], size: int = 4096):
        self.keys = list(keys)
        self.size = size
        self._seen: dict[str, tuple[int, int, float]] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def read(self, token: str) -> tuple[int, int]:
        """The (user id, family id) of a valid access token; TokenRefused otherwise."""
        seen = self._seen.get(token)
        if seen is None:
            seen = _verify(self.keys, token)
            if len(self._seen) >= self.size:
                self._seen.clear()
            self._seen[token] = seen
        user_id, family_id, expires = seen
        # PyJWT's own rule: valid while now < exp + leeway.
        if time.time() >= expires + LEEWAY.total_seconds():
            self._seen.pop(token, None)
            raise _expired()
        return user_id, family_id


def _expired() -> TokenRefused:
    return TokenRefused("token_expired", "The access token has expired; get a new one with /auth/refresh.")


def _verify(keys: Sequence[tuple[str, bytes]], token: str) -> tuple[int, int, float]:
    """(user id, family id, exp as epoch seconds) of a valid access token."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        raise TokenRefused("invalid_token", "The token is not a valid access token.") from None
    key = dict(keys).get(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenRefused("invalid_token", "The token was not signed with a key this server knows.")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": _REQUIRED},
        )
    except jwt.ExpiredSignatureError:
        raise _expired() from None
    except jwt.InvalidTokenError:
        raise TokenRefused("invalid_token", "The token is not a valid access token.") from None
    try:
        return int(claims["sub"]), int(claims["fam"]), float(claims["exp"])
    except (TypeError, ValueError):
        raise TokenRefused("invalid_token", "The token is not a valid access token.") from None
