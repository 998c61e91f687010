"""A 50-video optimization batch, as the product runs it.

Prints six figures:

``batch_wall_vs_ideal=W``
    Wall time from enqueuing the run to the run's finish (both read from the
    database server's clock), with two workers already started and idle, as
    in production (``make run``, the Procfile), divided by the least a batch
    can take with LLM_MAX_CONCURRENCY calls in flight and every call taking
    L seconds: ceil(50 / LLM_MAX_CONCURRENCY) * L. Target at most 1.25.

``batch_wall_vs_ideal_cold_start=Wc``
    The same for a batch enqueued before any worker runs, two burst workers
    started right after: W plus the processes' start-up, which on a small
    machine is mostly importing the anthropic SDK.

``batch_cached_input_share=C``
    cache_read_input_tokens / all input tokens (input + cache writes + cache
    reads), as the Anthropic fake reports them, over the batch. Target at
    least 0.6.

``claude_calls_per_video=K``
    Requests at the Anthropic fake / 50. Target 1.00.

``claude_calls_per_video_sloppy_tags=K``
    The same for a third batch whose answers repeat tags in other case,
    wrap one in angle brackets and pass the 500-character budget
    (``sloppy_tags_answer``): the app mends them locally. Target 1.00.

``youtube_units_per_optimized_video=U``
    YouTube quota units the fake Google API charged per optimized video of a
    connected channel whose transcripts are not stored yet (captions.list 50
    + captions.download 200, once per video; research never uses YouTube's
    search.list). The demo channel's transcripts are stored, so its batch
    costs 0 units (a comment line says what was measured). Target at most 250.

Set-up, measuring what the product really does: PostgreSQL from DATABASE_URL
and Redis from REDIS_URL, else embedded ones in a temporary directory (like
bench/sync_quota.py); the demo channel imported for a bench user (48 videos,
so two of them are copied as new videos to make 50); the Anthropic fake
answering every call in 1.0 s (``--latency``); the run created by the same
function the Optimize button uses (``webapp.optimize.store.create_run``) and
queued with ``jobs.enqueue.enqueue_optimization``; then two real workers
(``python -m jobs.worker --burst``) started together. A batch is one RQ job
whose thread pool has LLM_MAX_CONCURRENCY threads, so one worker does it all
and the other finds the queue empty and exits. The connected channel (U) is a FakeGoogle channel stored
with its OAuth tokens and synced with the product's sync, then a 3-video run
goes through a real worker the same way.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import redis
from cryptography.fernet import Fernet
from rq import Worker

from jobs.enqueue import enqueue_optimization
from optimizer.demo_import import import_demo_channel
from optimizer.youtube.factory import youtube_client_factory
from optimizer.youtube.sync import run_sync
from reliability import db, migrations
from reliability.config import load_settings
from reliability.crypto import TokenCipher
from reliability.db import transaction
from tests.fakes.anthropic import FakeAnthropic, sloppy_tags_answer
from tests.fakes.google import FakeGoogle
from webapp.optimize.store import create_run

ROOT = Path(__file__).resolve().parent.parent
BATCH = 50


def _say(line: str) -> None:
    print(f"# {line}", flush=True)


@contextmanager
def _services(tmp: Path) -> Iterator[tuple[str, str, bool]]:
    """(database url, redis url, embedded): the environment's, or embedded servers."""
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    with ExitStack() as stack:
        if not database_url:
            from reliability.embedded import start_postgres

            database_url, stop = start_postgres(tmp / "postgres", database="yco_bench", delete_on_stop=True)
            stack.callback(stop)
        if not redis_url:
            from reliability.embedded import start_redis

            redis_url, stop = start_redis(tmp / "redis")
            stack.callback(stop)
        embedded = "DATABASE_URL" not in os.environ
        _say(
            "database: "
            f"{'embedded PostgreSQL' if embedded else 'DATABASE_URL (the bench rows are deleted afterwards)'}; "
            f"redis: {'REDIS_URL' if 'REDIS_URL' in os.environ else 'embedded Redis'}"
        )
        yield database_url, redis_url, embedded


def _bench_user() -> int:
    with transaction() as cur:
        cur.execute(
            "INSERT INTO users (email, password_hash) VALUES (%s, 'bench: no login') RETURNING id",
            (f"bench-{uuid.uuid4().hex[:8]}@example.com",),
        )
        return cur.fetchone()["id"]


