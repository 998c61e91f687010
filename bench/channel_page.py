"""How fast the channel page is served, and what one answer costs, against
a bare Flask page and against the reference stack.

The measured sides, alternating in short rounds (``bench/serving.py``):
the app's channel page as its owner, first page of 50 newest videos, on a
500-video channel and on a 5,000-video one (``--big``), each with the page
cache as configured (``channel_page``, warm: the same page asked again and
again) and with it off (``channel_page_cold``, ``PAGE_CACHE_SIZE=0``: every
answer queries and renders); ``GET /table`` of ``bench/reference_app.py``
(the same extensions configured as the app, a 50-row table rendered on
every request, no database); ``GET /`` of ``bench/hello_app.py``.

Prints, each the median of round-by-round values with its spread below it
as a comment:

``channel_page_vs_hello_rps_ratio``, ``channel_page_cold_vs_hello_rps_ratio``
    The page's requests per second over hello's, warm and cold.
``channel_page_vs_reference_ratio``, ``channel_page_cold_vs_reference_ratio``
    The same over the reference's table.
``channel_page_cpu_ms``, ``channel_page_cold_cpu_ms``
    CPU per answer in ms: gunicorn and its workers, plus PostgreSQL and
    Redis (``ServiceCPU``: whole embedded servers; with DATABASE_URL only
    the bench database's backends).
``channel_page_cpu_ms_5000_vs_500`` (and ``_cold_``)
    CPU per answer of the 5,000-video channel's page over the 500's.
``channel_page_p50_ms``, ``channel_page_p99_ms`` (and ``_cold_``)
    Latency percentiles over every measured answer at 16 concurrent clients
    (2 client processes x 8 keep-alive connections, the defaults).

Set-up: every app under gunicorn with the same ``-c gunicorn.conf.py`` on
free loopback ports, at the same time. PostgreSQL and Redis from
DATABASE_URL / REDIS_URL when set (the database is migrated, and the
bench's rows are deleted afterwards), else embedded servers in a temporary
directory.

The data is inserted directly in PostgreSQL: a user whose password is hashed
by the app's own helper (``webapp.accounts.passwords.hash_password``), two
connected channels with their ``channel_members`` owner row, a finished sync
each and their videos. The bench then logs in once like a browser: ``GET
/login`` for the CSRF token and cookie, ``POST /login``, then one ``GET`` of
each channel page, whose answer updates the cookie as a browser's would.
Every client sends that cookie and ``Accept-Encoding: gzip, br`` as browsers
do. The app runs as deployed: metrics on with a ``PROMETHEUS_MULTIPROC_DIR``
(a folder of the run's temporary directory) and compression on, so the pages
go out compressed (issue 15: the CPU figures must hold with both on): gzip
made from the kept page's parts deflated once when the page cache holds it,
brotli when the cache is off. Each
page is checked once before the load (a 200, compressed, holding every title of
its first page); under load every answer must be a 200 (the load generator
does not decompress, so it checks no body), or the benchmark stops. On a machine shared
with other work the rps figures swing; CPU per answer much less.
"""

from __future__ import annotations

import datetime as dt
import gzip
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

import brotli

from bench.loadgen import USER_AGENT, Result, percentile
from bench.serving import (
    Server,
    gunicorn_settings,
    load_parser,
    measure,
    migrate,
    ratios,
    report,
    say,
    server_env,
    service_cpu,
    services,
)

VIDEOS = 500
BIG_VIDEOS = 5000
PER_PAGE = 50  # webapp.channels.routes.PER_PAGE
ACCEPT_ENCODING = "gzip, br"  # a browser's
TOPICS = ("sourdough bread", "croissants", "pizza dough", "rye bread", "focaccia", "bagels", "brioche", "baguettes")
FORMATS = (
    "How to make {} at home, step by step",
    "{}: 5 mistakes beginners make",
    "I tried {} for 30 days",
    "The easiest {} recipe (no mixer)",
    "{} explained in 10 minutes",
)


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
    db.configure(db.PoolSettings(dsn=database_url, size=1, max_overflow=1))
    try:
        with db.transaction() as cur:
            cur.execute(
                "INSERT INTO users (email, password_hash) VALUES (%s, %s) RETURNING id",
                (email, hash_password(password)),
            )
            user_id = cur.fetchone()["id"]
            channel_id, titles = _seed_channel(cur, user_id, VIDEOS)
    finally:
        db.dispose_pool()
    return Seeded(user_id, email, password, channel_id, titles)


