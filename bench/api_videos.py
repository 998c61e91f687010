"""How fast the API serves a page of 50 videos to a script with a bearer
token, and what one answer costs, against a bare Flask page.

The measured sides, alternating in short rounds (``bench/serving.py``):
``GET /api/v1/channels/{id}/videos?limit=50`` with ``Authorization: Bearer``
(an access token from ``POST /api/v1/auth/token``), on the 500-video channel
``bench/channel_page.py`` seeds, and ``GET /`` of ``bench/hello_app.py``.

Prints, each the median of round-by-round values with its spread below it
as a comment:

``api_videos_vs_hello_rps_ratio``
    The API page's requests per second over hello's (target >= 0.2).
``api_videos_cpu_ms``
    CPU per answer in ms: gunicorn and its workers, plus PostgreSQL and
    Redis (``ServiceCPU``), target <= 1.5.

Each answer must be a 200 holding the id of the 50th video, or the
benchmark stops. The API's own rate limit is lifted for the run (the
limits have their own tests; a script this fast would meet them). On a
machine shared with other work the rps figures swing; CPU per answer much
less.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.channel_page import PER_PAGE, Seeded, _delete_seeded, _seed
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

UNLIMITED = {"API_RATE_LIMIT": "1000000 per minute", "API_BATCH_RATE_LIMIT": "1000000 per minute"}


def _token(server: Server, seeded: Seeded) -> str:
    body = json.dumps({"email": seeded.email, "password": seeded.password}).encode()
    status, _, answer = server.request(
        "POST",
        "/api/v1/auth/token",
        body=body,
        headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
    )
    if status != 200:
        raise RuntimeError(f"POST /api/v1/auth/token answered {status}: {answer[:500]!r}\n{server.log_tail()}")
    return str(json.loads(answer)["access_token"])


def _check(server: Server) -> bytes:
    """One GET: 50 videos, newest first; returns the bytes every answer must hold."""
    status, _, body = server.get()
    if status != 200:
        raise RuntimeError(f"GET {server.path} answered {status}: {body[:500]!r}\n{server.log_tail()}")
    page = json.loads(body)
    if len(page["videos"]) != PER_PAGE or page["next_cursor"] is None:
        raise RuntimeError(f"GET {server.path}: {len(page['videos'])} videos, not the page of {PER_PAGE} seeded")
    say(f"{server.name}: {len(body)} bytes, {len(page['videos'])} videos of {page['total']}, with a bearer token")
    return f'"id":{page["videos"][-1]["id"]},'.encode()


def main(argv: list[str] | None = None) -> int:
    args = load_parser("python -m bench.api_videos", __doc__.splitlines()[0]).parse_args(argv or [])
    tmp = Path(tempfile.mkdtemp(prefix="yco-bench-api-"))
    try:
        with ExitStack() as stack:
            database_url, redis_url = stack.enter_context(services(tmp))
            migrate(database_url)
            seeded = _seed(database_url)
            if os.environ.get("DATABASE_URL"):
                stack.callback(_delete_seeded, database_url, seeded)
            env = {**server_env(database_url, redis_url, tmp), **UNLIMITED}
            say(f"gunicorn.conf.py (every server): {gunicorn_settings(env)}")
            path = f"/api/v1/channels/{seeded.channel_id}/videos?limit={PER_PAGE}"
            api = Server("api_videos", "wsgi:app", path, env, tmp)
            stack.callback(api.stop)
            hello = Server("hello", "bench.hello_app:app", "/", env, tmp)
            stack.callback(hello.stop)
            api.wait_until_ready(path="/api/v1/openapi.json")
            hello.wait_until_ready()
            api.headers.update({"Authorization": f"Bearer {_token(api, seeded)}", "Accept": "application/json"})
            api.expect = _check(api)
            say(
                f"load: {args.processes} client processes x {args.connections} keep-alive connections, "
                f"{args.seconds:g} s per measurement, {args.rounds} rounds, {os.cpu_count()} CPUs shared"
            )
            meter = service_cpu(database_url, redis_url)
            results = measure([api, hello], args, strict=True, services_cpu=meter)
            _report(results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _report(results: dict[str, list[Result]]) -> None:
    for name, rounds in results.items():
        latencies = [ms for r in rounds for ms in r.latencies_ms]
        say(
            f"{name}: median {statistics.median(r.rps for r in rounds):.1f} rps, CPU per answer (app + PostgreSQL"
            f" + Redis) {statistics.median(r.cpu_ms_per_answer for r in rounds):.2f} ms,"
            f" p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms"
        )
    report("api_videos_vs_hello_rps_ratio", ratios(results["api_videos"], results["hello"]))
    report("api_videos_cpu_ms", [r.cpu_ms_per_answer for r in results["api_videos"]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
