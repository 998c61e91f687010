"""Browser tests: the real app in gunicorn, a real RQ worker, Chromium driven
by Playwright, and the outside APIs as local HTTP fakes.

Package scope (started once for tests/browser, stopped when its last test
is done): the Google, Anthropic and SerpAPI fakes, the web server
(``gunicorn -c gunicorn.conf.py wsgi:app`` on a free port, the Procfile's
``web``), the worker (``python -m jobs.worker``, the Procfile's ``worker``)
and Chromium. Both processes get their configuration from the environment
only, exactly as in production, pointed at the test database, the test Redis
and the fakes. Package, not session, scope: a worker left running would take
the jobs that later tests (tests/integration) queue for workers of their own.

Function scope (every test): empty tables and an empty Redis database
(``clean_state``), the fakes' steering reset, and a fresh browser context and
page whose console errors, uncaught page errors and dialogs are recorded
(``watch``).

    def test_something(page, live, watch, shot):
        register(page)
        ...
        shot(page, "dashboard")          # docs/screenshots/dashboard.png under `make screenshots`
        watch.assert_clean()             # no console error, no page error, no dialog
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.browser.chromium import NoBrowser, find_chromium, skip_requested
from tests.browser.helpers import CHROMIUM_ARGS, LiveServer, PageWatch, serve_youtube_images, take_screenshot
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.google import FakeGoogle
from tests.fakes.serpapi import FakeSerpApi
from tests.integration.youtube_helpers import ROOT, TOKEN_KEY, worker_env

PRIMARY_MODEL, FALLBACK_MODEL = "claude-sonnet-4-6", "claude-haiku-4-5"
DEFAULT_TIMEOUT_MS = 10_000
VIEWPORT = {"width": 1280, "height": 860}


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Every test in this directory is a ``browser`` test. SKIP_BROWSER_TESTS=1
    skips them on purpose; otherwise a run without Chromium stops before any
    server starts, with one line saying how to get one (tests/browser/chromium.py;
    ``make test`` installs one first where it can). A silent skip would let a
    machine without a browser report success."""
    ours = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    for item in ours:
        item.add_marker(pytest.mark.browser)
        # Under pytest-xdist (--dist loadgroup) all in one worker: one gunicorn, one Chromium.
        item.add_marker(pytest.mark.xdist_group("browser"))
    if not ours:
        return
    if skip_requested():
        for item in ours:
            item.add_marker(pytest.mark.skip(reason="SKIP_BROWSER_TESTS=1"))
        return
    try:
        find_chromium()
    except NoBrowser as missing:
        raise pytest.UsageError(str(missing)) from None


# -- outside APIs ---------------------------------------------------------------


@pytest.fixture(scope="package")
def fake_google() -> Iterator[FakeGoogle]:
    """Google OAuth and YouTube. Tests add their own accounts and channels to
    ``fake_google.world`` (use a unique owner per test) and call
    ``fake_google.oauth.consent(owner)`` before pressing Connect."""
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture(scope="package")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    """Claude. Steer it with ``respond_with`` / ``script`` / ``inject``; it is
    reset after every test."""
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture(scope="package")
def fake_serpapi() -> Iterator[FakeSerpApi]:
    with FakeSerpApi() as fake:
        yield fake


# -- the app's processes -----------------------------------------------------------


