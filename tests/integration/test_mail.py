"""Mail as a user meets it (issue 10, item 4): registration, password reset
and invitations answer the same whatever the address; the mails reach a
real SMTP server (aiosmtpd on 127.0.0.1) through a real worker, to the
right recipient with a link that works once and expires; without MAIL_URL
the mail is written to instance/mail/ and the log says so without the
address or the link."""

from __future__ import annotations

import email
import email.policy
import re
import statistics
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.helpers import STRONG_PASSWORD, csrf_from, login, post_register, register
from tests.integration.channel_helpers import import_demo, post_form, query, user_id
from tests.integration.mail_helpers import Mailbox, deliver, free_port, only_link, path_of
from tests.integration.worker_helpers import run_worker_process_burst

OWNER = "owner@example.com"
NEW_PASSWORD = "violet lantern orbit meadow"
BASE = "http://optimizer.test"


@pytest.fixture
def smtp_server():
    """(mailbox, MAIL_URL) of a real SMTP server on 127.0.0.1 for one test."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


@pytest.fixture
def mail_config(app_config, smtp_server):
    mailbox, url = smtp_server
    return {
        **app_config,
        "MAIL_URL": url,
        "PUBLIC_BASE_URL": BASE,
        "REGISTER_RATE_LIMIT": "100 per minute",
        "LOGIN_RATE_LIMIT": "100 per minute",
    }


@pytest.fixture
def mail_app(mail_config):
    from webapp import create_app

    return create_app(mail_config)


@pytest.fixture
def mailbox(smtp_server):
    return smtp_server[0]


def _text(response) -> str:
    return response.get_data(as_text=True)


def _visible(html: str) -> str:
    """The page without what differs between any two requests (CSRF token, CSP nonce)."""
    html = re.sub(r'value="[^"]+"', 'value=""', html)
    html = re.sub(r'"X-CSRFToken": "[^"]+"', '"X-CSRFToken": ""', html)
    return re.sub(r'nonce="[^"]+"', 'nonce=""', html)


def _logged_in(client) -> bool:
    return client.get("/dashboard").status_code == 200


def _post(client, path: str, data: dict):
    """POST with the session's CSRF token (taken from a page every visitor gets)."""
    return client.post(path, data={**data, "csrf_token": csrf_from(_text(client.get("/password/forgot")))})


# -- registration: one answer, two mails ---------------------------------------------------


def test_register_answers_the_same_for_a_new_and_a_taken_address(mail_app, mail_config, mailbox):
    register(mail_app.test_client(), OWNER)
    answers = {}
    for label, address in (("new", "newcomer@example.com"), ("taken", OWNER.upper())):
        client = mail_app.test_client()
        response = post_register(client, address, NEW_PASSWORD)
        page = client.get(response.headers["Location"])
        answers[label] = (
            response.status_code,
            response.headers["Location"],
            _text(response),
            page.status_code,
            _visible(_text(page)),
            _logged_in(client),
        )
    assert answers["new"] == answers["taken"]
    assert answers["new"][:2] == (302, "/register/check-inbox")
    assert "Check your inbox" in answers["new"][4]
    assert answers["new"][5] is False  # nobody is logged in by registering
    assert "already exists" not in answers["taken"][4]

    deliver(mail_config)
    [confirm] = mailbox.to("newcomer@example.com")
    assert confirm.message["Subject"] == "Confirm your email address"
    assert only_link(confirm, "/verify/").startswith(BASE + "/verify/")
    [notice] = [m for m in mailbox.to(OWNER) if m.message["Subject"] != "Confirm your email address"]
    assert "already have an account" in notice.body
    assert not [link for link in notice.links if "/verify/" in link or "/password/reset/" in link]
    # The one who typed the owner's address got nothing, and the owner's password is unchanged.
    assert login(mail_app.test_client(), OWNER, NEW_PASSWORD).status_code == 401
    assert login(mail_app.test_client(), OWNER, STRONG_PASSWORD).status_code == 302