def _copy_video(cur, video_id: int, suffix: str) -> None:
    """A new video made from an existing one, with its transcript and a version."""
    cur.execute(
        """INSERT INTO videos (channel_id, youtube_video_id, title, description, tags, category_id, default_language,
                               default_audio_language, published_at, duration_seconds, privacy_status, view_count)
           SELECT channel_id, youtube_video_id || %s, title || ' (Take 2)', description, tags, category_id,
                  default_language, default_audio_language, published_at, duration_seconds, privacy_status, view_count
           FROM videos WHERE id = %s RETURNING id""",
        (suffix, video_id),
    )
    copy = cur.fetchone()["id"]
    cur.execute(
        "INSERT INTO transcripts (video_id, language, source, text) SELECT %s, language, source, text "
        "FROM transcripts WHERE video_id = %s",
        (copy, video_id),
    )
    cur.execute(
        """INSERT INTO metadata_versions (video_id, source, title, description, tags, category_id, default_language,
                                          default_audio_language, content_hash)
           SELECT %s, source, title || ' (Take 2)', description, tags, category_id, default_language,
                  default_audio_language, md5(content_hash || %s)
           FROM metadata_versions WHERE video_id = %s ORDER BY id DESC LIMIT 1""",
        (copy, suffix, video_id),
    )


def _demo_videos(user_id: int) -> tuple[int, list[int]]:
    channel_id = import_demo_channel(user_id)
    with transaction() as cur:
        cur.execute("SELECT id FROM videos WHERE channel_id = %s ORDER BY id", (channel_id,))
        ids = [r["id"] for r in cur.fetchall()]
        for n, video_id in enumerate(ids[: BATCH - len(ids)]):
            _copy_video(cur, video_id, f"-take2-{n}")
        cur.execute("SELECT id FROM videos WHERE channel_id = %s ORDER BY id", (channel_id,))
        return channel_id, [r["id"] for r in cur.fetchall()][:BATCH]


def _worker_env(env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "ENVIRONMENT": "test", "LOG_LEVEL": "warning", "SECRET_KEY": "bench-" + "x" * 40, **env}


WORKER = [sys.executable, "-m", "jobs.worker"]


def _start_workers(command: list[str], env: dict[str, str], count: int) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            command, cwd=ROOT, env=_worker_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(count)
    ]


def _run_batch(
    env: dict[str, str],
    redis_url: str,
    channel_id: int,
    user_id: int,
    videos: list[int],
    workers: int,
    *,
    warm: list[str] | None = None,
) -> tuple[int, float, str]:
    """Create and enqueue a run and wait for it to finish; returns (run id,
    wall seconds by the database clock, status). Cold (the default):
    ``workers`` burst workers are started right after enqueuing. ``warm``:
    ``workers`` workers started with that command are already waiting when
    the run is enqueued (as in production), and are stopped afterwards."""
    connection = redis.Redis.from_url(redis_url)
    waiting = []
    if warm:
        waiting = _start_workers(warm, env, workers)
        deadline = time.monotonic() + 120
        while len(Worker.all(connection=connection)) < workers and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)  # past its start-up (scheduler, first maintenance): now idle, blocked on the queue
    with transaction() as cur:
        run, _ = create_run(cur, channel_id, user_id, uuid.uuid4().hex, videos)
    with transaction() as cur:
        cur.execute("SELECT clock_timestamp() AS t")
        enqueued_at = cur.fetchone()["t"]
    enqueue_optimization(connection, run["id"])
    if warm:
        row = _wait_finished(run["id"])
        for proc in waiting:
            proc.send_signal(signal.SIGTERM)
        logs = [proc.communicate(timeout=60)[0] for proc in waiting]
    else:
        logs = [proc.communicate()[0] for proc in _start_workers([*WORKER, "--burst"], env, workers)]
        row = _wait_finished(run["id"], timeout_s=0)
    connection.close()
    if row["finished_at"] is None:
        raise RuntimeError("the run did not finish: " + "\n".join(log[-2000:] for log in logs))
    return run["id"], (row["finished_at"] - enqueued_at).total_seconds(), row["status"]


def _wait_finished(run_id: int, timeout_s: float = 600) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        with transaction() as cur:
            cur.execute("SELECT status, finished_at FROM optimization_runs WHERE id = %s", (run_id,))
            row = cur.fetchone()
        if row["finished_at"] is not None or time.monotonic() >= deadline:
            return row
        time.sleep(0.1)


def _check_stored(run_id: int, videos: int) -> None:
    """A figure about a batch that did not give every video Claude's answer would mean nothing."""
    with transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM suggestions WHERE run_id = %s AND engine = 'claude'", (run_id,))
        stored = cur.fetchone()["n"]
    if stored != videos:
        raise RuntimeError(f"{stored} of {videos} videos got a Claude suggestion")


