"""Shared steps for YouTube integration tests: an app pointed at the fake,
connecting a channel through the real OAuth flow, running a real worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from tests.helpers import csrf_from

ROOT = Path(__file__).resolve().parents[2]
TOKEN_KEY = Fernet.generate_key().decode()


def youtube_app_config(app_config: dict, fake) -> dict:
    return {**app_config, **fake.settings(), "TOKEN_ENCRYPTION_KEY": [TOKEN_KEY]}


def worker_env(config: dict) -> dict[str, str]:
    """The environment a worker process needs to reach the same servers."""
    env = dict(os.environ)
    for name, value in config.items():
        if isinstance(value, list):
            value = ",".join(value)
        if isinstance(value, (str, int, float, bool)):
            env[name] = str(value)
    return env


def run_worker_burst(config: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    """A real RQ worker, in its own process, until the queues are empty."""
    return subprocess.run(
        [sys.executable, "-m", "jobs.worker", "--burst"], cwd=ROOT, env=worker_env(config),
        capture_output=True, text=True, timeout=timeout,
    )


def connect_channel(client, fake, subject: str, channel_id: str | None = None):
    """Click Connect, follow Google's redirect to our callback; returns the
    final response of the callback."""
    fake.oauth.consent(subject, channel_id=channel_id)
    page = client.get("/channels")
    start = client.post("/channels/connect", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert start.status_code == 302, start.get_data(as_text=True)
    import requests

    google = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert google.status_code == 302, google.text
    callback = urlsplit(google.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")
