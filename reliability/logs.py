"""JSON logs, one object per line, with the current request id on every line.

The request id lives in a ContextVar so that code far from Flask (the
database layer, a job) logs it too without being handed it.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[int | None] = ContextVar("user_id", default=None)

# What a client may send as X-Request-ID: short, printable, no spaces.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def accept_or_make_request_id(candidate: str | None) -> str:
    """Keep a well-formed incoming id (so a proxy's id links the logs);
    otherwise make a new one. A malformed id is never logged."""
    if candidate and _REQUEST_ID.match(candidate):
        return candidate
    return uuid.uuid4().hex


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        if not hasattr(record, "user_id"):
            record.user_id = user_id_var.get()
        return True


class _OurHandler(logging.StreamHandler[TextIO]):
    """The handler configure_logging installs: a second call replaces it, not the ones others added."""


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) as one JSON line.
    Safe to call more than once (app factory in tests)."""
    handler = _OurHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # werkzeug's own access log would duplicate ours, without the ids.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
