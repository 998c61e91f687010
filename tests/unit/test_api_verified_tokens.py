"""Access tokens are verified once per process (webapp/api/jwt_tokens.py
`VerifiedTokens`): what is remembered still expires on time, a refused
token is never remembered, and the memory is bounded. Tokens are made with
PyJWT as the token endpoint makes them."""

from __future__ import annotations

import time

import jwt
import pytest

from webapp.api import jwt_tokens
from webapp.api.jwt_tokens import TokenRefused, VerifiedTokens

KEYS = [("k1", b"a key of thirty-two bytes or so!")]


def _token(user_id: int = 7, family: int = 3, *, expires_in: float = 300, key: bytes = KEYS[0][1]) -> str:
    now = time.time()
    claims = {
        "iss": jwt_tokens.ISSUER,
        "aud": jwt_tokens.AUDIENCE,
        "sub": str(user_id),
        "fam": family,
        "iat": int(now) - 60,
        "nbf": int(now) - 60,
        "exp": now + expires_in,
    }
    return jwt.encode(claims, key, algorithm="HS256", headers={"kid": "k1"})


def _refusal(tokens: VerifiedTokens, token: str) -> str:
    with pytest.raises(TokenRefused) as refused:
        tokens.read(token)
    return refused.value.code


def test_a_remembered_token_still_expires_on_time():
    tokens = VerifiedTokens(KEYS)
    # Past its exp but within the 30 s leeway for about one more second.
    token = _token(expires_in=1.2 - jwt_tokens.LEEWAY.total_seconds())
    assert tokens.read(token) == (7, 3)
    assert tokens.read(token) == (7, 3) and len(tokens) == 1
    time.sleep(1.5)
    assert _refusal(tokens, token) == "token_expired"
    assert len(tokens) == 0


def test_a_refused_token_is_never_remembered():
    tokens = VerifiedTokens(KEYS)
    forged = _token(key=b"another key of thirty-two bytes!")
    for _ in range(2):
        assert _refusal(tokens, forged) == "invalid_token"
    assert _refusal(tokens, _token(expires_in=-60)) == "token_expired"
    assert len(tokens) == 0


def test_the_memory_is_bounded():
    tokens = VerifiedTokens(KEYS, size=3)
    for user_id in range(10):
        assert tokens.read(_token(user_id)) == (user_id, 3)
        assert len(tokens) <= 3
