"""One Redis client per process, with short timeouts so that a Redis outage
degrades a page instead of hanging it."""

from __future__ import annotations

import os

import redis
from flask import current_app

_clients: dict[tuple[int, str], redis.Redis] = {}


def redis_from_url(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0, health_check_interval=30)


def get_redis() -> redis.Redis:
    url = current_app.config["REDIS_URL"]
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = redis_from_url(url)
    return client
