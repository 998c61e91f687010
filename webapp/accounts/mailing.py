"""Writing a mail from a request: render its text, put it in the outbox in
the caller's transaction, and hand its id to the mail job once committed.

Links in mail are absolute. They start with ``PUBLIC_BASE_URL`` when it is
set (required with ``MAIL_URL`` in staging and production), so a forged
``Host`` header cannot point a reset link at someone else's server.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, render_template, request, url_for

from jobs import mail as mail_job
from reliability import mail_outbox
from reliability.db import Cursor
from webapp.redis_client import get_redis

log = logging.getLogger(__name__)


def link(endpoint: str, **values: Any) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL") or request.url_root
    return base.rstrip("/") + url_for(endpoint, **values)


def compose(cur: Cursor, *, kind: str, recipient: str, subject: str, **context: Any) -> int:
    """Render ``templates/mail/<kind>.txt`` into the outbox; returns its id."""
    body = render_template(f"mail/{kind}.txt", **context)
    return mail_outbox.put(cur, kind=kind, recipient=recipient, subject=subject, body=body)


def dispatch(outbox_id: int | None) -> None:
    """Queue the mail job after the outbox row is committed. With Redis down
    the page still answers the same; the mail stays unsent in the outbox
    (nothing re-queues it yet: the user asks again)."""
    if outbox_id is None:
        return
    try:
        mail_job.enqueue(get_redis(), outbox_id)
    except Exception:  # Redis unreachable: the answer must not differ
        log.warning("mail %s not queued: Redis unreachable", outbox_id, exc_info=True)
