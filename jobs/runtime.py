"""What a worker or cron process sets up before it touches a job: checked
configuration, JSON logs, the lazily made database pool, a Redis connection."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from reliability import db
from reliability.config import load_settings
from reliability.errors import STARTUP_FAILED_EXIT, ConfigError
from reliability.logs import configure_logging
from reliability.observability import init_sentry
from reliability.pool import pool_settings_from_config

QUEUES = ("high", "default", "low")

_settings: dict[str, Any] | None = None


def current_settings() -> dict[str, Any]:
    """This process's checked settings (loaded once; jobs run in forks of
    the worker, which inherit them)."""
    global _settings
    if _settings is None:
        _settings = load_settings()
        db.configure(pool_settings_from_config(_settings))
    return _settings


@contextmanager
def use_settings(environ: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """Jobs run in this process read the settings checked from ``environ``
    until the block ends; then this process's own settings come back. The
    database pool is configured from them (and stays so: the caller restores
    its own pool settings if it had others). For running jobs in-process (the tests' RQ
    SimpleWorker, pointed at their fakes) instead of a worker's environment."""
    global _settings
    previous = _settings
    settings = load_settings(environ)
    db.configure(pool_settings_from_config(settings))
    _settings = settings
    try:
        yield settings
    finally:
        _settings = previous


def prepare_process(component: str = "worker") -> dict[str, Any]:
    """Load settings (one clear line and exit 1 on a bad value), then set up
    logging and the database pool settings. No connection is opened here."""
    global _settings
    try:
        settings = load_settings()
        if not settings["DATABASE_URL"] or not settings["REDIS_URL"]:
            raise ConfigError("DATABASE_URL and REDIS_URL: expected both to be set (make run sets them for you)")
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(STARTUP_FAILED_EXIT)
    configure_logging(settings["LOG_LEVEL"])
    init_sentry(settings, component)  # the Sentry events' component tag: worker or cron
    db.configure(pool_settings_from_config(settings))
    _settings = settings
    return settings
