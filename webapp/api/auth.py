"""Tokens: POST /api/v1/auth/token (email and password, same limits as the
login page), /auth/refresh (rotating, reuse revokes the login), /auth/logout,
and GET /auth/me. The rules and states are webapp/api/credentials.py's."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from reliability.db import read, transaction
from webapp.accounts import store, throttle
from webapp.accounts.routes import password_guess_limit
from webapp.api import bearer, credentials, jwt_tokens
from webapp.api.auth_models import LogoutRequest, Me, RefreshRequest, TokenPair, TokenRequest
from webapp.api.errors import ApiError, from_pydantic, invalid_input
from webapp.api.gate import bearer_authenticated, public, unauthorized
from webapp.api.limits import login_limited

bp = Blueprint("auth", __name__, url_prefix="/auth")

_M = TypeVar("_M", bound=BaseModel)


def _body(model: type[_M]) -> _M:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send the body as JSON (Content-Type: application/json).")
    data = request.get_json(silent=True)
    if data is None:
        raise invalid_input([{"path": "body", "message": "The body is not valid JSON."}])
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise from_pydantic(exc) from None


def _json(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status=status, mimetype="application/json")


def _pair(user_id: int, family_id: int, refresh_token: str) -> Response:
    keys = jwt_tokens.signing_keys(current_app.config)
    access = jwt_tokens.issue(keys, user_id, family_id, dt.datetime.now(dt.UTC))
    ttl = int(jwt_tokens.ACCESS_TOKEN_TTL.total_seconds())
    response = _json(TokenPair(access_token=access, expires_in=ttl, refresh_token=refresh_token))
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 5.1: tokens are never cached
    return response


@bp.post("/token")
@public
@login_limited  # the login page's count, not the API's (webapp/api/limits.py)
@password_guess_limit
def token() -> ResponseReturnValue:
    """Email and password for an access token and a refresh token. Wrong
    passwords count towards the same per-account delays as the login page."""
    body = _body(TokenRequest)
    row: dict[str, Any] | None = read(store.find_by_email, body.email)
    right = throttle.check_password(body.email, body.password, row["password_hash"] if row else None)
    if not right or row is None:
        raise unauthorized("invalid_credentials", "Incorrect email or password.")
    with transaction() as cur:
        family_id, refresh_token = credentials.start_family(cur, row, request.remote_addr, request.user_agent.string)
        store.record_login(cur, row, request.remote_addr)
    return _pair(row["id"], family_id, refresh_token)


@bp.post("/refresh")
@public
def refresh() -> ResponseReturnValue:
    """A refresh token for a new pair; the one sent is spent."""
    body = _body(RefreshRequest)
    with transaction() as cur:  # commits a reuse's revocation before it is reported
        outcome = credentials.rotate(cur, body.refresh_token, request.remote_addr)
    if isinstance(outcome, ApiError):
        raise outcome
    user, family_id, refresh_token = outcome
    return _pair(user["id"], family_id, refresh_token)


@bp.post("/logout")
@public
def logout() -> ResponseReturnValue:
    """Revoke the login of the bearer access token, or of the refresh token
    in the body (enough on its own: an expired access token must not stop a
    client from logging out), or the bearer personal token itself."""
    body = _body(LogoutRequest) if request.content_length else LogoutRequest()
    user_id = current_user.id if current_user.is_authenticated else None
    with transaction() as cur:
        families = {bearer.family_id()}
        if body.refresh_token:
            families.add(credentials.family_of_refresh_token(cur, body.refresh_token, user_id))
        families.discard(None)
        if not families and not current_user.is_authenticated:
            raise unauthorized("authentication_required", "Send the refresh token, or a bearer token.")
        for family_id in families:
            assert family_id is not None
            credentials.logout_family(cur, family_id)
        if (personal := bearer.personal_token_id()) is not None:
            credentials.revoke_personal(cur, {"id": current_user.id, "email": current_user.email}, personal, None)
    return Response(status=204)


@bp.get("/me")
def me() -> ResponseReturnValue:
    """Who the credentials belong to, and which kind they were."""
    return _json(
        Me(
            id=current_user.id,
            email=current_user.email,
            authenticated_by="bearer" if bearer_authenticated() else "session",
        )
    )