def test_register_takes_about_as_long_for_a_new_and_a_taken_address(mail_app):
    register(mail_app.test_client(), OWNER)
    timings: dict[str, list[float]] = {"new": [], "taken": []}
    for n in range(8):
        for label, address in (("new", f"timing{n}@example.com"), ("taken", OWNER)):
            client = mail_app.test_client()
            token = csrf_from(_text(client.get("/register")))
            started = time.perf_counter()
            client.post(
                "/register",
                data={"email": address, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token},
            )
            timings[label].append(time.perf_counter() - started)
    new, taken = statistics.median(timings["new"]), statistics.median(timings["taken"])
    # Both hash the password, look the address up and write one mail; the new
    # one also writes the account. Far apart would show which address exists.
    assert abs(new - taken) < max(0.03, 0.5 * max(new, taken)), timings


def test_a_second_attempt_on_a_taken_address_within_the_hour_sends_no_second_notice(mail_app, mail_config, mailbox):
    register(mail_app.test_client(), OWNER)
    for _ in range(3):
        assert post_register(mail_app.test_client(), OWNER, NEW_PASSWORD).status_code == 302
    deliver(mail_config)
    assert len(mailbox.to(OWNER)) == 2  # the confirmation of the real account, one notice


# -- confirming the address ------------------------------------------------------------------


def test_the_confirmation_link_works_once(mail_app, mail_config, mailbox):
    client = mail_app.test_client()
    register(client, "new@example.com")
    assert "Please confirm your address" in _text(client.get("/dashboard"))
    deliver(mail_config)
    path = path_of(only_link(mailbox.to("new@example.com")[0], "/verify/"))

    other_browser = mail_app.test_client()
    page = other_browser.get(path)  # opening the link (as a mail scanner would) changes nothing
    assert page.status_code == 200 and "new@example.com" in _text(page)
    assert "Please confirm your address" in _text(client.get("/dashboard"))
    confirmed = _post(other_browser, path, {})
    assert confirmed.status_code == 302 and confirmed.headers["Location"].endswith("/login")
    assert "Please confirm your address" not in _text(client.get("/dashboard"))

    again = _post(other_browser, path, {})
    assert again.status_code == 400
    assert "already used" in _text(again)
    [audit] = query(
        mail_config["DATABASE_URL"], "SELECT count(*) AS n FROM audit_log WHERE action = 'user.email_verified'"
    )
    assert audit["n"] == 1


def test_an_expired_or_altered_confirmation_link_does_not_work(mail_app, mail_config, mailbox):
    client = mail_app.test_client()
    register(client, "late@example.com")
    deliver(mail_config)
    path = path_of(only_link(mailbox.to("late@example.com")[0], "/verify/"))
    assert client.get(path[:-3] + "abc").status_code == 400  # a forged signature
    query(mail_config["DATABASE_URL"], "UPDATE account_tokens SET expires_at = now() - interval '1 second'")
    assert client.get(path).status_code == 400
    assert _post(client, path, {}).status_code == 400
    assert "Please confirm your address" in _text(client.get("/dashboard"))


# -- password reset ---------------------------------------------------------------------------------


def test_reset_answers_the_same_for_a_known_and_an_unknown_address(mail_app, mail_config, mailbox):
    register(mail_app.test_client(), OWNER)
    answers = []
    for address in (OWNER, "nobody@example.com"):
        client = mail_app.test_client()
        response = _post(client, "/password/forgot", {"email": address})
        answers.append(
            (
                response.status_code,
                response.headers["Location"],
                _visible(_text(client.get(response.headers["Location"]))),
            )
        )
    assert answers[0] == answers[1]
    assert "If an account uses that address" in answers[0][2]
    deliver(mail_config)
    assert mailbox.to("nobody@example.com") == []
    reset_mails = [m for m in mailbox.to(OWNER) if m.message["Subject"] == "Reset your password"]
    assert len(reset_mails) == 1
    assert only_link(reset_mails[0], "/password/reset/").startswith(BASE)


