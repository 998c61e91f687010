"""Mail goes out from a job, never from a request: a slow or refusing SMTP
server then costs a retry, not a page load.

The web puts a mail in the outbox (reliability/mail_outbox.py) and enqueues
``send`` with the row's id. The body may hold a one-time link, so it is
erased once the mail is sent or RQ gives up; only a hash of each link's
secret is kept elsewhere.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType

from redis import Redis
from rq import Callback, Queue, Retry
from rq.job import Job

from jobs.runtime import current_settings
from reliability import mail_outbox
from reliability.config import DEFAULT_INSTANCE_DIR
from reliability.db import transaction
from reliability.mail import build_message, deliver

log = logging.getLogger(__name__)

MAIL_RETRY = Retry(max=5, interval=[10, 60, 300, 900, 3600])
MAIL_TIMEOUT_S = 120


def enqueue(connection: Redis, outbox_id: int) -> Job:
    return Queue("high", connection=connection).enqueue(
        "jobs.mail.send",
        outbox_id,
        job_id=f"mail-{outbox_id}",
        job_timeout=MAIL_TIMEOUT_S,
        retry=MAIL_RETRY,
        result_ttl=600,
        failure_ttl=7 * 24 * 3600,
        on_failure=Callback("jobs.mail.gave_up"),
    )


def send(outbox_id: int) -> str:
    """Send one outbox mail (once: a row already sent is skipped)."""
    with transaction() as cur:
        row = mail_outbox.take_unsent(cur, outbox_id)
    if row is None:
        return "nothing to send"
    settings = current_settings()
    message = build_message(
        sender=settings["MAIL_FROM"], recipient=row["recipient"], subject=row["subject"], body=row["body"]
    )
    instance_dir = Path(settings.get("INSTANCE_DIR") or DEFAULT_INSTANCE_DIR)
    deliver(message, mail_url=settings["MAIL_URL"], instance_dir=instance_dir, kind=row["kind"])
    with transaction() as cur:
        mail_outbox.mark_sent(cur, outbox_id)
    return "sent"


def gave_up(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException],
    exc_value: BaseException,
    traceback: TracebackType | None,
) -> None:
    """After the last retry: erase the body (its link must not outlive the
    attempt) and mark the mail failed for the operator."""
    if job.retries_left:
        return
    outbox_id = job.args[0]
    with transaction() as cur:
        mail_outbox.mark_failed(cur, outbox_id)
    log.warning("mail %s given up after %s", outbox_id, getattr(exc_type, "__name__", "error"))
