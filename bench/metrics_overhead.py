"""What metrics and compression cost the channel page: requests per second
with both on against both off, same run.

Two gunicorns of the app (the same ``-c gunicorn.conf.py``, the same
database, Redis and session), measured in alternating short rounds
(``bench/serving.py``), each asked for the owner's channel page (500
videos, first page of 50; the page cache as configured) by clients that
send ``Accept-Encoding: gzip, br`` as browsers do:

- ``metrics_on``: as deployed: PROMETHEUS_MULTIPROC_DIR set (every request
  writes memory-mapped files), the request hook on, compression on (the kept
  page goes out as gzip made from its parts deflated once);
- ``metrics_off``: METRICS_ENABLED and COMPRESSION_ENABLED false, no
  PROMETHEUS_MULTIPROC_DIR (the pool and statement metrics then stay in
  the process's memory: they cannot be taken out of the code).

Prints ``metrics_overhead_ratio`` (on's rps over off's, round by round,
median; target at least 0.95) and, as comments, each side's CPU per answer
and bytes per answer. The seeding and the login are bench/channel_page.py's.
On a machine shared with other work the rps figures swing; the spread of
the rounds says how much.
"""

from __future__ import annotations

import gzip
import os
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from html import escape
from pathlib import Path

import brotli

from bench import channel_page
from bench.serving import Server, load_parser, measure, migrate, ratios, report, say, server_env, service_cpu, services

ACCEPT_ENCODING = "gzip, br"


def _servers(stack: ExitStack, env: dict[str, str], tmp: Path, seeded: channel_page.Seeded) -> list[Server]:
    path = f"/channels/{seeded.channel_id}"
    on_env = {**env, "METRICS_ENABLED": "true", "COMPRESSION_ENABLED": "true"}
    on_env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / "metrics")
    (tmp / "metrics").mkdir()  # as the image makes its folder: no process makes one
    off_env = {**env, "METRICS_ENABLED": "false", "COMPRESSION_ENABLED": "false"}
    on = Server("metrics_on", "wsgi:app", path, on_env, tmp)
    stack.callback(on.stop)
    off = Server("metrics_off", "wsgi:app", path, off_env, tmp)
    stack.callback(off.stop)
    for server in (on, off):
        server.wait_until_ready(path="/login")
    cookie = channel_page._log_in(on, seeded)  # one session, valid on both: same database and SECRET_KEY
    newest = f">{escape(seeded.titles[-1])}</a>".encode()
    for server, encoding in ((on, "gzip"), (off, None)):
        server.headers = {"Cookie": cookie, "Accept-Encoding": ACCEPT_ENCODING}
        _check(server, encoding, newest)
    return [on, off]


def _check(server: Server, encoding: str | None, expect: bytes) -> None:
    """One answer before the load: 200, compressed as it should be, and the
    channel page (its newest video). Under load only the status is checked:
    the load generator does not decompress."""
    status, headers, body = server.get()
    sent = headers.get("Content-Encoding")
    if status != 200 or sent != encoding:
        raise RuntimeError(f"{server.name}: {status}, Content-Encoding {sent!r}, expected {encoding!r}")
    html = brotli.decompress(body) if sent == "br" else gzip.decompress(body) if sent == "gzip" else body
    if expect not in html:
        raise RuntimeError(f"{server.name}: GET {server.path} is not the seeded channel page")
    say(f"{server.name}: {len(body)} bytes on the wire ({sent or 'not compressed'}), {len(html)} bytes of HTML")


def main(argv: list[str] | None = None) -> int:
    args = load_parser("python -m bench.metrics_overhead", __doc__.splitlines()[0]).parse_args(argv or [])
    tmp = Path(tempfile.mkdtemp(prefix="yco-bench-metrics-"))
    try:
        with ExitStack() as stack:
            database_url, redis_url = stack.enter_context(services(tmp))
            migrate(database_url)
            seeded = channel_page._seed(database_url)
            if os.environ.get("DATABASE_URL"):
                stack.callback(channel_page._delete_seeded, database_url, seeded)
            env = server_env(database_url, redis_url, tmp)
            env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each side says its own
            say(
                f"load: {args.processes} client processes x {args.connections} keep-alive connections, "
                f"{args.seconds:g} s per measurement, {args.rounds} rounds, {os.cpu_count()} CPUs shared"
            )
            results = measure(
                _servers(stack, env, tmp, seeded), args, strict=True, services_cpu=service_cpu(database_url, redis_url)
            )
            for name, rounds in results.items():
                cpu = statistics.median(r.cpu_ms_per_answer for r in rounds)
                say(f"{name}: median {statistics.median(r.rps for r in rounds):.1f} rps, CPU per answer {cpu:.2f} ms")
            report("metrics_overhead_ratio", ratios(results["metrics_on"], results["metrics_off"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
