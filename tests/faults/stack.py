"""The fault suite's stack: its own PostgreSQL and Redis (the embedded ones,
in a temporary directory, so killing them never touches the machine's
servers that the rest of the suite shares), the app's processes under the
real supervisor (``python -m reliability.supervisor``), and the means to
break them: kill, stop and restart a server; SIGKILL a worker with its
work horse; Ctrl-C the supervisor.

Outcomes are read from the database over connections of the test's own,
which tolerate the database being away (``wait_for_db``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import psycopg2
import psycopg2.extras
import redis
import requests

from reliability.config import database_url_for
from reliability.embedded import start_postgres, start_redis
from tests.conftest import empty_database
from tests.integration.optimize_helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DATABASE = "yco_faults"
SECRET_KEY = "fault-suite-secret-key-that-is-long-enough-0123456789"
# Inherited from the test session or the caller's shell; each would point a
# process of the stack at the shared servers or somewhere else.
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
    "ENVIRONMENT",
)
# Short heartbeats so that a killed worker's job is found in seconds, not
# in the production 40 + 30 s; the mechanism is the same.
FAST_WORKER = {"WORKER_HEARTBEAT_S": "2"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the servers --------------------------------------------------------------


class Services:
    """PostgreSQL and Redis of the fault suite, under ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self.admin_url = self.database_url = self.redis_url = ""
        self._stop_postgres = self._stop_redis = None

    def start(self) -> Services:
        self.admin_url, self._stop_postgres = start_postgres(self.root / "pg", database="postgres", delete_on_stop=True)
        self.database_url = database_url_for(self.admin_url, DATABASE)
        self.start_redis()
        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
            cur.execute(f'CREATE DATABASE "{DATABASE}"')
        conn.close()
        run_flask(self.env(), "db", "upgrade")
        return self

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process of the app on these servers."""
        env = {k: v for k, v in os.environ.items() if k not in _INHERITED_OUT}
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
            ENVIRONMENT="development",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            SECRET_KEY=SECRET_KEY,
            INSTANCE_DIR=str(self.root / "instance"),
            BCRYPT_ROUNDS="4",
            ASSETS_FROM_CDN="false",
            LOG_LEVEL="info",
            PYTHONUNBUFFERED="1",
            **FAST_WORKER,
        )
        env.update(extra)
        return env

    # Redis

    def start_redis(self) -> None:
        url, self._stop_redis = start_redis(self.root / "redis")
        assert not self.redis_url or url == self.redis_url, "Redis came back on another socket"
        self.redis_url = url

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, socket_timeout=5)

    def redis_pid(self) -> int:
        client = self.redis()
        try:
            return int(client.info("server")["process_id"])
        finally:
            client.close()

    def kill_redis(self) -> None:
        """kill -9 redis-server, as a crash or an OOM kill would."""
        pid = self.redis_pid()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not _running(pid), 10, "redis-server to die")

    # PostgreSQL

    def postmaster_pid(self) -> int:
        return int((self.root / "pg" / "postmaster.pid").read_text().split()[0])

    def kill_postgres(self) -> None:
        """kill -9 the postmaster and its backends (a crash of the server)."""
        postmaster = psutil.Process(self.postmaster_pid())
        victims = [postmaster, *postmaster.children(recursive=True)]
        for proc in victims:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass  # a backend that ended between the listing and the kill (seen once in CI)
        psutil.wait_procs(victims, timeout=10)

    def stop_postgres(self) -> None:
        """A clean stop (pg_ctl stop -m fast), as an operator's restart does."""
        from pgserver._commands import pg_ctl

        pg_ctl(["-m", "fast", "-w", "stop"], pgdata=self.root / "pg")

    def start_postgres(self) -> None:
        """Start the stopped or killed server again on the same data directory
        (pgserver keeps one handle per directory, so ask that handle)."""
        import pgserver

        server = pgserver.get_server(self.root / "pg", cleanup_mode="delete")
        server.ensure_postgres_running()
        assert server.get_uri("postgres") == self.admin_url, "PostgreSQL came back at another URL"

    def reset_data(self) -> None:
        """Empty every table and Redis, between cases that share the stack."""
        empty_database(self.database_url)
        client = self.redis()
        client.flushall()
        client.close()

    def stop(self) -> None:
        for stop in (self._stop_redis, self._stop_postgres):
            if stop is not None:
                try:
                    stop()
                except Exception as exc:  # the other server must still stop
                    print(f"stopping a fault-suite server failed: {exc}", file=sys.stderr)


