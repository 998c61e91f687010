"""What a full sync of a large channel costs in YouTube quota, and how much of
its time goes to PostgreSQL.

Prints two figures:

``sync_quota_units_vs_minimum=Q``
    Units the fake YouTube API charged for one full sync of a channel of N
    videos, divided by the least any client can spend, 1 + 2*ceil(N/50)
    (FACTS.md: one channels.list, then per page of 50 one playlistItems.list
    and one videos.list). Target 1.00.

``sync_db_share=S``
    The share of the sync's wall time that PostgreSQL adds: (W - A) / W,
    where W is the wall time of the real sync and A the wall time of the same
    sequence of API calls (channels.list, then per page playlistItems.list and
    videos.list) made by the same client against the same fake with nothing
    stored. The sync fetches page k+1 while it writes page k, so its writes
    cost wall time only where they outlast a page's fetch. Target at most 0.10.

Set-up: ``tests.fakes.google.FakeGoogle`` on a local port with 20 ms latency
on every API call, a channel of N videos (5,000 by default); PostgreSQL from
DATABASE_URL (migrated, and the bench's rows deleted afterwards) and Redis
from REDIS_URL (the YouTube breaker's state), else embedded servers in a
temporary directory (``bench.serving.services``). The channel is connected by storing
tokens from the fake directly (``fake.oauth.issue_tokens`` +
``optimizer.youtube.tokens.store_tokens``), a ``sync_runs`` row is inserted,
and ``optimizer.youtube.sync.run_sync`` runs in this process with the job's
own client factory (``optimizer.youtube.factory.youtube_client_factory``), exactly as the RQ
job would.

How S is measured, without touching the code under test: the same sync is
run plain and profiled, alternating, three times each (``--rounds``), every
time on a fresh channel of N videos (so every run inserts N new videos and N
first metadata versions); medians are taken.

1. Plain runs: wall time W, and the quota Q.
2. Profiled runs (``cProfile``, this thread only): the time spent inside
   psycopg2 (its C calls ``execute``, ``commit``, ``connect``, ``mogrify``
   and its Python helpers such as ``execute_values``) plus our pool in
   ``reliability/db.py`` is the database time D: the client-side
   composition of each statement, the round trip and the server's work.

The profiled D / W is printed as a comment too: how busy PostgreSQL was
during the sync (mostly overlapped with fetching). The profiler slows down Python code (the JSON
parsing and mapping of every page) but hardly the database calls, which are
a few dozen C calls per page spent mostly waiting on a socket; so D comes
from the profiled runs and W from the plain ones. D over the profiled runs'
own wall time is printed too, as a lower bound, and so is the profile's
breakdown of the sync's steps.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from bench.serving import services
from optimizer.youtube.factory import youtube_client_factory
from optimizer.youtube.sync import run_sync
from optimizer.youtube.tokens import store_tokens
from reliability import db, migrations
from reliability.config import load_settings
from reliability.crypto import TokenCipher
from reliability.db import transaction
from tests.fakes.google import FakeGoogle

DB_FILES = (f"{os.sep}psycopg2{os.sep}", f"{os.sep}reliability{os.sep}db.py")
# Steps of the sync whose cumulative time the profile shows: (file, function).
SYNC_STEPS = (
    ("sync.py", "_claim"),
    ("sync.py", "_refresh_channel"),
    ("sync.py", "_store_page"),
    ("video_store.py", "upsert_synced"),
    ("sync.py", "_store_new_versions"),
    ("sync.py", "flush"),
    ("sync.py", "_finish"),
    ("mapping.py", "video_row"),
    ("mapping.py", "content_hash"),
    ("seo.py", "score"),
)


def _say(line: str) -> None:
    print(f"# {line}", flush=True)


def minimum_units(videos: int) -> int:
    return 1 + 2 * max(1, math.ceil(videos / 50))


@dataclass
class SyncResult:
    wall_s: float
    units: int
    api_calls: int
    channel_pk: int
    profile: pstats.Stats | None = None
    db_s: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)


def _connect_channel(
    fake: FakeGoogle, subject: str, videos: int, cipher: TokenCipher, created: list[int]
) -> tuple[int, int]:
    """A channel with its tokens stored, as the OAuth callback leaves it, and
    a queued sync run; returns (channel id, run id)."""
    channel = fake.world.add_channel(subject, f"Bench {subject}", n_videos=videos)
    token = fake.oauth.issue_tokens(subject)
    token["expires_at"] = int(time.time()) + int(token["expires_in"])
    with transaction() as cur:
        cur.execute(
            """INSERT INTO channels (youtube_channel_id, title, uploads_playlist_id, status)
               VALUES (%s, %s, %s, 'connected') RETURNING id""",
            (channel.id, channel.title, channel.uploads_playlist_id),
        )
        channel_pk = cur.fetchone()["id"]
        created.append(channel_pk)
        store_tokens(cur, channel_pk, token, cipher)
        cur.execute("INSERT INTO sync_runs (channel_id, kind) VALUES (%s, 'full') RETURNING id", (channel_pk,))
        return channel_pk, cur.fetchone()["id"]


def _sync(
    fake: FakeGoogle, settings: dict, subject: str, videos: int, *, profile: bool, created: list[int]
) -> SyncResult:
    cipher = TokenCipher(settings["TOKEN_ENCRYPTION_KEY"])
    channel_pk, run_id = _connect_channel(fake, subject, videos, cipher, created)
    factory = youtube_client_factory(settings)
    units_before, requests_before = fake.quota.used(), len(fake.requests)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    status = run_sync(run_id, factory)
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - started
    _check_complete(status, channel_pk, videos)
    result = SyncResult(wall, fake.quota.used() - units_before, len(fake.requests) - requests_before, channel_pk)
    if profiler:
        result.profile = pstats.Stats(profiler)
        result.db_s = _database_seconds(result.profile)
        result.steps = _step_seconds(result.profile)
    return result


def _api_only(fake: FakeGoogle, settings: dict, subject: str, videos: int, created: list[int]) -> float:
    """Wall time of the sync's API calls alone, same client, nothing stored."""
    channel_pk, _run = _connect_channel(fake, subject, videos, TokenCipher(settings["TOKEN_ENCRYPTION_KEY"]), created)
    client = youtube_client_factory(settings)(channel_pk, lambda _call: None)
    started = time.perf_counter()
    playlist = client.my_channels()[0]["contentDetails"]["relatedPlaylists"]["uploads"]
    token = None
    while True:
        page = client.playlist_page(playlist, token)
        client.videos([item["contentDetails"]["videoId"] for item in page.get("items", [])])
        token = page.get("nextPageToken")
        if not token:
            return time.perf_counter() - started


