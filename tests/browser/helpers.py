"""What a user does in the browser, as reusable steps, and what the browser
tests watch: console and page errors, dialogs, the worker's queues.

Steps locate elements by role, label and text (what a user sees), so markup
changes that keep the page's meaning do not break them.

    email = register(page)                         # /register, lands on the dashboard
    channel_id = demo_channel(page)                # "Try a demo channel", lands on its page
    title = open_video(page)                       # the first video of the table
    reload_until(page, lambda: expect(page.get_by_role("heading", level=1)).to_have_text(old))
    live.wait_for_jobs()                           # the worker's queues are empty
"""

from __future__ import annotations

import json
import re
import struct
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import redis
from playwright.sync_api import ConsoleMessage, Dialog, Error, Page, expect
from rq import Queue
from rq.registry import StartedJobRegistry

from jobs.runtime import QUEUES
from tests.helpers import STRONG_PASSWORD

__all__ = [
    "CHROMIUM_ARGS",
    "CSRF_HEADER",
    "STRONG_PASSWORD",
    "LiveServer",
    "PageWatch",
    "connect_youtube_channel",
    "csrf_token",
    "demo_channel",
    "login",
    "open_video",
    "placeholder_png",
    "register",
    "reload_until",
    "serve_youtube_images",
    "take_screenshot",
    "unique_email",
    "video_links",
    "video_table",
    "wait_until",
]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CSRF_HEADER = "X-CSRFToken"  # templates/base.html: hx-headers on <body>


# -- the processes -------------------------------------------------------------------


@dataclass
class LiveServer:
    """The running app: ``url`` (no trailing slash), the ``config`` both
    processes run with, the gunicorn and worker processes and their logs."""

    url: str
    config: dict
    server: Popen
    worker: Popen
    server_log: Path
    worker_log: Path

    def logs(self, chars: int = 3000) -> str:
        parts = []
        for name, path in (("server", self.server_log), ("worker", self.worker_log)):
            try:
                text = path.read_text(errors="replace")[-chars:]
            except OSError:
                text = ""
            parts.append(f"--- {name} log ({path}) ---\n{text}")
        return "\n".join(parts)

    def check_alive(self) -> None:
        for name, proc in (("web server", self.server), ("worker", self.worker)):
            if proc.poll() is not None:
                raise AssertionError(f"the {name} exited with {proc.returncode}\n{self.logs()}")

    def pending_jobs(self) -> int:
        """Jobs queued or running on any of the worker's queues."""
        connection = redis.Redis.from_url(self.config["REDIS_URL"])
        try:
            return sum(
                Queue(name, connection=connection).count + StartedJobRegistry(name, connection=connection).count
                for name in QUEUES
            )
        finally:
            connection.close()

    def wait_for_jobs(self, timeout: float = 30) -> None:
        """Until the worker has nothing queued or running (``wait_for_worker``)."""
        wait_until(lambda: self.pending_jobs() == 0, timeout, "the worker to finish its jobs", on_timeout=self.logs)
        self.check_alive()

    wait_for_worker = wait_for_jobs


def wait_until(
    condition: Callable[[], object],
    timeout: float,
    what: str,
    *,
    interval: float = 0.1,
    on_timeout: Callable[[], str] | None = None,
    page: Page | None = None,
):
    """Poll ``condition()`` until it returns something truthy; returns it.
    Give ``page`` when the condition reads what the page reports (its URL,
    a PageWatch): Playwright delivers a page's events only while it is
    called, so the wait is then ``page.wait_for_timeout`` instead of a sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = "\n" + on_timeout() if on_timeout else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        if page is not None:
            page.wait_for_timeout(interval * 1000)
        else:
            time.sleep(interval)


# -- the internet ---------------------------------------------------------------------------

# Thumbnails and avatars are URLs on YouTube's image hosts (the fake hands out
# real-looking ones, and the CSP allows exactly these hosts). The tests have
# no internet, so the browser gets a grey 16:9 placeholder for them instead
# of a DNS failure in the console.
YOUTUBE_IMAGES = re.compile(r"^https://(i\.ytimg\.com|yt3\.ggpht\.com)/")


def placeholder_png(width: int = 320, height: int = 180, rgb: tuple[int, int, int] = (205, 210, 218)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def serve_youtube_images(context) -> None:
    """Answer requests for YouTube's image hosts with ``placeholder_png()``."""
    image = placeholder_png()
    context.route(YOUTUBE_IMAGES, lambda route: route.fulfill(status=200, content_type="image/png", body=image))


# -- what the browser reports ------------------------------------------------------------


