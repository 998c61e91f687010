"""Anthropic-shaped API errors for the fake Messages API.

Why one module: the app's retry policy and breaker decide on the HTTP status
and on `error.type`, and the SDK picks its exception class from the status
alone (anthropic/_error_classes.py `ERROR_CLASSES`: 429 RateLimitError, 529
OverloadedError, other 5xx InternalServerError), so every error the fake sends
must carry Anthropic's envelope and headers:

    HTTP 529, request-id: req_..., x-should-retry: true
    {"type": "error",
     "error": {"type": "overloaded_error", "message": "Overloaded"},
     "request_id": "req_..."}

`request-id` is what `APIStatusError.request_id` reads (anthropic/_exceptions.py
APIStatusError.__init__). `x-should-retry` is obeyed by the SDK's own retry loop
(anthropic/_base_client.py `_should_retry`); the real API sends it on retryable
errors, so the fake does too.
"""

from __future__ import annotations

import secrets
import string

from flask import Response, json

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """An id shaped like Anthropic's (`msg_01...`, `toolu_01...`, `req_01...`)."""
    return prefix + "01" + "".join(secrets.choice(_ALPHABET) for _ in range(22))


class ApiError(Exception):
    """Raised inside a handler; the app's error handler turns it into the envelope."""

    def __init__(self, status: int, error_type: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {error_type}: {message}")
        self.status = status
        self.error_type = error_type
        self.message = message
        self.headers = headers or {}

    def body(self, request_id: str) -> dict:
        return {"type": "error", "error": {"type": self.error_type, "message": self.message}, "request_id": request_id}

    def response(self, request_id: str) -> Response:
        resp = Response(json.dumps(self.body(request_id)), status=self.status, mimetype="application/json")
        resp.headers["request-id"] = request_id
        for name, value in self.headers.items():
            resp.headers[name] = value
        return resp


def invalid_request(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


def missing_api_key() -> ApiError:
    return ApiError(401, "authentication_error", "x-api-key header is required")


def invalid_api_key() -> ApiError:
    return ApiError(401, "authentication_error", "invalid x-api-key")


def not_found(message: str = "Not Found") -> ApiError:
    return ApiError(404, "not_found_error", message)


def unknown_model(model: str) -> ApiError:
    return not_found(f"model: {model}")


def rate_limited(retry_after: float = 1.0) -> ApiError:
    return ApiError(
        429,
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute. "
        "For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers "
        "for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.",
        headers={"retry-after": _seconds(retry_after), "x-should-retry": "true"},
    )


def overloaded() -> ApiError:
    return ApiError(529, "overloaded_error", "Overloaded", headers={"x-should-retry": "true"})


def internal_error() -> ApiError:
    return ApiError(500, "api_error", "Internal server error", headers={"x-should-retry": "true"})


def _seconds(value: float) -> str:
    """retry-after as the API sends it: whole seconds when whole, else a float
    (the SDK accepts both, anthropic/_base_client.py `_parse_retry_after_header`)."""
    return str(int(value)) if float(value).is_integer() else str(value)