def run_flask(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# -- the app's processes ----------------------------------------------------------


class AppStack:
    """web, worker and cron under ``python -m reliability.supervisor``."""

    def __init__(self, services: Services, log_path: Path, **env: str):
        self.services = services
        self.log_path = log_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = services.env(PORT=str(self.port), WEB_CONCURRENCY="2", **env)
        self.top: subprocess.Popen | None = None

    def start(self, *names: str) -> AppStack:
        with open(self.log_path, "ab") as log:
            self.top = subprocess.Popen(
                [str(VENV_BIN / "python"), "-m", "reliability.supervisor", *(names or ("web", "worker", "cron"))],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_until_serving(self, timeout: float = 90) -> None:
        def answers() -> bool:
            assert self.top.poll() is None, f"the supervisor exited\n{self.log_tail()}"
            try:
                return requests.get(f"{self.base_url}/login", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(answers, timeout, f"GET /login on {self.base_url}\n{self.log_tail()}", interval=0.5)

    def processes(self, module: str) -> list[psutil.Process]:
        """The supervisor's direct children running ``module`` (e.g. jobs.worker)."""
        try:
            children = psutil.Process(self.top.pid).children()
        except psutil.NoSuchProcess:
            return []
        return [p for p in children if module in " ".join(_cmdline(p))]

    def worker(self, timeout: float = 60) -> psutil.Process:
        [proc] = wait_for(lambda: self.processes("jobs.worker"), timeout, "a worker process")
        return proc

    def kill_worker_tree(self) -> list[psutil.Process]:
        """SIGKILL the worker and everything under it (work horse, scheduler)
        at once, as an OOM killer or a pulled plug would; returns them all."""
        worker = self.worker()
        victims = [worker, *worker.children(recursive=True)]
        for proc in victims:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(victims, timeout=10)
        return victims

    def ctrl_c(self) -> None:
        os.kill(self.top.pid, signal.SIGINT)

    def stop(self, timeout: float = 20) -> None:
        """Stop the supervisor and make sure nothing of it is left."""
        if self.top is None:
            return
        tree = _tree(self.top.pid)
        if self.top.poll() is None:
            self.top.send_signal(signal.SIGTERM)
            try:
                self.top.wait(timeout)
            except subprocess.TimeoutExpired:
                self.top.kill()
                self.top.wait(10)
        for proc in tree:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


# -- the database, read from outside the app ---------------------------------------


def sql(database_url: str, statement: str, params=()) -> list[dict]:
    conn = psycopg2.connect(database_url, connect_timeout=3)
    try:
        with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def wait_for_db(database_url: str, statement: str, predicate, timeout: float, what: str, params=()):
    """Poll ``statement`` until ``predicate(rows)`` holds; the database
    being away (killed, restarting) counts as "not yet"."""

    def check():
        try:
            rows = sql(database_url, statement, params)
        except psycopg2.OperationalError:
            return None
        return rows if predicate(rows) else None

    return wait_for(check, timeout, what, interval=0.5)


# -- what users see while the fault lasts ---------------------------------------------


class PageWatch:
    """GETs ``paths`` in a loop with ``session`` (a logged-in user) and keeps
    every status, so a case can assert that no answer was a 500."""

    def __init__(self, session: requests.Session, base_url: str, paths: list[str], every_s: float = 0.3):
        self.session, self.base_url, self.paths, self.every_s = session, base_url, paths, every_s
        self.statuses: list[tuple[str, int]] = []
        self.errors: list[str] = []
        self._running = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PageWatch:
        self._running.set()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._running.clear()
        self._thread.join(10)

    def _loop(self) -> None:
        while self._running.is_set():
            for path in self.paths:
                try:
                    status = self.session.get(self.base_url + path, timeout=10).status_code
                    self.statuses.append((path, status))
                except requests.RequestException as exc:
                    self.errors.append(f"{path}: {type(exc).__name__}")
            time.sleep(self.every_s)

    def assert_no_500(self) -> None:
        assert self.statuses, "no page was loaded while the fault lasted"
        failed = [(path, status) for path, status in self.statuses if status >= 500 and status != 503]
        assert not failed, f"answers with a 5xx other than 503: {failed[:10]}"


# -- `make run` itself, for Ctrl-C -------------------------------------------------------

# The Makefile's `run` recipe, word for word (tests/integration/test_run_stack.py checks the same line).
RUN_COMMAND = "flask --app wsgi db upgrade && exec python -m reliability.supervisor web worker cron"


class MakeRun:
    """The command `make run` runs, on embedded PostgreSQL and Redis under
    ``instance_dir`` (its own, as a developer's machine has), in a process
    group of its own as a terminal gives it, so Ctrl-C can reach it whole."""

    def __init__(self, instance_dir: Path, log_path: Path, **env: str):
        self.instance_dir, self.log_path = instance_dir, log_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k not in _INHERITED_OUT}
        self.env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{self.env.get('PATH', '/usr/bin:/bin')}",
            PORT=str(self.port),
            INSTANCE_DIR=str(instance_dir),
            ENVIRONMENT="development",
            LOG_LEVEL="info",
            BCRYPT_ROUNDS="4",
            ASSETS_FROM_CDN="false",
            PYTHONUNBUFFERED="1",
            **FAST_WORKER,
            **env,
        )
        self.top: subprocess.Popen | None = None

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@/yco?host={self.instance_dir / 'postgres'}"

    def start(self) -> MakeRun:
        with open(self.log_path, "ab") as log:
            self.top = subprocess.Popen(
                [str(VENV_BIN / "python"), "-m", "reliability.embedded", "--", "sh", "-c", RUN_COMMAND],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    wait_until_serving = AppStack.wait_until_serving
    log_tail = AppStack.log_tail

    def everything(self) -> list[psutil.Process]:
        """Every process of the stack, the postmaster pg_ctl detached included."""
        procs = _tree(self.top.pid)
        try:
            procs.insert(0, psutil.Process(self.top.pid))
        except psutil.NoSuchProcess:
            pass
        try:
            postmaster = psutil.Process(int((self.instance_dir / "postgres" / "postmaster.pid").read_text().split()[0]))
            procs += [postmaster, *postmaster.children(recursive=True)]
        except (OSError, ValueError, IndexError, psutil.Error):
            pass
        return procs

    def ctrl_c(self, timeout: float) -> tuple[float, list[str]]:
        """SIGINT to the whole group, as a terminal's Ctrl-C; returns how long
        until every process was gone, and what still ran after ``timeout``."""
        procs = self.everything()
        started = time.monotonic()
        os.killpg(self.top.pid, signal.SIGINT)
        gone, alive = psutil.wait_procs(procs, timeout=timeout)
        self.top.wait(5)
        return time.monotonic() - started, [f"{p.pid} {' '.join(_cmdline(p))}" for p in alive]

    def kill_leftovers(self) -> None:
        if self.top is None:
            return
        for proc in self.everything():
            try:
                proc.kill()
            except psutil.Error:
                pass
