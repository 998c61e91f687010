"""The handler of a real SMTP server on 127.0.0.1 (aiosmtpd, in a thread;
the fixture is in test_mail.py) that keeps every mail it receives, and the
steps the mail tests share: deliver the outbox with a real worker, find a
recipient's mail and the link in it."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.integration.optimize_helpers import burst

LINK = re.compile(r"https?://\S+")


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage

    @property
    def body(self) -> str:
        return self.message.get_content()

    @property
    def links(self) -> list[str]:
        return LINK.findall(self.body)


@dataclass
class Mailbox:
    """What the local SMTP server received."""

    mails: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.mails.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.mails if address.lower() in (r.lower() for r in m.recipients)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def deliver(config: dict) -> None:
    """Everything in the outbox, sent by the mail job run by RQ's worker in this process."""
    burst(config)


def path_of(link: str) -> str:
    """The part of a mailed link that a test client requests."""
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def only_link(mail: Received, fragment: str) -> str:
    [link] = [link for link in mail.links if fragment in link]
    return link


# -- links straight from the outbox, for tests about something else -------------------------
# (No worker runs in those tests, so a mail's body is still in mail_outbox.)


def outbox_link(database_url: str, recipient: str, fragment: str) -> str:
    from tests.integration.channel_helpers import query

    rows = query(
        database_url,
        """SELECT body FROM mail_outbox WHERE lower(recipient) = lower(%s)
                                   AND body LIKE %s ORDER BY id DESC LIMIT 1""",
        (recipient, f"%{fragment}%"),
    )
    assert rows, f"no mail to {recipient} with {fragment}"
    [link] = [link for link in LINK.findall(rows[0]["body"]) if fragment in link]
    return path_of(link)


def confirm_address(client, database_url: str, email_address: str) -> None:
    from tests.integration.channel_helpers import post_form

    response = post_form(client, outbox_link(database_url, email_address, "/verify/"), csrf_page="/password/forgot")
    assert response.status_code == 302, response.get_data(as_text=True)


def invite_and_accept(owner, member, database_url: str, channel_id: int, email_address: str, role: str):
    """The owner invites ``email_address``; ``member`` (logged in with it)
    confirms the address and accepts. Returns the invite's answer."""
    from tests.integration.channel_helpers import post_form

    invited = post_form(
        owner,
        f"/channels/{channel_id}/members",
        {"email": email_address, "role": role},
        csrf_page=f"/channels/{channel_id}/members",
    )
    assert invited.status_code == 302, invited.get_data(as_text=True)
    if "/verify/resend" in member.get("/dashboard").get_data(as_text=True):
        confirm_address(member, database_url, email_address)
    accepted = post_form(
        member, outbox_link(database_url, email_address, "/invitations/"), csrf_page="/password/forgot"
    )
    assert accepted.status_code == 302, accepted.get_data(as_text=True)
    return invited
