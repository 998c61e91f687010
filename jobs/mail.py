"""Mail goes out from a job, never from a request: a slow or refusing SMTP
server then costs a retry, not a page load.

The web puts a mail in the ``mail_outbox`` table (``put``) and enqueues
``send`` with the row's id. The body may hold a one-time link, so it is
erased once the mail is sent or RQ gives up; only a hash of each link's
secret is kept elsewhere.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from rq import Callback, Queue, Retry
from rq.job import Job

from jobs.runtime import current_settings
from reliability.config import DEFAULT_INSTANCE_DIR
from reliability.db import transaction
from reliability.mail import build_message, deliver

log = logging.getLogger(__name__)

MAIL_RETRY = Retry(max=5, interval=[10, 60, 300, 900, 3600])
MAIL_TIMEOUT_S = 120


def put(cur, *, kind: str, recipient: str, subject: str, body: str) -> int:
    """Add a mail to the outbox in the caller's transaction; returns its id."""
    cur.execute(
        "INSERT INTO mail_outbox (kind, recipient, subject, body) VALUES (%s, %s, %s, %s) RETURNING id",
        (kind, recipient, subject, body),
    )
    return cur.fetchone()["id"]


def sent_recently(cur, *, kind: str, recipient: str, within: timedelta) -> bool:
    """Whether a mail of this kind went into the outbox for this address
    lately: notices and resends are throttled so nobody can flood an inbox."""
    cur.execute(
        """SELECT 1 FROM mail_outbox WHERE lower(recipient) = lower(%s) AND kind = %s
             AND created_at > now() - %s LIMIT 1""",
        (recipient, kind, within),
    )
    return cur.fetchone() is not None


def enqueue(connection, outbox_id: int) -> Job:
    return Queue("high", connection=connection).enqueue(
        "jobs.mail.send", outbox_id, job_id=f"mail-{outbox_id}", job_timeout=MAIL_TIMEOUT_S, retry=MAIL_RETRY,
        result_ttl=600, failure_ttl=7 * 24 * 3600, on_failure=Callback("jobs.mail.gave_up"),
    )


def send(outbox_id: int) -> str:
    """Send one outbox mail (once: a row already sent is skipped)."""
    with transaction() as cur:
        cur.execute("SELECT * FROM mail_outbox WHERE id = %s AND sent_at IS NULL AND body IS NOT NULL", (outbox_id,))
        row = cur.fetchone()
        if row is None:
            return "nothing to send"
        cur.execute("UPDATE mail_outbox SET attempts = attempts + 1 WHERE id = %s", (outbox_id,))
    settings = current_settings()
    message = build_message(sender=settings["MAIL_FROM"], recipient=row["recipient"],
                            subject=row["subject"], body=row["body"])
    instance_dir = Path(settings.get("INSTANCE_DIR") or DEFAULT_INSTANCE_DIR)
    deliver(message, mail_url=settings["MAIL_URL"], instance_dir=instance_dir, kind=row["kind"])
    with transaction() as cur:
        cur.execute("UPDATE mail_outbox SET sent_at = now(), body = NULL WHERE id = %s", (outbox_id,))
    return "sent"


def gave_up(job, connection, exc_type, exc_value, traceback) -> None:
    """After the last retry: erase the body (its link must not outlive the
    attempt) and mark the mail failed for the operator."""
    if job.retries_left:
        return
    outbox_id = job.args[0]
    with transaction() as cur:
        cur.execute("UPDATE mail_outbox SET failed_at = now(), body = NULL WHERE id = %s AND sent_at IS NULL",
                    (outbox_id,))
    log.warning("mail %s given up after %s", outbox_id, getattr(exc_type, "__name__", "error"))