@pytest.fixture(scope="package")
def live_config(migrated, fake_google, fake_anthropic, fake_serpapi) -> dict:
    """The settings both processes get through their environment."""
    database_url, redis_url = migrated
    return {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "BCRYPT_ROUNDS": 4,
        "ASSETS_FROM_CDN": False,
        "LOG_LEVEL": "warning",
        **fake_google.settings(),
        "TOKEN_ENCRYPTION_KEY": [TOKEN_KEY],
        **fake_anthropic.settings(),
        "ANTHROPIC_MODEL": PRIMARY_MODEL,
        "ANTHROPIC_FALLBACK_MODELS": [FALLBACK_MODEL],
        "ANTHROPIC_TIMEOUT_S": 20,
        **fake_serpapi.settings(),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _stop(*procs: subprocess.Popen, timeout: float = 25) -> None:
    """SIGTERM the processes (all at once: gunicorn and RQ both shut down
    gracefully, in parallel), SIGKILL whatever of them or their children is
    left after ``timeout``."""
    children: list[psutil.Process] = []
    for proc in procs:
        if proc.poll() is None:
            try:
                children += psutil.Process(proc.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                pass
            proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


def _start_gunicorn(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, str]:
    """gunicorn on a free port, answering /health. The port is chosen here
    and could be taken between the check and the bind: then gunicorn exits and
    another port is tried."""
    for _attempt in range(3):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server_env = {
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "8",
            "GUNICORN_MAX_REQUESTS": "0",
        }
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env=server_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if requests.get(url + "/health", timeout=2).status_code == 200:
                    return proc, url
            except requests.RequestException:
                pass
            time.sleep(0.1)
        _stop(proc, timeout=5)
    raise RuntimeError("the web server did not start:\n" + _tail(log_path))


def _start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "jobs.worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture(scope="package")
def live_server(live_config, tmp_path_factory) -> Iterator[LiveServer]:
    """The web server and one worker, both real processes; ``live_server.url``
    is the base URL. Their logs are in ``server_log`` / ``worker_log`` and are
    shown when a helper times out."""
    logs = tmp_path_factory.mktemp("live-logs")
    env = worker_env(live_config)
    worker = _start_worker(env, logs / "worker.log")
    try:
        server, url = _start_gunicorn(env, logs / "server.log")
    except BaseException:
        _stop(worker, timeout=10)
        raise
    live = LiveServer(
        url=url,
        config=live_config,
        server=server,
        worker=worker,
        server_log=logs / "server.log",
        worker_log=logs / "worker.log",
    )
    try:
        yield live
    finally:
        _stop(server, worker)


@pytest.fixture(scope="module")
def cdn_server_url(live_server, tmp_path_factory) -> Iterator[str]:
    """A second web server like ``live_server`` (same database, Redis and
    worker) but with ASSETS_FROM_CDN on, as deployed; its base URL."""
    logs = tmp_path_factory.mktemp("cdn-live-logs")
    server, url = _start_gunicorn(worker_env({**live_server.config, "ASSETS_FROM_CDN": True}), logs / "server.log")
    try:
        yield url
    finally:
        _stop(server)


def _let_jobs_finish(live_server: LiveServer, timeout_s: float = 15) -> None:
    """Let the worker finish what this test queued before the next test empties
    the tables under it (a job still writing then deadlocks with the cleanup,
    or writes into the next test's data). Not an assertion: a test that leaves
    a job stuck on purpose still ends."""
    deadline = time.monotonic() + timeout_s
    while live_server.pending_jobs() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture
def live(live_server, clean_state, fake_anthropic, fake_serpapi) -> Iterator[LiveServer]:
    """The live server for one test: empty tables and Redis before it, both
    processes checked alive, the fakes back to their defaults after it."""
    live_server.check_alive()
    yield live_server
    _let_jobs_finish(live_server)
    fake_anthropic.respond_with(None)
    fake_anthropic.reset_counters()
    fake_anthropic.latency_s = 0.0
    fake_serpapi.latency_s = 0.0


# -- the browser ------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser(live_server):
    """Chromium, as tests/browser/chromium.py finds it.
    Depends on the server only so that it closes first."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def watch() -> PageWatch:
    """Console errors, page errors and dialogs of every page of the test's context."""
    return PageWatch()


@pytest.fixture
def context(browser, live, watch):
    ctx = browser.new_context(base_url=live.url, viewport=VIEWPORT)
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    ctx.on("page", watch.attach)
    serve_youtube_images(ctx)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def logged_in_page(page):
    """A page logged in as a newly registered creator (``page.email`` holds the address)."""
    from tests.browser.helpers import register

    page.email = register(page)
    return page


# -- screenshots ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    """SCREENSHOT_DIR (``make screenshots`` sets docs/screenshots), else a temporary directory."""
    chosen = os.environ.get("SCREENSHOT_DIR")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shot(screenshot_dir, watch):
    """``shot(page, "video")`` saves a full-page PNG as <dir>/video.png and returns its path."""

    def take(page, name: str, *, full_page: bool = True) -> Path:
        return take_screenshot(page, screenshot_dir / f"{name}.png", watch, full_page=full_page)

    return take