# Playwright's screenshot hides the caret with an injected <style>, which the
# CSP (no 'unsafe-inline') refuses. take_screenshot() asks for caret="initial"
# so nothing is injected; should Chromium still report it, it is not the app's.
_SCREENSHOT_NOISE = re.compile(r"Refused to apply inline style")


@dataclass
class PageWatch:
    """Everything a page reported that a user would never want: console
    errors (CSP violations, failed loads, exceptions), uncaught page errors,
    and dialogs (alert/confirm/prompt, dismissed at once)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    screenshots_taken: int = 0

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if self.screenshots_taken and _SCREENSHOT_NOISE.search(message.text):
            return
        self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def _page_error(self, error: Error) -> None:
        self.page_errors.append(f"{error.name}: {error.message}")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def assert_clean(self) -> None:
        """No console error, no page error, no dialog so far."""
        assert not self.dialogs, f"a dialog opened: {self.dialogs}"
        assert not self.page_errors, f"uncaught errors in the page: {self.page_errors}"
        assert not self.console_errors, f"console errors: {self.console_errors}"


def take_screenshot(page: Page, path: Path, watch: PageWatch | None = None, *, full_page: bool = True) -> Path:
    """A PNG at ``path``: the whole page, or only what the window shows."""
    if watch is not None:
        watch.screenshots_taken += 1
    page.screenshot(path=str(path), full_page=full_page, caret="initial", animations="allow")
    return path


# -- steps -----------------------------------------------------------------------------------


def unique_email(prefix: str = "creator") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def register(page: Page, email: str | None = None, password: str = STRONG_PASSWORD) -> str:
    """Create an account on /register, then log in as the "Check your inbox"
    page says (registering logs nobody in: it answers the same for a taken
    address). The browser ends on the dashboard. Returns the email used."""
    email = email or unique_email()
    page.goto("/register")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("main").get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox", level=1)).to_be_visible()
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    return email


def login(page: Page, email: str, password: str = STRONG_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()


def _channel_id(page: Page) -> int:
    return int(re.search(r"/channels/(\d+)", page.url).group(1))


def demo_channel(page: Page) -> int:
    """Press "Try a demo channel" on the channels page; the browser ends on
    the demo channel's page. Returns the channel's id (from its URL)."""
    page.goto("/channels")
    page.get_by_role("button", name="Try a demo channel").click()
    page.wait_for_url(re.compile(r"/channels/\d+(\?.*)?$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("demo")
    return _channel_id(page)


def connect_youtube_channel(page: Page, fake_google, owner: str) -> int:
    """Connect the Google account ``owner``'s first channel through the real
    OAuth flow (state, PKCE, code exchange); the browser ends on the channel's
    page. Returns the channel's id.

    The "Connect a YouTube channel" form cannot be used for this yet: its POST
    answers with a redirect to Google, which the app's own CSP (form-action
    'self') makes Chromium block (see test_connect_button_reaches_google). So
    this sends that POST as the form would, with the page's CSRF token, and
    the browser then follows the redirect to the fake Google, which consents
    at once and sends it back to the app's callback."""
    fake_google.oauth.consent(owner)
    page.goto("/channels")
    start = page.request.post("/channels/connect", form={"csrf_token": csrf_token(page)}, max_redirects=0)
    assert start.status in (302, 303), start.text()
    page.goto(start.headers["location"])
    page.wait_for_url(re.compile(r"/channels/\d+(\?.*)?$"))
    return _channel_id(page)


def video_table(page: Page):
    """The channel page's table of videos (the table with a Title column)."""
    return page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Title"))


def video_links(page: Page):
    """The title links of the channel page's video table."""
    return video_table(page).get_by_role("link")


def open_video(page: Page, title: str | None = None) -> str:
    """Click a video (by its exact title, else the first) in the channel
    page's table; the browser ends on the video page. Returns the title."""
    links = video_links(page)
    link = video_table(page).get_by_role("link", name=title, exact=True) if title else links.first
    title = link.inner_text().strip()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    return title


def reload_until(page: Page, check: Callable[[], None], timeout: float = 30, what: str = "the page to change") -> None:
    """Reload until ``check()`` (an ``expect`` with a short timeout of its
    own) passes: for pages that do not refresh themselves, or not always.
    A reload that the page's own navigation (htmx's HX-Refresh, a redirect)
    overtakes is not an error: the check then runs on that page."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        try:
            page.reload()
        except Error as exc:
            if not any(m in exc.message for m in ("ERR_ABORTED", "detached", "Not attached to an active page")):
                raise
            page.wait_for_load_state()


def csrf_token(page: Page) -> str:
    """The CSRF token htmx sends with every request (<body hx-headers>)."""
    return json.loads(page.locator("body").get_attribute("hx-headers"))[CSRF_HEADER]
