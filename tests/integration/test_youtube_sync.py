"""Connect a channel through OAuth and sync it, all through the fake."""

from tests.fakes.google import fake_google_fixture
from tests.helpers import register
from tests.integration.youtube_helpers import connect_channel, query, run_worker_burst

fake_google = fake_google_fixture()


def test_connect_then_sync_stores_every_video(yt_app, yt_config, fake_google):
    channel = fake_google.world.add_channel("alice", "Alice Bakes", n_videos=120)
    client = yt_app.test_client()
    register(client)
    response = connect_channel(client, fake_google, "alice")
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "Alice Bakes" in page.get_data(as_text=True)
    [(channel_pk,)] = query(yt_config, "SELECT id FROM channels WHERE youtube_channel_id = %s", (channel.id,))

    sync_page = client.get(f"/channels/{channel_pk}")
    from tests.helpers import csrf_from

    client.post(f"/channels/{channel_pk}/sync", data={"csrf_token": csrf_from(sync_page.get_data(as_text=True))})
    result = run_worker_burst(yt_config)
    assert result.returncode == 0, result.stderr[-2000:]

    [(count,)] = query(
        yt_config, "SELECT count(*) FROM videos WHERE channel_id = %s AND removed_at IS NULL", (channel_pk,)
    )
    assert count == 120
    [(unscored,)] = query(
        yt_config, "SELECT count(*) FROM videos WHERE channel_id = %s AND seo_score IS NULL", (channel_pk,)
    )
    assert unscored == 0  # scored right after the sync, for the table's sort and filter
    [(status, units)] = query(
        yt_config, "SELECT status, units_used FROM sync_runs WHERE channel_id = %s", (channel_pk,)
    )
    assert status == "succeeded"
    assert units == 1 + 2 * 3  # channels.list + 3 pages of (playlistItems + videos)
    assert fake_google.quota.used() == 7 + 1  # plus the channels.list made while connecting
    table = client.get(f"/channels/{channel_pk}?sort=views").get_data(as_text=True)
    assert "120 videos" in table