def _seed_big_channel(database_url: str, user_id: int, videos: int) -> tuple[int, list[str]]:
    """A second channel of the same owner with ``videos`` videos (the page must not grow with them)."""
    from reliability import db

    db.configure(db.PoolSettings(dsn=database_url, size=1, max_overflow=1))
    try:
        with db.transaction() as cur:
            return _seed_channel(cur, user_id, videos)
    finally:
        db.dispose_pool()


def _seed_channel(cur, user_id: int, videos: int) -> tuple[int, list[str]]:
    """A connected channel owned by the user, a finished sync and ``videos`` videos; (id, titles)."""
    from reliability import db

    titles = [_title(i) for i in range(videos)]
    start = dt.datetime(2013, 1, 1, 15, tzinfo=dt.UTC)
    cur.execute(
        """INSERT INTO channels (youtube_channel_id, title, description, uploads_playlist_id, status,
                                 subscriber_count, video_count, last_synced_at, last_sync_status, created_by)
           VALUES (%s, 'Bench Bakery', 'Bread and pastry, every week.', %s, 'connected', 123456, %s,
                   now(), 'succeeded', %s) RETURNING id""",
        (f"UCbench{uuid.uuid4().hex[:16]}", f"UUbench{uuid.uuid4().hex[:16]}", videos, user_id),
    )
    channel_id = cur.fetchone()["id"]
    cur.execute(
        "INSERT INTO channel_members (channel_id, user_id, role) VALUES (%s, %s, 'owner')",
        (channel_id, user_id),
    )
    cur.execute(
        """INSERT INTO sync_runs (channel_id, requested_by, kind, status, pages_done, videos_seen,
                                  videos_total, units_used, started_at, finished_at)
           VALUES (%s, %s, 'full', 'succeeded', %s, %s, %s, %s, now() - interval '1 minute', now())""",
        (channel_id, user_id, videos // PER_PAGE, videos, videos, 1 + 2 * (videos // PER_PAGE)),
    )
    rows = []
    for i, title in enumerate(titles):
        youtube_id = f"b{channel_id}-{i:06d}"
        rows.append(
            (
                channel_id,
                youtube_id,
                title,
                f"{title}. Ingredients, timings and the why of every step.\n\n0:00 Intro\n1:30 Dough\n8:00 Baking",
                ["baking", "bread", TOPICS[i % len(TOPICS)]],
                "26",
                "en",
                "en",
                start + dt.timedelta(hours=i, minutes=i % 60),
                300 + (i * 37) % 1500,
                f"https://i.ytimg.com/vi/{youtube_id}/mqdefault.jpg",
                ("public", "public", "public", "unlisted", "private")[i % 5],
                (i * 7919) % 250_000,
                (i * 131) % 9_000,
                (i * 17) % 600,
                None if i % 10 == 0 else (i * 37) % 101,
            )
        )
    db.bulk_insert(
        "videos",
        [
            "channel_id",
            "youtube_video_id",
            "title",
            "description",
            "tags",
            "category_id",
            "default_language",
            "default_audio_language",
            "published_at",
            "duration_seconds",
            "thumbnail_url",
            "privacy_status",
            "view_count",
            "like_count",
            "comment_count",
            "seo_score",
        ],
        rows,
        cur=cur,
    )
    cur.execute("ANALYZE videos")
    return channel_id, titles


def _delete_seeded(database_url: str, seeded: Seeded, *more_channels: int) -> None:
    """On a shared database, leave nothing of ours (the login's audit row too)."""
    from reliability import db

    db.configure(db.PoolSettings(dsn=database_url, size=1, max_overflow=1))
    try:
        with db.transaction() as cur:
            cur.execute("DELETE FROM channels WHERE id = ANY(%s)", ([seeded.channel_id, *more_channels],))
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
    form = urlencode(
        {"csrf_token": match.group(1).decode(), "email": seeded.email, "password": seeded.password, "next": ""}
    ).encode()
    status, headers, body = server.request(
        "POST",
        "/login",
        body=form,
        headers={**browser, "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    logged_in = _session_cookie(headers)
    if status != 302 or not logged_in or logged_in == cookie:
        raise RuntimeError(
            f"POST /login answered {status}, not a redirect with a new session:\n"
            f"{body.decode(errors='replace')[:2000]}\n{server.log_tail()}"
        )
    return logged_in


def _check_channel_page(server: Server, titles: list[str]) -> None:
    """One GET as the logged-in owner: the whole first page of 50 videos,
    newest first, compressed as a browser gets it. Keeps the cookie the
    answer sets."""
    status, headers, body = server.get()
    if status != 200:
        raise RuntimeError(f"GET {server.path} as the owner answered {status}\n{server.log_tail()}")
    encoding = headers.get("Content-Encoding")
    if encoding not in ("br", "gzip"):
        raise RuntimeError(f"GET {server.path}: Content-Encoding {encoding!r}, not br or gzip")
    server.headers["Cookie"] = _session_cookie(headers, server.headers["Cookie"])
    html = (brotli.decompress(body) if encoding == "br" else gzip.decompress(body)).decode()
    shown = titles[::-1][:PER_PAGE]
    missing = [t for t in shown if f">{escape(t)}</a>" not in html]
    rows = html.count('name="video_ids"')  # the owner's select box, one per row
    pages = -(-len(titles) // PER_PAGE)
    if missing or rows != PER_PAGE or f"Page 1 of {pages}" not in html or f"{len(titles):,} videos" not in html:
        raise RuntimeError(
            f"GET {server.path} is not the channel page we seeded: {rows} rows, "
            f"{len(missing)} of the {PER_PAGE} newest titles missing (first: {missing[:1]})"
        )
    say(
        f"{server.name}: {len(body)} bytes of {encoding} ({len(html)} of HTML), {rows} video rows of {len(titles)}, "
        f"page 1 of {pages}, as the channel's owner with a session cookie"
    )


def _reference_cookie(reference: Server) -> str:
    """The reference app's signed session cookie for its one user."""
    status, headers, _ = reference.request("GET", "/bench-login", headers={"User-Agent": USER_AGENT})
    cookie = _session_cookie(headers)
    if status != 200 or not cookie:
        raise RuntimeError(f"reference GET /bench-login answered {status} without a session cookie")
    return cookie


def _parse(argv: list[str]):
    parser = load_parser("python -m bench.channel_page", __doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=BIG_VIDEOS, help="videos of the second, big channel")
    return parser.parse_args(argv)


def _servers(stack: ExitStack, env: dict[str, str], tmp: Path, seeded: Seeded, big: tuple[int, list[str]]):
    """The measured pages: the app with its page cache (warm) and without
    (cold, PAGE_CACHE_SIZE=0), each on the 500- and the big channel; the
    reference's table; hello."""
    page = Server("channel_page", "wsgi:app", f"/channels/{seeded.channel_id}", env, tmp)
    stack.callback(page.stop)
    cold = Server(
        "channel_page_cold", "wsgi:app", f"/channels/{seeded.channel_id}", {**env, "PAGE_CACHE_SIZE": "0"}, tmp
    )
    stack.callback(cold.stop)
    reference = Server("reference", "bench.reference_app:app", "/table", env, tmp)
    stack.callback(reference.stop)
    hello = Server("hello", "bench.hello_app:app", "/", env, tmp)
    stack.callback(hello.stop)
    for server in (page, cold, reference):
        server.wait_until_ready(path="/login")
    hello.wait_until_ready()
    page.headers["Cookie"] = cold.headers["Cookie"] = _log_in(page, seeded)
    for server in (page, cold, reference, hello):
        server.headers["Accept-Encoding"] = ACCEPT_ENCODING
    big_id, big_titles = big
    targets = [page, page.target("channel_page_big", f"/channels/{big_id}")]
    targets += [cold, cold.target("channel_page_cold_big", f"/channels/{big_id}")]
    for target, titles in zip(targets, [seeded.titles, big_titles] * 2, strict=True):
        _check_channel_page(target, titles)
    reference.headers["Cookie"] = _reference_cookie(reference)
    reference.wait_until_ready()
    return [*targets, reference, hello]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv or [])
    tmp = Path(tempfile.mkdtemp(prefix="yco-bench-channel-"))
    try:
        with ExitStack() as stack:
            database_url, redis_url = stack.enter_context(services(tmp))
            migrate(database_url)
            seeded = _seed(database_url)
            big = _seed_big_channel(database_url, seeded.user_id, args.big)
            if os.environ.get("DATABASE_URL"):
                stack.callback(_delete_seeded, database_url, seeded, big[0])
            env = server_env(database_url, redis_url, tmp)
            # As deployed: the metrics of every gunicorn worker in memory-mapped files, and compression on.
            (tmp / "metrics").mkdir()  # as the image makes its folder: no process makes one
            env.update(PROMETHEUS_MULTIPROC_DIR=str(tmp / "metrics"), METRICS_ENABLED="true")
            env.update(COMPRESSION_ENABLED="true")
            say(f"gunicorn.conf.py (every server): {gunicorn_settings(env)}")
            concurrency = args.processes * args.connections
            say(
                f"load: {args.processes} client processes x {args.connections} keep-alive connections "
                f"({concurrency} concurrent clients), {args.seconds:g} s per measurement, {args.rounds} rounds, "
                f"{os.cpu_count()} CPUs shared"
            )
            meter = service_cpu(database_url, redis_url)
            results = measure(_servers(stack, env, tmp, seeded, big), args, strict=True, services_cpu=meter)
            _report(results, concurrency, args.big)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _report(results: dict[str, list[Result]], concurrency: int, big: int) -> None:
    warm, cold, hello, reference = (
        results["channel_page"],
        results["channel_page_cold"],
        results["hello"],
        results["reference"],
    )
    for name, rounds in results.items():
        latencies = [ms for r in rounds for ms in r.latencies_ms]
        say(
            f"{name}: median {statistics.median(r.rps for r in rounds):.1f} rps, CPU per answer (app + PostgreSQL"
            f" + Redis) {statistics.median(r.cpu_ms_per_answer for r in rounds):.2f} ms, at {concurrency} clients"
            f" over {len(latencies)} answers p50 {percentile(latencies, 0.5):.1f} ms,"
            f" p99 {percentile(latencies, 0.99):.1f} ms"
        )
    report("channel_page_vs_hello_rps_ratio", ratios(warm, hello))
    report("channel_page_cold_vs_hello_rps_ratio", ratios(cold, hello), 3)
    report("channel_page_vs_reference_ratio", ratios(warm, reference))
    report("channel_page_cold_vs_reference_ratio", ratios(cold, reference))
    report("channel_page_cpu_ms", [r.cpu_ms_per_answer for r in warm])
    report("channel_page_cold_cpu_ms", [r.cpu_ms_per_answer for r in cold])
    report("reference_table_cpu_ms", [r.cpu_ms_per_answer for r in reference])
    say(f"the big channel has {big} videos, the other {VIDEOS}")
    for name, small, large in (
        ("", warm, results["channel_page_big"]),
        ("_cold", cold, results["channel_page_cold_big"]),
    ):
        report(
            f"channel_page{name}_cpu_ms_{big}_vs_{VIDEOS}",
            [b.cpu_ms_per_answer / a.cpu_ms_per_answer if a.ok else 0.0 for a, b in zip(small, large, strict=True)],
        )
    for name, rounds in (("channel_page", warm), ("channel_page_cold", cold)):
        latencies = [ms for r in rounds for ms in r.latencies_ms]
        print(f"{name}_p50_ms={percentile(latencies, 0.5):.1f}", flush=True)
        print(f"{name}_p99_ms={percentile(latencies, 0.99):.1f}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