def _timeline(run_id: int) -> None:
    """Where the wall time went, from the database's own timestamps."""
    with transaction() as cur:
        cur.execute(
            """SELECT extract(epoch FROM r.started_at - r.created_at) AS to_start,
                      extract(epoch FROM min(l.occurred_at) - r.started_at) AS to_first_answer,
                      extract(epoch FROM max(l.occurred_at) - min(l.occurred_at)) AS answers_span,
                      extract(epoch FROM r.finished_at - max(s.created_at)) AS after_last
               FROM optimization_runs r JOIN usage_ledger l ON l.run_id = r.id JOIN suggestions s ON s.run_id = r.id
               WHERE r.id = %s GROUP BY r.id""",
            (run_id,),
        )
        row = cur.fetchone()
    _say(
        f"timeline: run created -> job started {row['to_start']:.2f} s (worker start-up, fork); started -> first "
        f"answer {row['to_first_answer']:.2f} s; first -> last answer {row['answers_span']:.2f} s; last suggestion "
        f"-> finished {row['after_last']:.2f} s"
    )


def _connected_channel(google: FakeGoogle, settings: dict, user_id: int, videos: int) -> tuple[int, list[int]]:
    """A channel connected the way the OAuth callback leaves it, then synced by the product."""
    world_channel = google.world.add_channel("bench-owner", "Bench Bakery", n_videos=videos, captions=True)
    token = google.oauth.issue_tokens("bench-owner")
    token["expires_at"] = int(time.time()) + int(token["expires_in"])
    from optimizer.youtube.tokens import store_tokens

    with transaction() as cur:
        cur.execute(
            """INSERT INTO channels (youtube_channel_id, title, uploads_playlist_id, status, created_by)
               VALUES (%s, %s, %s, 'connected', %s) RETURNING id""",
            (world_channel.id, world_channel.title, world_channel.uploads_playlist_id, user_id),
        )
        channel_id = cur.fetchone()["id"]
        store_tokens(cur, channel_id, token, TokenCipher(settings["TOKEN_ENCRYPTION_KEY"]))
        cur.execute("INSERT INTO sync_runs (channel_id, kind) VALUES (%s, 'full') RETURNING id", (channel_id,))
        sync_id = cur.fetchone()["id"]
    if run_sync(sync_id, youtube_client_factory(settings)) != "succeeded":
        raise RuntimeError("the connected channel's sync failed")
    with transaction() as cur:
        cur.execute("SELECT id FROM videos WHERE channel_id = %s ORDER BY id", (channel_id,))
        return channel_id, [r["id"] for r in cur.fetchall()]


def _youtube_units(base_env: dict[str, str], redis_url: str, user_id: int, database_url: str) -> float:
    key = Fernet.generate_key().decode()
    with FakeGoogle() as google:
        # The sync's client factory keeps the YouTube breaker in Redis: pass the bench's own.
        settings = load_settings(
            environ={},
            overrides={
                **google.settings(),
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "TOKEN_ENCRYPTION_KEY": [key],
            },
        )
        channel_id, videos = _connected_channel(google, settings, user_id, 3)
        env = {**base_env, **google.settings(), "TOKEN_ENCRYPTION_KEY": key}
        before, calls_before = google.quota.used(), dict(google.quota.used_by_endpoint())
        run_id, _, status = _run_batch(env, redis_url, channel_id, user_id, videos, workers=1)
        units = google.quota.used() - before
        spent = {
            k: v - calls_before.get(k, 0)
            for k, v in google.quota.used_by_endpoint().items()
            if v != calls_before.get(k, 0)
        }
        again_before = google.quota.used()
        _run_batch(env, redis_url, channel_id, user_id, videos, workers=1)  # transcripts now stored
        again = google.quota.used() - again_before
        if any(r.path.rstrip("/").endswith("/search") for r in google.requests):
            raise RuntimeError("optimization called YouTube's search.list (100 units a call)")
    _check_stored(run_id, len(videos))
    _say(
        f"connected channel: {len(videos)} videos without stored transcripts, run {status}: {units} units "
        f"({spent}); the same videos again: {again} units"
    )
    return units / len(videos)


def _import_s() -> float:
    code = "import time; t = time.perf_counter(); import jobs.optimize; print(time.perf_counter() - t)"
    return float(
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=_worker_env({}), capture_output=True, text=True, check=True
        ).stdout
    )


