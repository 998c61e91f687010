"""Optimizing videos of a connected channel: transcripts are fetched from
YouTube once per video, and a video without captions is not asked again."""

import pytest

from tests.fakes.google import fake_google_fixture
from tests.helpers import register
from tests.integration.optimize_helpers import optimize
from tests.integration.youtube_helpers import channel_pk, connect_channel, query, run_worker_burst, youtube_app_config

fake_google = fake_google_fixture()


@pytest.fixture
def yt(app_config, fake_google):
    from webapp import create_app

    config = youtube_app_config(app_config, fake_google)
    return create_app(config), config


def test_captions_are_fetched_once_and_a_missing_track_is_remembered(yt, fake_google):
    app, config = yt
    channel = fake_google.world.add_channel("maya", "Maya Cooks", n_videos=2, captions=False)
    with_captions, without = fake_google.world.uploads(channel.id)
    fake_google.world.add_caption(with_captions.id, "en", "standard", text="Today we bake bread.\nKnead it well.")
    client = app.test_client()
    register(client)
    connect_channel(client, fake_google, "maya")
    assert run_worker_burst(config).returncode == 0  # the first sync, queued by connecting
    pk = channel_pk(config, channel.id)
    ids = [row[0] for row in query(config, "SELECT id FROM videos WHERE channel_id = %s ORDER BY id", (pk,))]

    optimize(client, pk, ids)
    assert run_worker_burst(config).returncode == 0
    assert fake_google.calls["captions.list"] == 2
    assert fake_google.calls["captions.download"] == 1
    sources = dict(
        query(config, "SELECT v.youtube_video_id, t.source FROM transcripts t JOIN videos v ON v.id = t.video_id")
    )
    assert sources == {with_captions.id: "manual", without.id: "none"}

    optimize(client, pk, ids)  # a second run: nothing to fetch again
    assert run_worker_burst(config).returncode == 0
    assert fake_google.calls["captions.list"] == 2
    assert fake_google.calls["captions.download"] == 1
    assert query(config, "SELECT count(*) FROM suggestions") == [(4,)]
