"""gunicorn settings, each overridable from the environment.

Threaded workers: most of a request's time is spent waiting on PostgreSQL,
Redis or an outside API, and the pool is thread-safe. The app is not
preloaded, so each worker makes its own pools after the fork.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND") or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() * 2)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# Our own JSON request log replaces gunicorn's access log.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27's control socket lives at one path per user: two servers on a
# machine (a benchmark, tests) would take it from each other. We do not use it.
control_socket_disable = True


def on_starting(server):
    """Check the configuration once in the master, before any worker boots,
    so a bad value stops start-up with one line instead of a crash loop."""
    from reliability.config import load_settings
    from reliability.errors import ConfigError

    try:
        load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", flush=True)
        raise SystemExit(2) from None


def child_exit(server, worker):
    """Tell prometheus-client's multiprocess mode that this worker is gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
