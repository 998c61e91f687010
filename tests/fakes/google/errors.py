"""Google-shaped API errors for the fake YouTube Data API.

Why one module: the app's retry policy and breaker decide on `error.errors[0].reason`
and the HTTP status (FACTS: quotaExceeded and rateLimitExceeded are retried later,
forbidden and invalidTitle never), so every error the fake returns must carry the
same envelope as Google's:

    {"error": {"code": 403, "message": "...", "status": "PERMISSION_DENIED",
               "errors": [{"message": "...", "domain": "youtube.quota", "reason": "quotaExceeded"}]}}

Messages are copied from real responses where known (quotaExceeded keeps its
HTML link, as Google sends it).
"""

from __future__ import annotations

from flask import Response, json

STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

QUOTA_MESSAGE = (
    "The request cannot be completed because you have exceeded your "
    '<a href="/youtube/v3/getting-started#quota">quota</a>.'
)


class ApiError(Exception):
    """Raised inside a handler; the app's error handler turns it into the JSON body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        detail: str | None = None,
        location: str | None = None,
        location_type: str = "parameter",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.detail = detail or message
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}

    def body(self) -> dict:
        item = {"message": self.detail, "domain": self.domain, "reason": self.reason}
        if self.location:
            item.update(location=self.location, locationType=self.location_type)
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [item],
                "status": STATUS_BY_CODE.get(self.code, "UNKNOWN"),
            }
        }

    def response(self) -> Response:
        resp = Response(json.dumps(self.body()), status=self.code, mimetype="application/json")
        resp.headers["Content-Type"] = "application/json; charset=UTF-8"
        for name, value in self.headers.items():
            resp.headers[name] = value
        return resp


def auth_error() -> ApiError:
    return ApiError(
        401,
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
        "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        detail="Invalid Credentials",
        location="Authorization",
        location_type="header",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
    )


def insufficient_scope() -> ApiError:
    return ApiError(
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        detail="Insufficient Permission",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="insufficient_scope"'},
    )


def quota_exceeded() -> ApiError:
    return ApiError(403, "quotaExceeded", QUOTA_MESSAGE, domain="youtube.quota")


def rate_limit_exceeded() -> ApiError:
    return ApiError(
        403,
        "rateLimitExceeded",
        "The request cannot be completed because you have exceeded your rate limit.",
        domain="youtube.quota",
    )


def backend_error() -> ApiError:
    return ApiError(500, "backendError", "Backend Error")


def service_unavailable() -> ApiError:
    return ApiError(503, "backendError", "The service is currently unavailable.")


def required(name: str) -> ApiError:
    return ApiError(400, "required", f"Required parameter: {name}", location=name)


def missing_filter(expected: str) -> ApiError:
    return ApiError(
        400,
        "missingRequiredParameter",
        f"No filter selected. Expected one of: {expected}",
        domain="youtube.parameter",
    )


def incompatible(names: str) -> ApiError:
    return ApiError(
        400,
        "incompatibleParameters",
        f"Incompatible parameters specified in the request: {names}",
        domain="youtube.parameter",
    )


def invalid_parameter(name: str, message: str) -> ApiError:
    return ApiError(400, "invalidParameter", message, location=name)


def invalid_page_token() -> ApiError:
    return ApiError(
        400,
        "invalidPageToken",
        "The request specifies an invalid page token.",
        domain="youtube.parameter",
        location="pageToken",
    )


def unknown_part(part: str) -> ApiError:
    return ApiError(400, "unknownPart", part, domain="youtube.part", location="part")


def bad_video_metadata(reason: str, message: str, location: str | None = None) -> ApiError:
    return ApiError(400, reason, message, domain="youtube.video", location=location, location_type="other")


def forbidden(message: str, domain: str) -> ApiError:
    return ApiError(403, "forbidden", message, domain=domain)


def not_found(reason: str, message: str, domain: str, location: str | None = None) -> ApiError:
    return ApiError(404, reason, message, domain=domain, location=location)


def parse_error() -> ApiError:
    return ApiError(400, "parseError", "Parse Error")
