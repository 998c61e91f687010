"""A YouTube outage opens the shared 'youtube' breaker: the sync stops
without losing its place and /health shows the breaker open."""

import time

import redis

from optimizer.youtube.client import YouTubeError
from optimizer.youtube.factory import youtube_client_factory
from optimizer.youtube.sync import run_sync
from optimizer.youtube.tokens import store_tokens
from reliability.breaker import CircuitOpen
from reliability.config import load_settings
from reliability.crypto import TokenCipher
from reliability.db import transaction
from tests.fakes.google import fake_google_fixture
from tests.integration.youtube_helpers import TOKEN_KEY, youtube_app_config

fake_google = fake_google_fixture()


def test_an_outage_opens_the_breaker_and_the_run_can_resume(app_config, fake_google):
    config = youtube_app_config(app_config, fake_google)
    settings = load_settings(environ={}, overrides=config)
    channel = fake_google.world.add_channel("maya", "Maya", n_videos=120)
    token = fake_google.oauth.issue_tokens("maya")
    token["expires_at"] = int(time.time()) + 3000
    with transaction() as cur:
        cur.execute("INSERT INTO channels (youtube_channel_id, title) VALUES (%s, 'Maya') RETURNING id", (channel.id,))
        channel_pk = cur.fetchone()["id"]
        store_tokens(cur, channel_pk, token, TokenCipher([TOKEN_KEY]))
        cur.execute("INSERT INTO sync_runs (channel_id, kind) VALUES (%s, 'full') RETURNING id", (channel_pk,))
        run_id = cur.fetchone()["id"]
    fake_google.faults.inject("backendError", times=1000)
    outcomes = []
    for _attempt in range(5):  # the job queue's retries
        try:
            run_sync(run_id, youtube_client_factory(settings))
        except (YouTubeError, CircuitOpen) as exc:
            outcomes.append(type(exc).__name__)
    # Each attempt retries a failing call 3 times; once 10 calls failed the
    # breaker opens and later attempts make no call at all.
    assert outcomes[:2] == ["YouTubeError", "YouTubeError"] and outcomes[-1] == "CircuitOpen"
    assert sum(fake_google.calls.values()) <= 12
    with transaction() as cur:
        cur.execute("SELECT status FROM sync_runs WHERE id = %s", (run_id,))
        assert cur.fetchone()["status"] == "running"  # resumable by the queue's retry

    from webapp import create_app

    health = create_app(config).test_client().get("/health").get_json()
    assert health["breakers"]["youtube"] == "open"

    redis.Redis.from_url(config["REDIS_URL"]).delete("yco:breaker:youtube:state")  # the outage is over
    fake_google.faults.clear()
    assert run_sync(run_id, youtube_client_factory(settings)) == "succeeded"
