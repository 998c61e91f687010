"""Error reporting to Sentry, when SENTRY_DSN is set (web, worker, cron).

Flask and RQ integrations: an unexpected error in a view (reported through
its ``log.exception``, since our own handler answers the 500) or in a job
(RQ's exception handler) becomes an event, tagged with the request id or
job id, the component, the release (version and commit) and the
environment. ``SENTRY_TRACES_SAMPLE_RATE`` sends that share of requests and
jobs as traces.

Nothing secret leaves: no personal data by default (no cookies, bodies or
user emails), Sentry's own scrubber run over the whole event with our
extra names (OAuth ``code`` and ``state``, refresh and access tokens), and
:func:`scrub_event` as ``before_send`` replacing, in every string left,
emails, bearer tokens, query values of ``code=``/``state=``/``token=``,
passwords in URLs, API keys and Fernet tokens.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any

from reliability.logs import request_id_var
from reliability.version import release

FILTERED = "[Filtered]"
# Keys whose value is dropped wherever they appear (headers, query, locals, extra).
SECRET_KEYS = (
    "code",
    "state",
    "refresh_token",
    "access_token",
    "id_token",
    "client_secret",
    "dsn",
    "x-api-key",
    "email",
    "password_hash",
    "new_password",
    "current_password",
    "confirm",
)
_PATTERNS = (
    # OAuth codes and states, tokens and keys passed in a query string or form body.
    (
        re.compile(r"(?i)\b(code|state|(?:access_|refresh_|id_)?token|api_key|key|password|secret)=[^&\s'\"]+"),
        r"\1=" + FILTERED,
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer " + FILTERED),
    (re.compile(r"(?i)(authorization|cookie)(['\"]?\s*[:=]\s*['\"]?)[^'\",}\n]+"), r"\1\2" + FILTERED),
    (re.compile(r"://([^:/@\s]+):[^@/\s]+@"), r"://\1:" + FILTERED + "@"),  # a password in a URL
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]+"), FILTERED),  # Anthropic keys
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), FILTERED),  # Fernet tokens (our encrypted OAuth tokens)
    (re.compile(r"\bya29\.[A-Za-z0-9._-]+"), FILTERED),  # Google access tokens
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), FILTERED),  # JWTs
    (re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "[email]"),
)


def init_sentry(config: Mapping[str, Any], component: str) -> bool:
    dsn = config.get("SENTRY_DSN")
    if not dsn:
        return False
    import sentry_sdk

    def before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
        return scrub_event(tag_event(event, component))

    with warnings.catch_warnings():  # the send_default_pii deprecation, on every start (see below)
        warnings.filterwarnings("ignore", message="The send_default_pii option is deprecated")
        _init(sentry_sdk, dsn, config, before_send)
    return True


def _init(sentry_sdk: Any, dsn: str, config: Mapping[str, Any], before_send: Any) -> None:
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.rq import RqIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST, EventScrubber

    sentry_sdk.init(
        dsn=dsn,
        environment=config.get("ENVIRONMENT"),
        release=release(config.get("GIT_COMMIT")),
        # No user, cookies, bodies or job arguments. (sentry-sdk 2.75 deprecates this
        # for data_collection, which turns our event_scrubber off: kept until that changes.)
        send_default_pii=False,
        max_request_body_size="never",
        traces_sample_rate=float(config.get("SENTRY_TRACES_SAMPLE_RATE") or 0.0),
        integrations=[FlaskIntegration(), RqIntegration()],
        event_scrubber=EventScrubber(
            denylist=[*DEFAULT_DENYLIST, *SECRET_KEYS], pii_denylist=DEFAULT_PII_DENYLIST, recursive=True
        ),
        before_send=before_send,
        before_send_transaction=before_send,
    )


def tag_event(event: dict[str, Any], component: str) -> dict[str, Any]:
    """The component, and the request id or job id, as tags: a user's
    report (the request id on the error page) finds its event."""
    tags = event.setdefault("tags", {})
    if isinstance(tags, dict):
        tags.setdefault("component", component)
        request_id = request_id_var.get()
        if request_id:
            tags.setdefault("request_id", request_id)
        job = (event.get("extra") or {}).get("rq-job")
        if isinstance(job, dict) and job.get("job_id"):
            tags.setdefault("job_id", job["job_id"])
            job["description"] = job.get("func")  # RQ's description repeats the arguments
    return event


# Top-level fields that are ours, not the user's: left as they are (a release
# such as name@0.1.0 would otherwise read as an email address).
_OWN_FIELDS = frozenset({"release", "dist", "environment", "sdk", "modules", "platform", "timestamp", "event_id"})


def scrub_event(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value if key in _OWN_FIELDS else _scrub(value) for key, value in event.items()}


def _scrub(event: Any) -> Any:
    """Every string with the patterns above replaced; keys named in
    SECRET_KEYS (any case) dropped to FILTERED."""
    if isinstance(event, dict):
        return {
            key: FILTERED if isinstance(key, str) and key.lower() in SECRET_KEYS else _scrub(value)
            for key, value in event.items()
        }
    if isinstance(event, list | tuple):
        return [_scrub(item) for item in event]
    if isinstance(event, str):
        return scrub_text(event)
    return event


def scrub_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
