"""Error responses: an HTML page for browsers, JSON for API and htmx callers.

Every error body carries a stable code and the request id, so a user's
report can be matched to the log line. No stack trace, SQL or exception text
from a library ever reaches a response.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from reliability import metrics
from reliability.errors import AppError, NotFound
from webapp.fixed_window import REFUSAL_MESSAGE

log = logging.getLogger(__name__)

_CODES = {
    400: ("bad_request", "The request was not valid."),
    401: ("authentication_required", "Please log in."),
    403: ("forbidden", "You do not have access to this."),
    404: ("not_found", "We could not find that page."),
    405: ("method_not_allowed", "That action is not allowed here."),
    409: ("conflict", "That conflicts with what is already stored."),
    413: ("payload_too_large", "The request is too large."),
    415: ("unsupported_media_type", "That kind of content is not accepted here."),
    422: ("invalid_input", "The request could not be processed."),
    429: ("rate_limited", "Too many requests. Please wait a moment and try again."),
    500: ("internal_error", "Something went wrong on our side. Please try again."),
    503: ("service_unavailable", "The service is briefly unavailable. Please try again shortly."),
}


def page_not_found() -> NotFound:
    """The 404 a view raises for a missing (or hidden) row: the same code and
    words as the 404 of an unknown URL, so the two cannot be told apart."""
    code, message = _CODES[404]
    return NotFound(message, code=code)


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.headers.get("HX-Request") == "true":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


# The body (JSON or the error page's HTML), the status and the headers.
ErrorResponse = tuple[Response | str, int, dict[str, str]]


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, details: object = None
) -> ErrorResponse:
    request_id = g.get("request_id")
    metrics.error_seen("web", code)  # every error response passes here: app_errors_total by its code
    response: Response | str
    if request.path.startswith("/api/"):  # the API's envelope, with details (webapp/api/errors.py)
        from webapp.api.errors import envelope

        response = envelope(code, message, request_id, details)
    elif wants_json():
        response = jsonify({"error": {"code": code, "message": message, "request_id": request_id}})
    else:
        response = _error_page(status, code, message, request_id)
    return response, status, headers or {}


def _error_page(status: int, code: str, message: str, request_id: str | None) -> str:
    try:
        return render_template("errors/error.html", status=status, code=code, message=message, request_id=request_id)
    except Exception:  # the page itself failed (say the database is down): plain HTML
        log.exception("error page failed to render")
        return (
            f"<!doctype html><title>Error {status}</title><h1>Error {status}</h1>"
            f"<p>{escape(message)}</p><p>Reference: {escape(request_id or '')}</p>"
        )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(AppError, _app_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(RateLimitExceeded, _rate_limited)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _app_error(exc: AppError) -> ErrorResponse:
    if exc.status >= 500:
        log.warning("service error", extra={"error_code": exc.code})
    headers = {"Retry-After": "5"} if exc.status == 503 else None
    if retry_after := getattr(exc, "retry_after", None):  # a per-account delay says how long
        headers = {"Retry-After": str(retry_after)}
    headers = {**(headers or {}), **(getattr(exc, "headers", None) or {})}
    return error_response(exc.status, exc.code, exc.message, headers, getattr(exc, "details", None))


def _csrf_error(exc: CSRFError) -> ErrorResponse:
    return error_response(
        400, "csrf_failed", "This form has expired or did not come from this site. Reload the page and try again."
    )


def _rate_limited(exc: RateLimitExceeded) -> ErrorResponse:
    # The limit that was hit, for API clients: "10 per 1 minute".
    details = {"limit": str(exc.limit.limit)} if request.path.startswith("/api/") else None
    return error_response(429, "rate_limited", REFUSAL_MESSAGE, details=details)


def _http_error(exc: HTTPException) -> ErrorResponse:
    status = exc.code or 500
    code, message = _CODES.get(status, ("http_error", exc.name))
    if status == 413:
        limit = request.max_content_length or 0
        message = f"The request is too large. The limit is {_human_bytes(limit)}."
    return error_response(status, code, message)


def _unexpected(exc: Exception) -> ErrorResponse:
    log.exception("unhandled error")
    code, message = _CODES[500]
    return error_response(500, code, message)


def _human_bytes(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MiB"
    return f"{size / 1024:g} KiB"
