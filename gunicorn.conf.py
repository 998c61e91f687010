"""gunicorn settings, each overridable from the environment.

Threaded workers: most of a request's time is spent waiting on PostgreSQL,
Redis or an outside API, and the pool is thread-safe. The app is not
preloaded, so each worker makes its own pools after the fork.
"""

import multiprocessing
import os
import sys

bind = os.environ.get("GUNICORN_BIND") or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() * 2)))
worker_class = "gthread"
# Two threads, not four: a page's waits on PostgreSQL and Redis are short,
# and each extra thread adds GIL hand-overs at every one of them. On the
# channel-page bench (8 rounds each, 4 processes on 2 cores) CPU per answer
# was 3.45 ms (2.99-3.80) with 4 threads, 3.15 (2.96-3.70) with 2, 3.11
# (2.94-3.65) with 1; two keep a slow request (an OAuth exchange with
# Google) from holding a whole process.
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# A worker is recycled after this many requests (a leak cannot grow for
# ever), but each restart costs about half a second of imports and template
# compiling: at 2,000 that was about 0.25 ms of CPU on every request.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = 2000
# Our own JSON request log replaces gunicorn's access log.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27's control socket lives at one path per user: two servers on a
# machine (a benchmark, tests) would take it from each other. We do not use it.
control_socket_disable = True


def on_starting(server):
    """Run the startup checks once in the master, before any worker boots, so
    a bad setting or, in staging and production, a failed critical check
    (exit 1 either way) stops start-up with one line instead of a crash loop.
    They open no connection that outlives them: nothing crosses the fork."""
    from reliability.startup_report import enforce

    enforce("web")
    # prometheus-client's multiprocess files of a previous run (of gone
    # processes only: a worker still running on this host keeps its counters).
    from reliability.metrics_files import clean_at_start

    clean_at_start()


def child_exit(server, worker):
    """Tell prometheus-client's multiprocess mode that this worker is gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """A quick stop ends a worker at once, whatever it is doing.

    A terminal's Ctrl-C (``make run``'s supervisor passes it on to the group)
    gives master and workers SIGINT, and the master then sends each worker
    SIGQUIT. gunicorn's gthread handler for both shuts the thread pool down
    under a lock it cannot take twice, and the second signal's handler runs
    inside the first: the worker hung for ever ("web did not stop within
    8 s"; reproduced, one quick stop in about fifteen). Taking only the first
    signal is not enough: without the pool's shutdown its idle threads keep
    the interpreter from exiting, and the shutdown's lock is also held while
    a request is handed to the pool. So the worker leaves with os._exit, as
    a quick stop means: no lock, no thread join, no interpreter teardown.
    A request in flight is cut, as before; a graceful stop (SIGTERM) is
    gunicorn's own and unchanged."""
    import signal

    def quit_now(signum, frame):
        worker.log.info("Worker exiting (pid: %s)", worker.pid)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, RuntimeError):
                pass
        os._exit(0)

    signal.signal(signal.SIGINT, quit_now)
    signal.signal(signal.SIGQUIT, quit_now)
