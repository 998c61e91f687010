"""How fast the channel page of a 500-video channel is served, against a bare Flask page.

Prints three figures:

``channel_page_vs_hello_rps_ratio=R``
    Requests per second for ``GET /channels/<id>`` (``channels.show``: the
    first of 10 pages of 50 videos, newest first) of the real app
    (``wsgi:app``), requested by a logged-in member (the channel's owner)
    with a session cookie, divided by requests per second for ``GET /`` of
    ``bench/hello_app.py``. Target at least 0.3.

``channel_page_p50_ms=L50`` and ``channel_page_p99_ms=L99``
    The median and 99th percentile latency of the channel page, in
    milliseconds from the request sent to the answer read whole, over every
    measured answer at 16 concurrent clients (2 client processes x 8
    keep-alive connections, the defaults).

Set-up, as for ``bench/login_vs_hello.py`` (and with its code,
``bench/serving.py``): both apps under gunicorn with the same ``-c
gunicorn.conf.py`` on free loopback ports, at the same time, driven in turn
by ``bench/loadgen.py`` for the same time, alternating; medians of the
rounds. PostgreSQL and Redis from DATABASE_URL / REDIS_URL when set (the
database is migrated, and the bench's rows are deleted afterwards), else
embedded servers in a temporary directory.

The data is inserted directly in PostgreSQL: a user whose password is hashed
by the app's own helper (``webapp.accounts.passwords.hash_password``), a
connected channel with its ``channel_members`` owner row, a finished sync
and 500 videos. The bench then logs in once like a browser: ``GET /login``
for the CSRF token and cookie, ``POST /login``, then one ``GET`` of the
channel page, whose answer updates the cookie as a browser's would (the
page's forms put a CSRF token in the session). Every client sends that
cookie. Every answer must be a 200 holding the title of the page's last
video row, or the benchmark stops.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import urlencode

from bench.loadgen import USER_AGENT, percentile
from bench.serving import Server, gunicorn_settings, load_parser, measure, migrate, say, server_env, services

VIDEOS = 500
PER_PAGE = 50  # webapp.channels.routes.PER_PAGE
TOPICS = ("sourdough bread", "croissants", "pizza dough", "rye bread", "focaccia", "bagels", "brioche", "baguettes")
FORMATS = ("How to make {} at home, step by step", "{}: 5 mistakes beginners make", "I tried {} for 30 days",
           "The easiest {} recipe (no mixer)", "{} explained in 10 minutes")


@dataclass
class Seeded:
    user_id: int
    email: str
    password: str
    channel_id: int
    titles: list[str]  # of every video, by position (0 = oldest)


def _title(i: int) -> str:
    return f"#{i:03d} " + FORMATS[i % len(FORMATS)].format(TOPICS[i % len(TOPICS)])


def _seed(database_url: str) -> Seeded:
    from reliability import db
    from webapp.accounts.passwords import hash_password

    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    password = secrets.token_urlsafe(18)
    titles = [_title(i) for i in range(VIDEOS)]
    start = dt.datetime(2023, 1, 1, 15, tzinfo=dt.UTC)
    db.configure(db.PoolSettings(dsn=database_url, size=1, max_overflow=1))
    try:
        with db.transaction() as cur:
            cur.execute("INSERT INTO users (email, password_hash) VALUES (%s, %s) RETURNING id",
                        (email, hash_password(password)))
            user_id = cur.fetchone()["id"]
            cur.execute(
                """INSERT INTO channels (youtube_channel_id, title, description, uploads_playlist_id, status,
                                         subscriber_count, video_count, last_synced_at, last_sync_status, created_by)
                   VALUES (%s, 'Bench Bakery', 'Bread and pastry, every week.', %s, 'connected', 123456, %s,
                           now(), 'succeeded', %s) RETURNING id""",
                (f"UCbench{uuid.uuid4().hex[:16]}", f"UUbench{uuid.uuid4().hex[:16]}", VIDEOS, user_id),
            )
            channel_id = cur.fetchone()["id"]
            cur.execute("INSERT INTO channel_members (channel_id, user_id, role) VALUES (%s, %s, 'owner')",
                        (channel_id, user_id))
            cur.execute(
                """INSERT INTO sync_runs (channel_id, requested_by, kind, status, pages_done, videos_seen,
                                          videos_total, units_used, started_at, finished_at)
                   VALUES (%s, %s, 'full', 'succeeded', %s, %s, %s, %s, now() - interval '1 minute', now())""",
                (channel_id, user_id, VIDEOS // PER_PAGE, VIDEOS, VIDEOS, 1 + 2 * (VIDEOS // PER_PAGE)),
            )
            rows = []
            for i, title in enumerate(titles):
                youtube_id = f"bench{i:06d}"
                rows.append((
                    channel_id, youtube_id, title,
                    f"{title}. Ingredients, timings and the why of every step.\n\n0:00 Intro\n1:30 Dough\n8:00 Baking",
                    ["baking", "bread", TOPICS[i % len(TOPICS)]], "26", "en", "en",
                    start + dt.timedelta(days=i, minutes=i % 60), 300 + (i * 37) % 1500,
                    f"https://i.ytimg.com/vi/{youtube_id}/mqdefault.jpg",
                    ("public", "public", "public", "unlisted", "private")[i % 5],
                    (i * 7919) % 250_000, (i * 131) % 9_000, (i * 17) % 600,
                    None if i % 10 == 0 else (i * 37) % 101,
                ))
            db.bulk_insert(
                "videos",
                ["channel_id", "youtube_video_id", "title", "description", "tags", "category_id", "default_language",
                 "default_audio_language", "published_at", "duration_seconds", "thumbnail_url", "privacy_status",
                 "view_count", "like_count", "comment_count", "seo_score"],
                rows, cur=cur,
            )
            cur.execute("ANALYZE videos")
    finally:
        db.dispose_pool()
    return Seeded(user_id, email, password, channel_id, titles)


def _delete_seeded(database_url: str, seeded: Seeded) -> None:
    """On a shared database, leave nothing of ours (the login's audit row too)."""
    from reliability import db

    db.configure(db.PoolSettings(dsn=database_url, size=1, max_overflow=1))
    try:
        with db.transaction() as cur:
            cur.execute("DELETE FROM channels WHERE id = %s", (seeded.channel_id,))
            cur.execute("DELETE FROM audit_log WHERE actor_id = %s", (seeded.user_id,))
            cur.execute("DELETE FROM users WHERE id = %s", (seeded.user_id,))
    finally:
        db.dispose_pool()


def _session_cookie(headers, current: str | None = None) -> str | None:
    """The ``yco_session=...`` pair a browser would keep from these headers."""
    for value in headers.get_all("Set-Cookie") or []:
        pair = value.split(";", 1)[0].strip()
        if pair.startswith("yco_session="):
            return pair
    return current


def _log_in(server: Server, seeded: Seeded) -> str:
    """GET /login, POST /login with its CSRF token; returns the session cookie."""
    browser = {"User-Agent": USER_AGENT, "Accept": "text/html"}
    status, headers, body = server.request("GET", "/login", headers=browser)
    match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body)
    cookie = _session_cookie(headers)
    if status != 200 or not match or not cookie:
        raise RuntimeError(f"GET /login answered {status} without a CSRF token or a session cookie")
    form = urlencode({"csrf_token": match.group(1).decode(), "email": seeded.email, "password": seeded.password,
                      "next": ""}).encode()
    status, headers, body = server.request(
        "POST", "/login", body=form,
        headers={**browser, "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    logged_in = _session_cookie(headers)
    if status != 302 or not logged_in or logged_in == cookie:
        raise RuntimeError(f"POST /login answered {status}, not a redirect with a new session:\n"
                           f"{body.decode(errors='replace')[:2000]}\n{server.log_tail()}")
    return logged_in


def _check_channel_page(server: Server, seeded: Seeded) -> bytes:
    """One GET as the logged-in owner: the whole first page of 50 videos,
    newest first. Keeps the cookie the answer sets; returns the bytes every
    answer under load must hold (the last row's title)."""
    status, headers, body = server.get()
    if status != 200:
        raise RuntimeError(f"GET {server.path} as the owner answered {status}\n{server.log_tail()}")
    server.headers["Cookie"] = _session_cookie(headers, server.headers["Cookie"])
    html = body.decode()
    shown = seeded.titles[::-1][:PER_PAGE]
    missing = [t for t in shown if f">{escape(t)}</a>" not in html]
    rows = html.count('name="video_ids"')  # the owner's select box, one per row
    pages = -(-VIDEOS // PER_PAGE)
    if missing or rows != PER_PAGE or f"Page 1 of {pages}" not in html or f"{VIDEOS} videos" not in html:
        raise RuntimeError(f"GET {server.path} is not the channel page we seeded: {rows} rows, "
                           f"{len(missing)} of the {PER_PAGE} newest titles missing (first: {missing[:1]})")
    say(f"channel page: {len(body)} bytes, {rows} video rows of {VIDEOS}, page 1 of {pages}, "
        f"as the channel's owner with a session cookie")
    return f">{escape(shown[-1])}</a>".encode()


def _parse(argv: list[str]):
    return load_parser("python -m bench.channel_page", __doc__.splitlines()[0]).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv or [])
    tmp = Path(tempfile.mkdtemp(prefix="yco-bench-channel-"))
    try:
        with ExitStack() as stack:
            database_url, redis_url = stack.enter_context(services(tmp))
            migrate(database_url)
            seeded = _seed(database_url)
            if os.environ.get("DATABASE_URL"):
                stack.callback(_delete_seeded, database_url, seeded)
            env = server_env(database_url, redis_url, tmp)
            say(f"gunicorn.conf.py (both servers): {gunicorn_settings(env)}")
            concurrency = args.processes * args.connections
            say(f"load: {args.processes} client processes x {args.connections} keep-alive connections "
                f"({concurrency} concurrent clients), {args.seconds:g} s per measurement, {args.rounds} rounds, "
                f"{os.cpu_count()} CPUs shared")
            page = Server("channel_page", "wsgi:app", f"/channels/{seeded.channel_id}", env, tmp)
            stack.callback(page.stop)
            hello = Server("hello", "bench.hello_app:app", "/", env, tmp)
            stack.callback(hello.stop)
            page.wait_until_ready(path="/login")
            hello.wait_until_ready()
            page.headers["Cookie"] = _log_in(page, seeded)
            page.expect = _check_channel_page(page, seeded)
            results = measure([page, hello], args, strict=True)
            page_rps = statistics.median(r.rps for r in results["channel_page"])
            hello_rps = statistics.median(r.rps for r in results["hello"])
            latencies = [ms for r in results["channel_page"] for ms in r.latencies_ms]
            hello_latencies = [ms for r in results["hello"] for ms in r.latencies_ms]
            say(f"median: channel_page {page_rps:.1f} rps, hello {hello_rps:.1f} rps")
            say(f"latency at {concurrency} concurrent clients over {len(latencies)} answers: channel page "
                f"p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms; "
                f"hello p50 {percentile(hello_latencies, 0.5):.1f} ms, p99 {percentile(hello_latencies, 0.99):.1f} ms")
            ratio = page_rps / hello_rps if hello_rps else 0.0
            print(f"channel_page_vs_hello_rps_ratio={ratio:.2f}", flush=True)
            print(f"channel_page_p50_ms={percentile(latencies, 0.5):.1f}", flush=True)
            print(f"channel_page_p99_ms={percentile(latencies, 0.99):.1f}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
