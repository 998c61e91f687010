"""One Redis client per process, with short timeouts so that a Redis outage
degrades a page instead of hanging it."""

from __future__ import annotations

import os

import redis
from flask import current_app

from reliability.redis_clients import web_client

_clients: dict[tuple[int, str], redis.Redis] = {}


def get_redis() -> redis.Redis:
    url = current_app.config["REDIS_URL"]
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = web_client(url)
    return client
