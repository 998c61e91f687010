"""`make run` as a user meets it: the whole stack on embedded PostgreSQL and
Redis, started with the Makefile's own command line, stopped with Ctrl-C.

The test runs the command `make run` runs (not `make` itself, which would
also install packages), with DATABASE_URL and REDIS_URL removed so that the
embedded servers start under a temporary INSTANCE_DIR. It checks that the
login page answers, that an RQ worker is registered, that an account made
before a restart can log in after it, and that Ctrl-C leaves no process
behind: not gunicorn, not the RQ worker or its scheduler, not redis-server,
and not PostgreSQL (which pg_ctl detaches, so it is found by its pid file).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest
import redis
import requests
from rq import Worker

from tests.helpers import STRONG_PASSWORD, csrf_from

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
# The Makefile's `run` recipe, word for word.
RUN_COMMAND = "flask --app wsgi db upgrade && exec python -m reliability.supervisor web worker cron"
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30
# Set by the test session (tests/conftest.py) or by the caller's shell; each
# would point the stack away from its embedded servers or its instance dir.
_INHERITED_OUT = (
    "DATABASE_URL",
    "REDIS_URL",
    "TEST_DATABASE_URL",
    "TEST_REDIS_URL",
    "SECRET_KEY",
    "INSTANCE_DIR",
    "PROMETHEUS_MULTIPROC_DIR",
    "GUNICORN_BIND",
    "HOST",
    "PORT",
    "FLASK_DEBUG",
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stack_env(instance_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED_OUT}
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        PORT=str(port),
        INSTANCE_DIR=str(instance_dir),
        ENVIRONMENT="development",
        LOG_LEVEL="info",
        BCRYPT_ROUNDS="4",  # the policy under test is start and stop, not hashing cost
        ASSETS_FROM_CDN="false",
        PYTHONUNBUFFERED="1",
    )
    return env


class Stack:
    """One `make run` stack: start it, watch its processes, Ctrl-C it."""

    def __init__(self, instance_dir: Path, log_path: Path):
        self.instance_dir = instance_dir
        self.log_path = log_path
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.top: subprocess.Popen | None = None
        # pid -> (process, its command line, read while it ran)
        self.seen: dict[int, tuple[psutil.Process, str]] = {}
        self._watching = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- start and watch -------------------------------------------------

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.top = subprocess.Popen(
                [str(VENV_BIN / "python"), "-m", "reliability.embedded", "--", "sh", "-c", RUN_COMMAND],
                cwd=ROOT,
                env=_stack_env(self.instance_dir, self.port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group, as a terminal gives it
            )
        self._remember(psutil.Process(self.top.pid))
        self._watching.set()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while self._watching.is_set():
            self.collect()
            time.sleep(0.2)

    def collect(self) -> None:
        """Remember every process the stack has started so far, including
        the postmaster that pg_ctl detached from the tree."""
        try:
            found = psutil.Process(self.top.pid).children(recursive=True)
        except psutil.Error:
            found = []
        found += self._postgres_processes()
        for proc in found:
            self._remember(proc)

    def _remember(self, proc: psutil.Process) -> None:
        if proc.pid not in self.seen:
            self.seen[proc.pid] = (proc, " ".join(_cmdline(proc)))

    def _postgres_processes(self) -> list[psutil.Process]:
        pid_file = self.instance_dir / "postgres" / "postmaster.pid"
        try:
            postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
            return [postmaster, *postmaster.children(recursive=True)]
        except (OSError, ValueError, IndexError, psutil.Error):
            return []

    def wait_for_login_page(self, timeout_s: float = START_TIMEOUT_S) -> requests.Response:
        deadline = time.monotonic() + timeout_s
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self.top.poll() is not None:
                pytest.fail(f"the stack exited with status {self.top.returncode}\n{self.log_tail()}")
            try:
                response = requests.get(f"{self.base_url}/login", timeout=5)
                if response.status_code == 200:
                    return response
                last_error = f"status {response.status_code}"
            except requests.RequestException as exc:
                last_error = type(exc).__name__
            time.sleep(0.5)
        pytest.fail(f"GET /login did not answer 200 within {timeout_s} s ({last_error})\n{self.log_tail()}")

    def redis(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.instance_dir / "redis" / "redis.sock"), socket_timeout=5)

    def wait_for_worker(self, timeout_s: float = 60) -> list[Worker]:
        client = self.redis()
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                workers = Worker.all(connection=client)
                if workers:
                    return workers
                time.sleep(0.5)
        finally:
            client.close()
        pytest.fail(f"no RQ worker registered in the embedded Redis within {timeout_s} s\n{self.log_tail()}")

    # -- stop ------------------------------------------------------------

    def ctrl_c(self, timeout_s: float = STOP_TIMEOUT_S) -> list[str]:
        """SIGINT to the whole group, as a terminal's Ctrl-C; returns the
        processes still alive ``timeout_s`` later."""
        self.collect()
        self._watching.clear()
        self._watcher.join()
        self.collect()
        os.killpg(self.top.pid, signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._alive():
            time.sleep(0.2)
        return [f"{p.pid} {self.seen[p.pid][1]}" for p in self._alive()]

    def crash(self) -> list[psutil.Process]:
        """kill -9 the supervisor and the app, as a crash would; returns the
        database servers that this leaves running."""
        self.collect()
        self._watching.clear()
        self._watcher.join()
        self.top.kill()
        self.top.wait(10)
        servers = [p for p, cmdline in self.seen.values() if "postgres" in cmdline or "redis-server" in cmdline]
        for proc in self._alive():
            if proc not in servers:
                proc.kill()
        return servers

    def _alive(self) -> list[psutil.Process]:
        alive = []
        for proc, _ in self.seen.values():
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
            except psutil.NoSuchProcess:
                continue
        return alive

    def kill_leftovers(self) -> None:
        """Teardown only: never leave this test's processes running. A test
        that failed half-way gets a Ctrl-C first, then SIGKILL."""
        self._watching.clear()
        if self.top is None:
            return
        if self.top.poll() is None:
            os.killpg(self.top.pid, signal.SIGINT)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while time.monotonic() < deadline and self._alive():
                time.sleep(0.2)
        for proc in self._alive():
            try:
                proc.kill()
            except psutil.Error:
                pass
        try:
            self.top.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return ["?"]


@pytest.fixture
def instance_dir():
    # Short on purpose: the Redis socket lives inside it and a Unix socket
    # path must fit in 108 bytes.
    path = Path(tempfile.mkdtemp(prefix="yco-run-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def stacks(instance_dir):
    started: list[Stack] = []

    def make() -> Stack:
        stack = Stack(instance_dir, instance_dir.parent / f"{instance_dir.name}-stack{len(started) + 1}.log")
        started.append(stack)
        return stack

    yield make
    for stack in started:
        stack.kill_leftovers()
        if os.environ.get("YCO_KEEP_STACK_LOG") is None:
            stack.log_path.unlink(missing_ok=True)


def _register(base_url: str, email: str) -> requests.Response:
    with requests.Session() as http:
        token = csrf_from(http.get(f"{base_url}/register", timeout=10).text)
        return http.post(
            f"{base_url}/register",
            data={"email": email, "password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=30,
        )


def _log_in(http: requests.Session, base_url: str, email: str) -> requests.Response:
    token = csrf_from(http.get(f"{base_url}/login", timeout=10).text)
    return http.post(
        f"{base_url}/login",
        data={"email": email, "password": STRONG_PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )


def _assert_all_stopped(stack: Stack) -> None:
    stack.collect()
    names = " ".join(cmdline for _, cmdline in stack.seen.values())
    # The check below means something only if these were watched at all.
    for expected in ("gunicorn", "jobs.worker", "jobs.cron", "redis-server", "postgres -D"):
        assert expected in names, f"{expected} was never seen running"
    survivors = stack.ctrl_c()
    assert not survivors, (
        f"still running {STOP_TIMEOUT_S} s after Ctrl-C:\n" + "\n".join(survivors) + "\n" + stack.log_tail()
    )
    stack.top.wait(5)  # reap it: a zombie until then
    # Stopped in order: nothing lost its database or Redis while stopping.
    assert "Traceback" not in stack.log_path.read_text(errors="replace"), stack.log_tail()


def test_make_run_serves_keeps_data_and_stops_on_ctrl_c(stacks):
    email = "restart@example.com"

    first = stacks()
    first.start()
    assert "csrf_token" in first.wait_for_login_page().text
    workers = first.wait_for_worker()
    assert {q.name for q in workers[0].queues} >= {"high", "default", "low"}
    registered = _register(first.base_url, email)
    assert registered.status_code == 302, first.log_tail()
    assert registered.headers["Location"].endswith("/register/check-inbox")  # logged in below, after the restart
    _assert_all_stopped(first)

    second = stacks()
    second.start()
    second.wait_for_login_page()
    # The first run's worker said goodbye: no ghost is left in the registry.
    assert len(second.wait_for_worker()) == 1
    with requests.Session() as http:
        response = _log_in(http, second.base_url, email)
        assert response.status_code == 302, f"log in after a restart failed: {response.status_code}"
        dashboard = http.get(f"{second.base_url}/dashboard", timeout=10)
        assert dashboard.status_code == 200
        assert email in dashboard.text
    _assert_all_stopped(second)


def test_make_run_after_a_crash_takes_over_and_stops_the_old_servers(stacks):
    crashed = stacks()
    crashed.start()
    crashed.wait_for_login_page()
    crashed.wait_for_worker()
    leftovers = crashed.crash()
    assert {"postgres", "redis-server"} <= {_short_name(p) for p in leftovers}

    restarted = stacks()
    restarted.start()
    restarted.wait_for_login_page()
    restarted.wait_for_worker()
    _assert_all_stopped(restarted)
    still_running = [p.pid for p in leftovers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not still_running, "servers left by the crashed run are still running after the next run's Ctrl-C"


def _short_name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return "?"
