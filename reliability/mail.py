"""Sending one mail: over SMTP when ``MAIL_URL`` is set, else into
``instance/mail/`` as an .eml file with a log line (development).

The standard library's smtplib and email packages do the work; Flask-Mail
would tie sending to a Flask app, and mail is sent from RQ jobs. No Flask,
no RQ here.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 20  # below the mail job's timeout; the job's retries own retrying
DEFAULT_PORTS = {"smtp": 587, "smtps": 465}


@dataclass(frozen=True)
class MailServer:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def implicit_tls(self) -> bool:
        return self.scheme == "smtps"


def parse_mail_url(raw: str) -> MailServer:
    """``smtp://[user:password@]host[:port]`` (STARTTLS when the server offers
    it) or ``smtps://…`` (TLS from the first byte). ValueError otherwise."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("expected smtp:// or smtps:// with a host")
    port = parts.port or DEFAULT_PORTS[parts.scheme]  # .port raises ValueError on a bad port
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("expected no path, query or fragment")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return MailServer(parts.scheme, parts.hostname, port, username, password)


def build_message(*, sender: str, recipient: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject  # EmailMessage refuses a newline here (header injection)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="channel-optimizer")
    # 8bit keeps a link on one line in the .eml a developer opens (lines stay
    # far below the 998-byte limit; every server we send to speaks 8BITMIME).
    message.set_content(body, cte="8bit")
    return message


def deliver(message: EmailMessage, *, mail_url: str | None, instance_dir: Path, kind: str) -> str:
    """Send ``message``; returns where it went (for the log and tests)."""
    if not mail_url:
        return _write_to_disk(message, instance_dir, kind)
    server = parse_mail_url(mail_url)
    _send_smtp(message, server)
    return f"{server.scheme}://{server.host}:{server.port}"


def _send_smtp(message: EmailMessage, server: MailServer) -> None:
    context = ssl.create_default_context()
    if server.implicit_tls:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=SMTP_TIMEOUT_S, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT_S)
    with smtp:
        smtp.ehlo()
        if not server.implicit_tls and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
        if server.username:
            smtp.login(server.username, server.password or "")
        smtp.send_message(message)


def _write_to_disk(message: EmailMessage, instance_dir: Path, kind: str) -> str:
    folder = instance_dir / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = folder / f"{stamp}-{kind}-{uuid.uuid4().hex[:8]}.eml"
    path.write_bytes(bytes(message))
    # The recipient and the body (which may hold a one-time link) stay out
    # of the log: logs travel further than the instance folder.
    log.info("mail to <redacted> written to instance/mail/%s", path.name)
    return str(path)