def _check_complete(status: str, channel_pk: int, videos: int) -> None:
    """A figure about a sync that did not store every video would mean nothing."""
    with transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM videos WHERE channel_id = %s AND removed_at IS NULL", (channel_pk,))
        stored = cur.fetchone()["n"]
    if status != "succeeded" or stored != videos:
        raise RuntimeError(f"sync ended {status!r} with {stored} of {videos} videos stored")


def _is_database(key: tuple, callers: dict) -> bool:
    filename, _, name = key
    if any(part in filename for part in DB_FILES) or "psycopg2" in name:
        return True
    # A builtin (select.select, time.monotonic...) called only by the pool.
    return filename == "~" and bool(callers) and all(_is_database(c, {}) for c in callers)


def _database_seconds(stats: pstats.Stats) -> float:
    """Own time of every function of psycopg2 and of our pool."""
    return sum(tt for key, (_, _, tt, _, callers) in stats.stats.items() if _is_database(key, callers))  # type: ignore[attr-defined]


def _step_seconds(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative time of the sync's steps; own time of the C calls that
    send statements and commits; time in HTTP calls to the API."""
    steps: dict[str, float] = {}

    def add(label: str, seconds: float) -> None:
        steps[label] = steps.get(label, 0.0) + seconds

    for key, (_, _, tt, ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        filename, _, name = key
        step = next(
            (f"{file[:-3]}.{fn}" for file, fn in SYNC_STEPS if fn == name and filename.endswith(os.sep + file)), None
        )
        if step:
            add(step, ct)
        elif filename == "~" and _is_database(key, callers):
            for label in ("execute", "mogrify", "commit"):
                if label in name:
                    add(f"psycopg2 {label} (C)", tt)
        elif name == "request" and filename.endswith(f"requests{os.sep}sessions.py"):
            add("HTTP to the API", ct)
    return steps


def _delete_bench_rows(channel_pks: list[int]) -> None:
    """On a shared database, leave nothing: the quota ledger rows would
    count against today's budget of the real app."""
    with transaction() as cur:
        cur.execute("DELETE FROM quota_ledger WHERE channel_id = ANY(%s)", (channel_pks,))
        cur.execute("DELETE FROM channels WHERE id = ANY(%s)", (channel_pks,))


def _report(plain: list[SyncResult], profiled: list[SyncResult], videos: int, latency_s: float) -> tuple[float, float]:
    """Comment lines about every run; returns (median W, median D)."""
    _say(f"channel: {videos:,} videos; fake YouTube latency {latency_s * 1000:g} ms per call")
    for n, (p, q) in enumerate(zip(plain, profiled, strict=True), start=1):
        _say(
            f"round {n}: plain {p.wall_s:.2f} s wall, {p.api_calls} API calls ({p.api_calls * latency_s:.2f} s of it "
            f"the fake's latency alone), {p.units} units; "
            f"profiled {q.wall_s:.2f} s wall, database time D {q.db_s:.2f} s"
        )
    wall, db_s = statistics.median(p.wall_s for p in plain), statistics.median(q.db_s for q in profiled)
    lower = statistics.median(q.db_s / q.wall_s for q in profiled)
    _say(
        f"median W {wall:.2f} s, median D {db_s:.2f} s (own time in psycopg2 and reliability/db.py); "
        f"D / profiled wall = {lower:.3f} (a lower bound: the profiler slows the Python side)"
    )
    middle = sorted(profiled, key=lambda q: q.db_s)[len(profiled) // 2]
    steps = [f"{file[:-3]}.{fn}" for file, fn in SYNC_STEPS]
    labels = ("HTTP to the API", *steps, "psycopg2 execute (C)", "psycopg2 mogrify (C)", "psycopg2 commit (C)")
    for name in labels:
        if name in middle.steps:
            _say(f"  profile (median run): {name:<26} {middle.steps[name]:7.3f} s")
    _say("method: S = (median W - median A) / median W; every run syncs a fresh channel of the same size")
    return wall, db_s


def _parse(argv: list[str]):
    parser = argparse.ArgumentParser(prog="python -m bench.sync_quota", description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=5000, help="videos in the channel")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the fake waits on every API call")
    parser.add_argument(
        "--rounds", type=int, default=3, help="plain and profiled syncs, alternating; medians are taken"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv or [])
    tmp = Path(tempfile.mkdtemp(prefix="yco-bench-sync-"))
    try:
        with ExitStack() as stack:
            # The job's client factory keeps the YouTube breaker in Redis, as in production.
            database_url, redis_url = stack.enter_context(services(tmp))
            embedded = not os.environ.get("DATABASE_URL")
            db.configure(db.PoolSettings(dsn=database_url, size=2, max_overflow=2))
            stack.callback(db.dispose_pool)
            migrations.upgrade()
            fake = stack.enter_context(FakeGoogle(latency_s=args.latency))
            settings = load_settings(
                environ={},
                overrides={
                    **fake.settings(),
                    "DATABASE_URL": database_url,
                    "REDIS_URL": redis_url,
                    "TOKEN_ENCRYPTION_KEY": [Fernet.generate_key().decode()],
                },
            )
            created: list[int] = []
            if not embedded:
                stack.callback(_delete_bench_rows, created)
            plain, profiled, api_only = [], [], []
            for n in range(args.rounds):
                api_only.append(
                    _api_only(fake, settings, f"bench-api-{os.getpid()}-{time.time_ns()}", args.videos, created)
                )
                # plain, profiled; then profiled, plain: drift hits both alike
                for profile in (False, True) if n % 2 == 0 else (True, False):
                    # The fake derives channel ids from the subject: a unique one never meets
                    # rows an interrupted earlier run left in a shared database.
                    subject = f"bench-{os.getpid()}-{time.time_ns()}"
                    result = _sync(fake, settings, subject, args.videos, profile=profile, created=created)
                    (profiled if profile else plain).append(result)
            wall, db_s = _report(plain, profiled, args.videos, args.latency)
            units = statistics.median(p.units for p in plain)
            print(f"sync_quota_units_vs_minimum={units / minimum_units(args.videos):.2f}", flush=True)
            api_wall = statistics.median(api_only)
            _say(
                f"median A {api_wall:.2f} s (the same API calls, nothing stored); "
                f"PostgreSQL busy D / W = {db_s / wall:.2f}, "
                "mostly overlapped with fetching the next page"
            )
            print(f"sync_db_share={max(0.0, wall - api_wall) / wall:.2f}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
