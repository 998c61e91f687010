"""The app under load from 50 clients at once, with the default database
pool and then with one connection: no 500, a bounded wait.

Prints five figures:

``load_5xx=N``
    Answers with a 5xx status while 50 concurrent clients log in and load
    the channel page and a video page, with the default settings. Target 0.
``load_p99_ms_channel=L``
    The 99th percentile latency of the channel page in that run (ms).
``load_500_pool1=N``
    The same load with one database connection per web process
    (``DATABASE_POOL_SIZE=1``, ``DATABASE_MAX_OVERFLOW=0``) and a 1 s pool
    timeout (``DATABASE_POOL_TIMEOUT_S=1``): answers with a 5xx other than
    503. Target 0: a request that cannot get a connection in time is told
    to come back (503), it never fails.
``load_503_pool1=N``
    The 503 answers of that run; each must carry ``Retry-After``
    (``load_503_without_retry_after_pool1`` counts those that did not, and
    the benchmark then exits with 1).
``load_p99_ms_pool1=L``
    The 99th percentile latency of every answer (login, channel page, video
    page, 503s included) of that run (ms). Target at most 2,000.

Each client is a thread with one keep-alive connection (2 client processes
x 25 threads) and a user of its own (seeded directly in PostgreSQL, a viewer
of the 500-video channel of ``bench/channel_page.py``). It logs in like a
browser (``GET /login`` for the CSRF token, ``POST /login``; a refusal, 429
or 503, is tried again after half a second). Once every client is logged in
the measured window (``--seconds``, 15) begins: each client loops over the
channel page and a video page and logs in again every ``--relogin`` rounds
(20), each at a different round. Every answer counts in the status figures;
the latencies are those of the window (the 50 logins at once before it,
50 bcrypt checks on a 2-core machine, are reported on their own line). The
app runs under gunicorn with the project's ``gunicorn.conf.py``; as in
every benchmark (``bench/serving.py``) the per-address limits are raised,
since every client comes from 127.0.0.1. About 60 s in all.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from queue import Empty
from urllib.parse import urlencode

from bench.channel_page import _delete_seeded, _seed
from bench.loadgen import USER_AGENT, percentile
from bench.serving import HOST, Server, migrate, say, server_env, services

CLIENTS = 50
LOGIN_CAP_S = 40  # every client logs in before the window; 50 bcrypt checks at once take a while on 2 cores
PROCESSES = 2
POOL1 = {"DATABASE_POOL_SIZE": "1", "DATABASE_MAX_OVERFLOW": "0", "DATABASE_POOL_TIMEOUT_S": "1"}
# One address for every client: the per-address login limit would refuse all but 10 logins a minute.
LOGIN_LIMIT_FOR_BENCH = "1000000 per minute"


def _seed_members(database_url: str, channel_id: int, password_hash: str, count: int) -> tuple[list[str], int]:
    """``count`` users, viewers of the channel, sharing one password hash;
    and the id of the video whose page the clients load."""
    from reliability import db

    emails = [f"load-{i}-{channel_id}@example.com" for i in range(count)]
    db.configure(db.PoolSettings(dsn=database_url, size=1, max_overflow=1))
    try:
        with db.transaction() as cur:
            for email in emails:
                cur.execute(
                    "INSERT INTO users (email, password_hash) VALUES (%s, %s) RETURNING id", (email, password_hash)
                )
                cur.execute(
                    "INSERT INTO channel_members (channel_id, user_id, role) VALUES (%s, %s, 'viewer')",
                    (channel_id, cur.fetchone()["id"]),
                )
            cur.execute("SELECT id FROM videos WHERE channel_id = %s ORDER BY id DESC LIMIT 1", (channel_id,))
            video_id = cur.fetchone()["id"]
    finally:
        db.dispose_pool()
    return emails, video_id


# -- one client -----------------------------------------------------------------------


class Client:
    """One browser: a keep-alive connection and its session cookie."""

    def __init__(self, port: int, email: str, password: str, tally: dict):
        self.port, self.email, self.password, self.tally = port, email, password, tally
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.cookie = ""
        self.used = False  # a request went over this connection (so the server may have closed it since)

    def request(self, kind: str, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "text/html", "Cookie": self.cookie}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            response, text = self._send(method, path, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.tally["errors"][type(exc).__name__] += 1
            return 0, ""
        self.tally["latency"].append((kind, response.status, (time.perf_counter() - started) * 1000, time.monotonic()))
        self.tally["status"][(kind, response.status)] += 1
        if response.status == 503 and not response.getheader("Retry-After"):
            self.tally["503_without_retry_after"] += 1
        for value in response.msg.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0].strip()
            if pair.startswith(("yco_session=", "remember_token=")):
                self.cookie = "; ".join(
                    [c for c in self.cookie.split("; ") if c and not c.startswith(pair.split("=", 1)[0] + "=")] + [pair]
                )
        return response.status, text

    def _send(self, method: str, path: str, body: str | None, headers: dict) -> tuple[http.client.HTTPResponse, str]:
        """A keep-alive connection the server closed while idle (its
        keep-alive timeout, a recycled worker) is opened again and the
        request sent once more, as browsers do; only then is it an error."""
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response, response.read().decode(errors="replace")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt == 2 or not self.used:
                    raise
                self.tally["reconnects"] += 1
            finally:
                self.used = True
        raise AssertionError("unreachable")

    def log_in(self, deadline: float) -> bool:
        self.cookie = ""
        while time.monotonic() < deadline:
            status, page = self.request("login", "GET", "/login")
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
            if status == 200 and token:
                form = urlencode(
                    {"csrf_token": token.group(1), "email": self.email, "password": self.password, "next": ""}
                )
                status, _ = self.request("login", "POST", "/login", form)
                if status == 302:
                    return True
            time.sleep(0.5)  # refused (429, 503) or not reached: as a person would, try again
        return False


class Clock:
    """Shared by the client processes: how many clients are logged in, and
    when the measured window began (0 until every client is in)."""

    def __init__(self, ctx):
        self.logged_in = ctx.Value("i", 0)
        self.window_start = ctx.Value("d", 0.0)

    def wait_for_window(self) -> float:
        while not self.window_start.value:
            time.sleep(0.01)
        return self.window_start.value


def _client(
    port: int, email: str, password: str, paths: list[str], offset: int, args, clock: Clock, tally: dict
) -> None:
    client = Client(port, email, password, tally)
    if not client.log_in(time.monotonic() + LOGIN_CAP_S):
        return
    with clock.logged_in.get_lock():
        clock.logged_in.value += 1
    deadline = clock.wait_for_window() + args.seconds
    rounds = offset  # clients log in again at different rounds, as people do
    while time.monotonic() < deadline:
        for kind, path in zip(("channel", "video"), paths, strict=True):
            client.request(kind, "GET", path)
        rounds += 1
        if rounds % args.relogin == 0 and not client.log_in(deadline):
            break


def _process(
    port: int, users: list[tuple[int, str]], password: str, paths: list[str], args, clock: Clock, queue
) -> None:
    tally = {"status": Counter(), "errors": Counter(), "latency": [], "503_without_retry_after": 0, "reconnects": 0}
    threads = [
        threading.Thread(target=_client, args=(port, email, password, paths, i, args, clock, tally))
        for i, email in users
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(tally)


def run_clients(port: int, users: list[str], password: str, paths: list[str], args) -> tuple[dict, float]:
    """The load; and when its measured window began (every client logged in)."""
    ctx = multiprocessing.get_context("spawn")
    queue, clock = ctx.Queue(), Clock(ctx)
    numbered = list(enumerate(users))
    procs = [
        ctx.Process(
            target=_process, args=(port, numbered[i::PROCESSES], password, paths, args, clock, queue), daemon=True
        )
        for i in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    cap = time.monotonic() + LOGIN_CAP_S + 10
    while clock.logged_in.value < len(users) and time.monotonic() < cap:
        time.sleep(0.05)
    clock.window_start.value = window = time.monotonic()
    total = {"status": Counter(), "errors": Counter(), "latency": [], "503_without_retry_after": 0, "reconnects": 0}
    received = 0
    while received < len(procs):
        try:
            part = queue.get(timeout=1)
        except Empty:
            if all(proc.exitcode is not None for proc in procs):
                raise RuntimeError("a client process died without a result") from None
            continue
        received += 1
        total["status"].update(part["status"])
        total["errors"].update(part["errors"])
        total["latency"].extend(part["latency"])
        total["503_without_retry_after"] += part["503_without_retry_after"]
        total["reconnects"] += part["reconnects"]
    for proc in procs:
        proc.join()
    return total, window


# -- the two runs ------------------------------------------------------------------------


def _run(name: str, env: dict, tmp: Path, users: list[str], password: str, paths: list[str], args) -> dict:
    server = Server(name, "wsgi:app", "/login", env, tmp)
    try:
        server.wait_until_ready()
        tally, window = run_clients(server.port, users, password, paths, args)
        server.check_alive()
        say(f"{name}: {_app_connections(env['DATABASE_URL'])} database connections of the app open after the load")
    finally:
        server.stop()
    statuses = ", ".join(f"{kind} {status}: {n}" for (kind, status), n in sorted(tally["status"].items()))
    say(
        f"{name}: {statuses}; connection errors {dict(tally['errors']) or 'none'}, "
        f"keep-alive connections reopened {tally['reconnects']}"
    )
    logins = [m for k, _, m, t in tally["latency"] if k == "login" and t < window]
    say(
        f"{name}: {len(logins)} login answers before the window (every client logging in at once): "
        f"p50 {percentile(logins, 0.5):.0f} ms, p99 {percentile(logins, 0.99):.0f} ms"
    )
    tally["latency"] = [entry for entry in tally["latency"] if entry[3] >= window]
    for kind in ("login", "channel", "video"):
        ms = [m for k, _, m, _ in tally["latency"] if k == kind]
        say(
            f"{name} {kind} latency in the window over {len(ms)} answers: p50 {percentile(ms, 0.5):.0f} ms, "
            f"p90 {percentile(ms, 0.9):.0f} ms, p99 {percentile(ms, 0.99):.0f} ms, max {max(ms, default=0):.0f} ms"
        )
    return tally


def _app_connections(database_url: str) -> int:
    """Connections the web processes hold (reliability.db names them 'yco')."""
    import psycopg2

    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'yco'")
            return cur.fetchone()[0]
    finally:
        conn.close()


def _fives(tally: dict, *, but: tuple[int, ...] = ()) -> int:
    return sum(n for (_, status), n in tally["status"].items() if status >= 500 and status not in but)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the measured window of each run")
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--relogin", type=int, default=20, help="a client logs in again every this many rounds")
    args = parser.parse_args(argv or [])
    tmp = Path(tempfile.mkdtemp(prefix="yco-bench-load-"))
    try:
        with ExitStack() as stack:
            database_url, redis_url = stack.enter_context(services(tmp))
            migrate(database_url)
            seeded = _seed(database_url)
            password_hash = _password_hash(database_url, seeded.user_id)
            users, video_id = _seed_members(database_url, seeded.channel_id, password_hash, args.clients)
            if os.environ.get("DATABASE_URL"):  # a shared database: leave nothing of ours
                stack.callback(_delete_seeded, database_url, seeded)
                stack.callback(_delete_members, database_url, users)
            paths = [f"/channels/{seeded.channel_id}", f"/channels/{seeded.channel_id}/videos/{video_id}"]
            env = {**server_env(database_url, redis_url, tmp), "LOGIN_RATE_LIMIT": LOGIN_LIMIT_FOR_BENCH}
            say(
                f"load: {args.clients} clients ({PROCESSES} processes), {args.seconds:g} s per run, "
                f"login + {paths[0]} + {paths[1]}"
            )
            default = _run("default", env, tmp, users, seeded.password, paths, args)
            pool1 = _run("pool1", {**env, **POOL1}, tmp, users, seeded.password, paths, args)
            channel_ms = [ms for kind, status, ms, _ in default["latency"] if kind == "channel" and status == 200]
            all_pool1_ms = [ms for _, _, ms, _ in pool1["latency"]]
            print(f"load_5xx={_fives(default)}", flush=True)
            print(f"load_p99_ms_channel={percentile(channel_ms, 0.99):.1f}", flush=True)
            print(f"load_500_pool1={_fives(pool1, but=(503,))}", flush=True)
            print(f"load_503_pool1={_fives(pool1) - _fives(pool1, but=(503,))}", flush=True)
            print(f"load_503_without_retry_after_pool1={pool1['503_without_retry_after']}", flush=True)
            print(f"load_p99_ms_pool1={percentile(all_pool1_ms, 0.99):.1f}", flush=True)
            return 1 if pool1["503_without_retry_after"] else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _delete_members(database_url: str, emails: list[str]) -> None:
    from reliability import db

    db.configure(db.PoolSettings(dsn=database_url, size=1, max_overflow=1))
    try:
        with db.transaction() as cur:
            cur.execute(
                "DELETE FROM audit_log WHERE actor_id IN (SELECT id FROM users WHERE email = ANY(%s))", (emails,)
            )
            cur.execute("DELETE FROM users WHERE email = ANY(%s)", (emails,))
    finally:
        db.dispose_pool()


def _password_hash(database_url: str, user_id: int) -> str:
    from reliability import db

    db.configure(db.PoolSettings(dsn=database_url, size=1, max_overflow=1))
    try:
        with db.transaction() as cur:
            cur.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,))
            return cur.fetchone()["password_hash"]
    finally:
        db.dispose_pool()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
