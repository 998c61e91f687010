"""What a worker or cron process sets up before it touches a job: checked
configuration, JSON logs, the lazily made database pool, a Redis connection."""

from __future__ import annotations

import sys
from typing import Any

import redis

from reliability import db
from reliability.config import load_settings
from reliability.errors import ConfigError
from reliability.logs import configure_logging
from reliability.observability import init_sentry

QUEUES = ("high", "default", "low")

_settings: dict[str, Any] | None = None


def current_settings() -> dict[str, Any]:
    """This process's checked settings (loaded once; jobs run in forks of
    the worker, which inherit them)."""
    global _settings
    if _settings is None:
        _settings = load_settings()
        db.configure(db.pool_settings_from_config(_settings))
    return _settings


def prepare_process() -> dict[str, Any]:
    """Load settings (one clear line and exit 2 on a bad value), then set up
    logging and the database pool settings. No connection is opened here."""
    global _settings
    try:
        settings = load_settings()
        if not settings["DATABASE_URL"] or not settings["REDIS_URL"]:
            raise ConfigError("DATABASE_URL and REDIS_URL: expected both to be set (make run sets them for you)")
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings["LOG_LEVEL"])
    init_sentry(settings, "worker")
    db.configure(db.pool_settings_from_config(settings))
    _settings = settings
    return settings


def rq_connection(url: str) -> redis.Redis:
    """RQ blocks on Redis for minutes at a time, so no socket read timeout."""
    return redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