def test_the_reset_link_sets_the_password_once_and_logs_out_every_device(mail_app, mail_config, mailbox):
    phone = mail_app.test_client()
    register(phone, OWNER)
    browser = mail_app.test_client()
    _post(browser, "/password/forgot", {"email": OWNER})
    deliver(mail_config)
    [mail] = [m for m in mailbox.to(OWNER) if m.message["Subject"] == "Reset your password"]
    path = path_of(only_link(mail, "/password/reset/"))

    form = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    weak = _post(browser, path, {"password": "short", "confirm": "short"})
    assert weak.status_code == 400 and "at least 12 characters" in _text(weak)
    done = _post(browser, path, form)
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert not _logged_in(phone)  # the other device's session ended
    assert login(mail_app.test_client(), OWNER, STRONG_PASSWORD).status_code == 401
    assert login(mail_app.test_client(), OWNER, NEW_PASSWORD).status_code == 302

    used = browser.get(path)
    assert used.status_code == 400 and "already used" in _text(used)
    rows = query(mail_config["DATABASE_URL"], "SELECT action FROM audit_log WHERE action = 'user.password_reset'")
    assert len(rows) == 1
    stored = query(
        mail_config["DATABASE_URL"], "SELECT token_hash FROM account_tokens WHERE purpose = 'reset_password'"
    )
    assert stored and all(row["token_hash"] not in mail.body for row in stored)  # kept hashed


def test_a_reset_link_expires(mail_app, mail_config, mailbox):
    register(mail_app.test_client(), OWNER)
    client = mail_app.test_client()
    _post(client, "/password/forgot", {"email": OWNER})
    deliver(mail_config)
    [mail] = [m for m in mailbox.to(OWNER) if m.message["Subject"] == "Reset your password"]
    query(mail_config["DATABASE_URL"], "UPDATE account_tokens SET expires_at = now() - interval '1 second'")
    assert client.get(path_of(only_link(mail, "/password/reset/"))).status_code == 400
    assert login(mail_app.test_client(), OWNER, STRONG_PASSWORD).status_code == 302


# -- invitations -------------------------------------------------------------------------------------


def _invite(owner, channel_id: int, address: str, role: str = "editor"):
    return post_form(
        owner,
        f"/channels/{channel_id}/members",
        {"email": address, "role": role},
        csrf_page=f"/channels/{channel_id}/members",
    )


def test_invite_answers_the_same_with_or_without_an_account(mail_app, mail_config, mailbox):
    owner = mail_app.test_client()
    register(owner, OWNER)
    channel_id = import_demo(owner)
    register(mail_app.test_client(), "member@example.com")
    answers = []
    for address in ("member@example.com", "stranger@example.com"):
        response = _invite(owner, channel_id, address)
        page = _text(owner.get(response.headers["Location"]))
        answers.append(
            (
                response.status_code,
                response.headers["Location"],
                re.sub(r"(member|stranger)@example\.com", "X", _visible(page)),
            )
        )
    assert answers[0][:2] == answers[1][:2] == (302, f"/channels/{channel_id}/members")
    assert "No account uses that email" not in answers[0][2] + answers[1][2]
    deliver(mail_config)
    for address in ("member@example.com", "stranger@example.com"):
        [mail] = [m for m in mailbox.to(address) if "invited" in m.message["Subject"]]
        assert only_link(mail, "/invitations/").startswith(BASE)
        assert OWNER in mail.body
    rows = query(
        mail_config["DATABASE_URL"], "SELECT count(*) AS n FROM channel_members WHERE channel_id = %s", (channel_id,)
    )
    assert rows[0]["n"] == 1  # nobody joined by being invited


