"""The API's error envelope and its stable codes.

Every error response under /api/ (ours, Flask's 404/405/413, Flask-Limiter's
429, a CSRF failure, an unexpected 500) has the body

    {"error": {"code": "...", "message": "...", "request_id": "...", "details": ...}}

`webapp/errors.py` renders it for any path under /api/ (so routes that do
not exist, and errors raised before a view runs, get it too). `details` is
null unless the code says otherwise: for `invalid_input` (422) it is
``{"fields": [{"path": "videos.3", "message": "..."}]}``.

ERROR_CODES is the one list of codes a client may meet, with their status;
docs/api.md prints it and a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Response, jsonify
from pydantic import ValidationError as PydanticValidationError

from reliability.errors import AppError

ERROR_CODES: dict[str, tuple[int, str]] = {
    "bad_request": (400, "The request is malformed (for example its body is not JSON)."),
    "csrf_failed": (400, "A cookie-authenticated write came without a valid X-CSRFToken header."),
    "authentication_required": (401, "No credentials came with a request that needs them."),
    "invalid_credentials": (401, "The email or password given to /auth/token is wrong."),
    "invalid_token": (401, "The bearer token is malformed, its signature or claims do not check out."),
    "token_expired": (401, "The access or refresh token is past its expiry."),
    "token_revoked": (401, "The token was revoked: logout, password change, log out everywhere, or deleted."),
    "refresh_token_reused": (401, "A refresh token was used twice: its whole family is now revoked."),
    "forbidden": (403, "The account's role on the channel is too low for this."),
    "not_found": (404, "No such route, or no such object visible to this account."),
    "method_not_allowed": (405, "The route exists but not with this method."),
    "conflict": (409, "The change conflicts with what is stored."),
    "payload_too_large": (413, "The body is over the size limit."),
    "unsupported_media_type": (415, "The body is not application/json."),
    "invalid_input": (422, "The body or parameters failed validation; details.fields names each path."),
    "rate_limited": (429, "Too many requests for this limit; see Retry-After."),
    "account_locked": (429, "Too many wrong passwords for this account; see Retry-After."),
    "internal_error": (500, "A bug on our side; quote the request_id."),
    "service_unavailable": (503, "A service we depend on is down; try again shortly."),
    "database_unavailable": (503, "The database is unavailable; try again shortly."),
    "database_busy": (503, "Every database connection is busy; try again shortly."),
}


class ApiError(AppError):
    """An error raised by an API view: any status, a code from ERROR_CODES,
    a message safe to show, and optional machine-readable details."""

    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message, code=code)
        self.status = status
        self.details = details
        self.headers = headers


def envelope(code: str, message: str, request_id: str | None, details: Any = None) -> Response:
    return jsonify({"error": {"code": code, "message": message, "request_id": request_id, "details": details}})


def invalid_input(fields: Sequence[Mapping[str, str]], message: str = "The request is not valid.") -> ApiError:
    """422 naming each bad field: ``fields`` are ``{"path", "message"}``."""
    return ApiError(422, "invalid_input", message, {"fields": [dict(field) for field in fields]})


def from_pydantic(exc: PydanticValidationError) -> ApiError:
    """422 from a pydantic model's validation error: each error's location
    joined with dots (``videos.3``) and pydantic's message, never the input
    itself (it may be long, or hostile)."""
    fields = [
        {"path": ".".join(str(part) for part in error["loc"]) or "body", "message": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]
    return invalid_input(fields)
