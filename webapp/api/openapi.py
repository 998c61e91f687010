"""The OpenAPI 3.1 document of the API, generated from the operations'
pydantic models (webapp/api/spec.py). Public: a client reads it before it
has a token, and it holds nothing a member's data would.

The token endpoints are routed by webapp/api/auth.py with their own models
(webapp/api/auth_models.py); they are described here so the one document
covers the whole API, Swagger UI's users included (they need a token first).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from webapp.api import auth
from webapp.api.auth_models import LogoutRequest, Me, RefreshRequest, TokenPair, TokenRequest
from webapp.api.gate import public
from webapp.api.spec import Operation, document, openapi_document

bp = Blueprint("openapi", __name__)

_UNSUPPORTED = {415: "The body is not JSON (Content-Type: application/json)."}
_TOKEN_ERRORS = {**_UNSUPPORTED, 401: "invalid_credentials, or a refresh token expired, revoked or reused."}


def _document_token_endpoints() -> None:
    for operation in (
        Operation(
            "POST",
            "/auth/token",
            auth.token,
            auth.bp,
            "Trade email and password for an access and a refresh token",
            TokenPair,
            200,
            body=TokenRequest,
            body_example={"email": "creator@example.com", "password": "correct horse battery staple"},
            public=True,
            errors=_TOKEN_ERRORS,
        ),
        Operation(
            "POST",
            "/auth/refresh",
            auth.refresh,
            auth.bp,
            "Trade a refresh token (once) for a new pair",
            TokenPair,
            200,
            body=RefreshRequest,
            public=True,
            errors=_TOKEN_ERRORS,
        ),
        Operation(
            "POST",
            "/auth/logout",
            auth.logout,
            auth.bp,
            "Revoke this login (or the refresh token's, or this personal token)",
            None,
            204,
            body=LogoutRequest,
            body_required=False,
            public=True,
            errors=_UNSUPPORTED,
        ),
        Operation("GET", "/auth/me", auth.me, auth.bp, "Who the credentials belong to", Me, 200),
    ):
        document(operation)


@cache
def _document() -> dict[str, Any]:
    # Built once per process: every app mounts the same operations at the same URLs.
    _document_token_endpoints()
    return openapi_document()


@bp.get("/openapi.json")
@public
def spec() -> ResponseReturnValue:
    response = jsonify(_document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