def test_only_a_confirmed_account_of_the_invited_address_joins_and_only_once(mail_app, mail_config, mailbox):
    owner = mail_app.test_client()
    register(owner, OWNER)
    channel_id = import_demo(owner)
    invitee, intruder = mail_app.test_client(), mail_app.test_client()
    register(invitee, "invitee@example.com")
    register(intruder, "intruder@example.com")
    _invite(owner, channel_id, "invitee@example.com", role="viewer")
    deliver(mail_config)
    [invitation] = [m for m in mailbox.to("invitee@example.com") if "invited" in m.message["Subject"]]
    path = path_of(only_link(invitation, "/invitations/"))

    logged_out = mail_app.test_client().get(path)
    assert logged_out.status_code == 302 and "/login" in logged_out.headers["Location"]
    assert _post(intruder, path, {}).status_code == 403  # another account, even a confirmed one
    refused = _post(invitee, path, {})  # the right account, address not confirmed yet
    assert refused.status_code == 403 and "Confirm your address first" in _text(refused)
    assert invitee.get(f"/channels/{channel_id}").status_code == 404

    [confirm] = [m for m in mailbox.to("invitee@example.com") if "/verify/" in m.body]
    _post(invitee, path_of(only_link(confirm, "/verify/")), {})
    joined = _post(invitee, path, {})
    assert joined.status_code == 302 and joined.headers["Location"].endswith(f"/channels/{channel_id}")
    assert invitee.get(f"/channels/{channel_id}").status_code == 200
    [member] = query(
        mail_config["DATABASE_URL"],
        "SELECT role FROM channel_members WHERE channel_id = %s AND user_id = %s",
        (channel_id, user_id(mail_config["DATABASE_URL"], "invitee@example.com")),
    )
    assert member["role"] == "viewer"
    assert _post(invitee, path, {}).status_code == 400  # used
    audit = query(
        mail_config["DATABASE_URL"], "SELECT action FROM audit_log WHERE action LIKE 'channel.member_%%' ORDER BY id"
    )
    assert [r["action"] for r in audit] == ["channel.member_invited", "channel.member_added"]


def test_an_invitation_expires(mail_app, mail_config, mailbox):
    owner = mail_app.test_client()
    register(owner, OWNER)
    channel_id = import_demo(owner)
    _invite(owner, channel_id, "late@example.com")
    deliver(mail_config)
    [mail] = mailbox.to("late@example.com")
    query(mail_config["DATABASE_URL"], "UPDATE channel_invitations SET expires_at = now() - interval '1 second'")
    late = mail_app.test_client()
    register(late, "late@example.com")
    assert late.get(path_of(only_link(mail, "/invitations/"))).status_code == 400


# -- development: no MAIL_URL ----------------------------------------------------------------------------


def test_without_mail_url_mail_is_written_to_instance_mail_and_logged_without_secrets(app, app_config, tmp_path):
    config = {**app_config, "INSTANCE_DIR": str(tmp_path), "LOG_LEVEL": "info"}
    from webapp import create_app

    web = create_app(config)
    post_register(web.test_client(), "dev@example.com")
    result = run_worker_process_burst(config)  # what the worker process logs
    assert result.returncode == 0, result.stderr[-3000:]
    [eml] = list(Path(tmp_path, "mail").glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "dev@example.com"
    [link] = re.findall(r"http://localhost/verify/\S+", message.get_content())
    log = result.stdout + result.stderr
    assert f"mail to <redacted> written to instance/mail/{eml.name}" in log
    assert "dev@example.com" not in log and link.rsplit("/", 1)[1] not in log
    # The link in the file works.
    client = web.test_client()
    page = client.get(path_of(link))
    assert page.status_code == 200 and "dev@example.com" in _text(page)
    [row] = query(config["DATABASE_URL"], "SELECT body, sent_at FROM mail_outbox")
    assert row["body"] is None and row["sent_at"] is not None  # the link is not kept once sent
