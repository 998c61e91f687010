"""Shared steps for YouTube integration tests: an app pointed at the fake,
connecting a channel through the real OAuth flow, running a real worker."""

from __future__ import annotations

import html
from urllib.parse import urlsplit

import psycopg2
import requests
from cryptography.fernet import Fernet

from tests.helpers import csrf_from

# Re-exported: the tests import the worker steps from here.
from tests.integration.worker_helpers import ROOT as ROOT
from tests.integration.worker_helpers import run_worker_burst as run_worker_burst
from tests.integration.worker_helpers import worker_env as worker_env

TOKEN_KEY = Fernet.generate_key().decode()


def youtube_app_config(app_config: dict, fake) -> dict:
    return {**app_config, **fake.settings(), "TOKEN_ENCRYPTION_KEY": [TOKEN_KEY]}


def start_connect(client) -> str:
    """Click "Connect a YouTube channel"; returns the Google consent URL the
    app redirected to."""
    page = client.get("/channels")
    start = client.post("/channels/connect", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert start.status_code == 302, start.get_data(as_text=True)
    return start.headers["Location"]


def google_consent(authorize_url: str) -> str:
    """What the browser does at Google: follow the consent URL; returns the
    path and query of the app's callback that Google redirects back to."""
    google = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert google.status_code == 302, google.text
    callback = urlsplit(google.headers["Location"])
    return f"{callback.path}?{callback.query}"


def connect_channel(client, fake, subject: str, channel_id: str | None = None):
    """Click Connect, follow Google's redirect to our callback; returns the
    final response of the callback."""
    fake.oauth.consent(subject, channel_id=channel_id)
    return client.get(google_consent(start_connect(client)))


def query(config: dict, sql: str, params=()) -> list[tuple]:
    """Rows from the test database, read over a connection of its own."""
    conn = psycopg2.connect(config["DATABASE_URL"])
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def channel_pk(config: dict, youtube_channel_id: str) -> int:
    [(pk,)] = query(
        config, "SELECT id FROM channels WHERE youtube_channel_id = %s AND NOT is_demo", (youtube_channel_id,)
    )
    return pk


def start_sync(client, channel_id: int, *, htmx: bool = False):
    """Press "Sync now" on the channel page (as a form post, or as htmx does)."""
    page = client.get(f"/channels/{channel_id}")
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/channels/{channel_id}/sync", data={"csrf_token": csrf_from(page.get_data(as_text=True))}, headers=headers
    )


def page_text(response) -> str:
    """A page's HTML with entities decoded, for assertions on what a user reads."""
    return html.unescape(response.get_data(as_text=True))
