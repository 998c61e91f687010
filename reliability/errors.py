"""The application's exception hierarchy.

Every error a user can meet has a stable machine-readable ``code`` (kept in
JSON responses and logs, so clients and alerts can rely on it), an HTTP
``status`` and a ``message`` that is safe to show: it never carries a stack
trace, SQL or a secret.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of every error we raise on purpose."""

    code = "internal_error"
    status = 500
    message = "Something went wrong on our side. Please try again."
    # Machine-readable facts behind the message (the numbers of a limit, say),
    # shown to API callers as the error's "details"; never a secret.
    details: dict[str, Any] | None = None

    def __init__(self, message: str | None = None, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message or self.message)
        if message:
            self.message = message
        if code:
            self.code = code
        if details is not None:
            self.details = details


# The exit status of a process that refuses to start: invalid settings, or a
# failed critical startup check in staging and production.
STARTUP_FAILED_EXIT = 1


class ConfigError(AppError):
    """A configuration value is missing or malformed; start-up must stop
    (one ``configuration error:`` line, exit STARTUP_FAILED_EXIT)."""

    code = "config_error"


class ValidationError(AppError):
    code = "invalid_input"
    status = 400
    message = "The request was not valid."


class AuthenticationRequired(AppError):
    code = "authentication_required"
    status = 401
    message = "Please log in."


class PermissionDenied(AppError):
    code = "forbidden"
    status = 403
    message = "You do not have access to this."


class NotFound(AppError):
    code = "not_found"
    status = 404
    message = "We could not find that."


class Conflict(AppError):
    code = "conflict"
    status = 409
    message = "That conflicts with what is already stored."


class RateLimited(AppError):
    code = "rate_limited"
    status = 429
    message = "Too many requests. Please wait a moment and try again."


class ServiceUnavailable(AppError):
    code = "service_unavailable"
    status = 503
    message = "A service we depend on is unavailable. Please try again shortly."


class DatabaseError(ServiceUnavailable):
    code = "database_unavailable"
    message = "The database is unavailable. Please try again shortly."


class PoolExhausted(DatabaseError):
    """Every pooled connection stayed busy for the whole wait timeout."""

    code = "database_busy"
    message = "The server is busy. Please try again in a moment."