def _parse(argv: list[str]):
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the Anthropic fake takes per call")
    parser.add_argument("--concurrency", type=int, default=8, help="LLM_MAX_CONCURRENCY")
    parser.add_argument("--workers", type=int, default=2, help="burst workers started together")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv or [])
    tmp = Path(tempfile.mkdtemp(prefix="yco-bench-batch-"))
    try:
        with ExitStack() as stack:
            database_url, redis_url, embedded = stack.enter_context(_services(tmp))
            db.configure(db.PoolSettings(dsn=database_url, size=2, max_overflow=2))
            stack.callback(db.dispose_pool)
            migrations.upgrade()
            user_id = _bench_user()
            if not embedded:
                stack.callback(_delete_bench_rows, user_id)
            claude = stack.enter_context(FakeAnthropic(latency_s=args.latency))
            base_env = {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                **claude.settings(),
                "LLM_MAX_CONCURRENCY": str(args.concurrency),
                "SERPAPI_API_KEY": "",
                "INSTANCE_DIR": str(tmp / "instance"),
            }

            channel_id, videos = _demo_videos(user_id)
            run_id, wall, status = _run_batch(base_env, redis_url, channel_id, user_id, videos, args.workers)
            _check_stored(run_id, BATCH)
            _timeline(run_id)
            usage, calls = claude.usage, claude.total_calls
            all_input = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
            ideal = math.ceil(BATCH / args.concurrency) * args.latency
            _say(
                f"demo batch: {len(videos)} videos, run {status}, {wall:.2f} s from enqueue to finish "
                f"(ideal {ideal:g} s = ceil({BATCH}/{args.concurrency}) x {args.latency:g} s); fake calls "
                f"{calls}, max in flight {claude.max_in_flight}; tokens: input {usage.input_tokens:,}, "
                f"cache writes {usage.cache_creation_input_tokens:,}, cache reads {usage.cache_read_input_tokens:,}, "
                f"output {usage.output_tokens:,}; YouTube units 0 (demo transcripts are stored, no Google config)"
            )
            _say(
                f"of which start-up: importing jobs.optimize in a fresh process takes {_import_s():.2f} s here "
                "(the worker now imports the job modules before it forks, so a waiting worker has paid it)"
            )
            claude.reset_counters()
            warm_channel, warm_videos = _demo_videos(user_id)
            warm_run, warm_wall, warm_status = _run_batch(
                base_env, redis_url, warm_channel, user_id, warm_videos, args.workers, warm=WORKER
            )
            _check_stored(warm_run, BATCH)
            _say(
                f"the same batch with {args.workers} workers already waiting (production): run {warm_status}, "
                f"{warm_wall:.2f} s from enqueue to finish, wall/ideal {warm_wall / ideal:.2f}"
            )
            _timeline(warm_run)
            claude.reset_counters()
            claude.respond_with(sloppy_tags_answer)
            sloppy_channel, sloppy_videos = _demo_videos(user_id)
            sloppy_run, _, sloppy_status = _run_batch(
                base_env, redis_url, sloppy_channel, user_id, sloppy_videos, args.workers, warm=WORKER
            )
            _check_stored(sloppy_run, BATCH)
            sloppy_calls = claude.total_calls
            _say(
                f"a batch whose answers repeat tags and pass the tag budget: run {sloppy_status}, "
                f"{sloppy_calls} calls for {BATCH} videos"
            )
            claude.respond_with(None)
            units = _youtube_units(base_env, redis_url, user_id, database_url)

            print(f"batch_wall_vs_ideal={warm_wall / ideal:.2f}", flush=True)
            print(f"batch_wall_vs_ideal_cold_start={wall / ideal:.2f}", flush=True)
            print(f"batch_cached_input_share={usage.cache_read_input_tokens / all_input:.2f}", flush=True)
            print(f"claude_calls_per_video={calls / BATCH:.2f}", flush=True)
            print(f"claude_calls_per_video_sloppy_tags={sloppy_calls / BATCH:.2f}", flush=True)
            print(f"youtube_units_per_optimized_video={units:.2f}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _delete_bench_rows(user_id: int) -> None:
    """On a shared database, leave nothing behind (ledgers count against real limits)."""
    with transaction() as cur:
        cur.execute("DELETE FROM usage_ledger WHERE user_id = %s", (user_id,))
        cur.execute(
            "DELETE FROM quota_ledger WHERE channel_id IN (SELECT id FROM channels WHERE created_by = %s)", (user_id,)
        )
        cur.execute("DELETE FROM channels WHERE created_by = %s", (user_id,))
        cur.execute("DELETE FROM users WHERE id = %s", (user_id,))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
