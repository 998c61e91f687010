"""How fast the login page is served, against a bare Flask page.

Prints ``login_vs_hello_rps_ratio=R``: requests per second for ``GET /login``
of the real app (``wsgi:app``: template, CSRF token, session cookie, rate
limiter in Redis, security headers, request log) divided by requests per
second for ``GET /`` of ``bench/hello_app.py``; ``login_vs_reference_ratio``,
the same against ``GET /login`` of ``bench/reference_app.py`` (the same
extensions configured the same way, nothing else: the stack's ceiling); and
``login_cpu_ms``, CPU per answer of the app, PostgreSQL and Redis. Each
figure is the median of round-by-round values, its spread printed below it
as a comment. All three run at the same time
under gunicorn with the same ``-c gunicorn.conf.py``, on free loopback ports,
and are driven in turn by the same load generator (``bench/loadgen.py``)
for the same time, alternating so that drift on the machine hits both; the
median of the rounds is taken. The ratio measures what the app adds per
request on this machine, whatever the machine.

Uses DATABASE_URL / REDIS_URL when set (migrating that database, as `make
run` does); otherwise embedded PostgreSQL and Redis in a temporary directory,
removed at the end.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.serving import (
    Response,
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


def _check_login_page(response: Response) -> None:
    """Measure what we mean to: the real page with its token and cookie."""
    _, headers, body = response
    if b"csrf_token" not in body or "yco_session=" not in (headers.get("Set-Cookie") or ""):
        raise RuntimeError("GET /login answered 200 without a CSRF token or a session cookie")
    say(f"login page: {len(body)} bytes, CSRF token and session cookie present")


def _parse(argv: list[str]):
    return load_parser("python -m bench", __doc__.splitlines()[0]).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv or [])
    tmp = Path(tempfile.mkdtemp(prefix="yco-bench-"))
    try:
        with ExitStack() as stack:
            database_url, redis_url = stack.enter_context(services(tmp))
            migrate(database_url)
            env = server_env(database_url, redis_url, tmp)
            say(f"gunicorn.conf.py (both servers): {gunicorn_settings(env)}")
            say(
                f"load: {args.processes} client processes x {args.connections} keep-alive connections, "
                f"{args.seconds:g} s per measurement, {args.rounds} rounds, {os.cpu_count()} CPUs shared"
            )
            login = Server("login", "wsgi:app", "/login", env, tmp)
            stack.callback(login.stop)
            reference = Server("reference_login", "bench.reference_app:app", "/login", env, tmp)
            stack.callback(reference.stop)
            hello = Server("hello", "bench.hello_app:app", "/", env, tmp)
            stack.callback(hello.stop)
            _check_login_page(login.wait_until_ready())
            _check_login_page(reference.wait_until_ready())
            hello.wait_until_ready()
            meter = service_cpu(database_url, redis_url)
            results = measure([login, reference, hello], args, services_cpu=meter)
            for name, rounds in results.items():
                say(
                    f"median: {name} {statistics.median(r.rps for r in rounds):.1f} rps, CPU per answer (server "
                    f"+ PostgreSQL + Redis) {statistics.median(r.cpu_ms_per_answer for r in rounds):.2f} ms"
                )
            report("login_vs_hello_rps_ratio", ratios(results["login"], results["hello"]))
            report("login_vs_reference_ratio", ratios(results["login"], results["reference_login"]))
            report("login_cpu_ms", [r.cpu_ms_per_answer for r in results["login"]])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
