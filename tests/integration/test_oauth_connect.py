"""Connecting a YouTube channel through Google OAuth, against the fake Google:
the authorization request, the callback's checks, tokens at rest, picking
among several channels, refresh, revocation, disconnect and key rotation."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet, InvalidToken

from tests.fakes.google import ALL_CHANNELS, YOUTUBE_FORCE_SSL, YT_ANALYTICS_READONLY, fake_google_fixture, s256
from tests.helpers import csrf_from, register
from tests.integration.mail_helpers import invite_and_accept
from tests.integration.youtube_helpers import (
    TOKEN_KEY,
    channel_pk,
    connect_channel,
    google_consent,
    page_text,
    query,
    run_worker_burst,
    start_connect,
    start_sync,
)

fake_google = fake_google_fixture()


def _connected(creator, fake, yt_config, *, title="Alice Bakes", n_videos=60) -> tuple[int, object]:
    """Alice's channel, connected by the creator through the real flow."""
    channel = fake.world.add_channel("alice", title, n_videos=n_videos)
    response = connect_channel(creator, fake, "alice")
    assert response.status_code == 302, page_text(response)
    return channel_pk(yt_config, channel.id), channel


def _sync(client, channel_id: int, config: dict) -> tuple[str, str | None]:
    """Press Sync now, let a real worker run it; the run's (status, error)."""
    response = start_sync(client, channel_id)
    assert response.status_code == 302, page_text(response)
    result = run_worker_burst(config)
    assert result.returncode == 0, result.stderr[-2000:]
    [(status, error)] = query(
        config, "SELECT status, error FROM sync_runs WHERE channel_id = %s ORDER BY id DESC LIMIT 1", (channel_id,)
    )
    return status, error


def _stored_tokens(config: dict, channel_id: int) -> tuple[str, str]:
    [(access, refresh)] = query(
        config, "SELECT access_token_enc, refresh_token_enc FROM oauth_tokens WHERE channel_id = %s", (channel_id,)
    )
    return access, refresh


def _issued_refresh_tokens(fake) -> list[str]:
    return [g.refresh_token for g in fake.oauth.grants if g.refresh_token]


def _token_grants(fake) -> list[str]:
    return [r.form.get("grant_type") for r in fake.requests_to("/token", "POST")]


def _channel_count(config: dict) -> int:
    [(count,)] = query(config, "SELECT count(*) FROM channels WHERE NOT is_demo")
    return count


# -- the flow ------------------------------------------------------------------


def test_oauth_flow_asks_for_offline_access_with_pkce_and_lists_the_channel(creator, fake_google, yt_config):
    fake_google.world.add_channel("alice", "Alice Bakes", n_videos=3)
    fake_google.oauth.consent("alice")

    authorize_url = start_connect(creator)
    assert authorize_url.startswith(fake_google.authorize_url)
    asked = {name: values[0] for name, values in parse_qs(urlsplit(authorize_url).query).items()}
    assert len(asked["state"]) >= 16
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["code_challenge"]) == 43  # base64url of a SHA-256, unpadded
    assert asked["access_type"] == "offline"
    assert set(asked["scope"].split()) >= {YOUTUBE_FORCE_SSL, YT_ANALYTICS_READONLY}
    assert asked["response_type"] == "code"

    callback = creator.get(google_consent(authorize_url))
    assert callback.status_code == 302
    channel_id = channel_pk(yt_config, fake_google.world.channels_of("alice")[0].id)
    assert urlsplit(callback.headers["Location"]).path == f"/channels/{channel_id}"

    [token_request] = fake_google.requests_to("/token", "POST")
    assert token_request.form["grant_type"] == "authorization_code"
    assert s256(token_request.form["code_verifier"]) == asked["code_challenge"]
    assert token_request.form["redirect_uri"] == parse_qs(urlsplit(authorize_url).query)["redirect_uri"][0]

    listing = page_text(creator.get("/channels"))
    assert "Alice Bakes" in listing
    row = listing[listing.index(f'href="/channels/{channel_id}">Alice Bakes</a>') :]
    assert "Owner" in row[: row.index("</tr>")]
    assert query(yt_config, "SELECT role FROM channel_members WHERE channel_id = %s", (channel_id,)) == [("owner",)]


def test_connecting_starts_syncing_the_videos_as_the_page_says(creator, fake_google, yt_config):
    channel = fake_google.world.add_channel("alice", "Alice Bakes", n_videos=60)

    response = connect_channel(creator, fake_google, "alice")
    page = page_text(creator.get(response.headers["Location"]))

    assert "Connected Alice Bakes. Syncing its videos now." in page
    assert "Syncing: 0" in page  # the progress widget, polling for itself
    result = run_worker_burst(yt_config)  # nobody pressed Sync now
    assert result.returncode == 0, result.stderr[-2000:]
    channel_id = channel_pk(yt_config, channel.id)
    assert query(yt_config, "SELECT count(*) FROM videos WHERE channel_id = %s", (channel_id,)) == [(60,)]
    assert query(yt_config, "SELECT status FROM sync_runs WHERE channel_id = %s", (channel_id,)) == [("succeeded",)]


def test_callback_with_another_state_is_refused(creator, fake_google, yt_config):
    fake_google.world.add_channel("alice", "Alice Bakes")
    fake_google.oauth.consent("alice")
    callback = google_consent(start_connect(creator))
    parts = urlsplit(callback)
    params = parse_qs(parts.query)
    params["state"] = ["forged-" + params["state"][0][::-1]]
    forged = "&".join(f"{k}={v[0]}" for k, v in params.items())

    response = creator.get(f"{parts.path}?{forged}")

    assert response.status_code == 400
    assert "This sign-in link is stale or was not started here" in page_text(response)
    assert _channel_count(yt_config) == 0
    assert fake_google.requests_to("/token") == []  # the code was never exchanged


def test_callback_without_a_pending_flow_is_refused(creator, fake_google, yt_config, yt_app):
    fake_google.world.add_channel("alice", "Alice Bakes")
    fake_google.oauth.consent("alice")
    callback = google_consent(start_connect(creator))
    stranger = yt_app.test_client()  # never pressed Connect: no state in its session
    register(stranger, "stranger@example.com")

    response = stranger.get(callback)

    assert response.status_code == 400
    assert "Please connect again" in page_text(response)
    assert _channel_count(yt_config) == 0
    assert fake_google.requests_to("/token") == []


def test_access_denied_at_google_says_so_and_connects_nothing(creator, fake_google, yt_config):
    fake_google.world.add_channel("alice", "Alice Bakes")
    fake_google.oauth.consent("alice", deny=True)

    response = creator.get(google_consent(start_connect(creator)), follow_redirects=True)

    assert response.status_code == 200
    assert "Google did not grant access, so no channel was connected." in page_text(response)
    assert _channel_count(yt_config) == 0
    assert fake_google.requests_to("/token") == []


# -- tokens at rest ------------------------------------------------------------------


def test_tokens_are_stored_encrypted_and_only_our_key_opens_them(creator, fake_google, yt_config):
    channel_id, _ = _connected(creator, fake_google, yt_config)
    [issued_access] = fake_google.oauth.access_tokens
    [issued_refresh] = _issued_refresh_tokens(fake_google)
    access_enc, refresh_enc = _stored_tokens(yt_config, channel_id)

    # Nowhere in the database, in any table, is either token readable.
    tables = [t for (t,) in query(yt_config, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    for table in tables:
        dump = "\n".join(row for (row,) in query(yt_config, f'SELECT t::text FROM "{table}" t'))
        assert issued_access not in dump, table
        assert issued_refresh not in dump, table

    ours = Fernet(TOKEN_KEY.encode())
    assert ours.decrypt(access_enc.encode()).decode() == issued_access
    assert ours.decrypt(refresh_enc.encode()).decode() == issued_refresh
    other = Fernet(Fernet.generate_key())
    for ciphertext in (access_enc, refresh_enc):
        with pytest.raises(InvalidToken):
            other.decrypt(ciphertext.encode())


# -- several channels, and channels taken ------------------------------------------


def test_an_account_with_several_channels_lets_the_creator_pick_one(creator, fake_google, yt_config):
    first = fake_google.world.add_channel("bob", "Bob Cooks", n_videos=2)
    second = fake_google.world.add_channel("bob", "Bob Travels", n_videos=2)

    response = connect_channel(creator, fake_google, "bob", channel_id=ALL_CHANNELS)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/channels/connect/choose"
    choose = creator.get("/channels/connect/choose")
    text = page_text(choose)
    assert "Bob Cooks" in text and "Bob Travels" in text
    assert _channel_count(yt_config) == 0  # nothing is connected before the choice
    token = csrf_from(choose.get_data(as_text=True))

    forged = creator.post("/channels/connect/choose", data={"csrf_token": token, "channel_id": "UC" + "x" * 22})
    assert forged.status_code == 400
    assert "Pick one of the listed channels." in page_text(forged)
    assert _channel_count(yt_config) == 0

    picked = creator.post("/channels/connect/choose", data={"csrf_token": token, "channel_id": second.id})
    assert picked.status_code == 302
    assert query(yt_config, "SELECT youtube_channel_id, title, status FROM channels") == [
        (second.id, "Bob Travels", "connected")
    ]
    listing = page_text(creator.get("/channels"))
    assert "Bob Travels" in listing and "Bob Cooks" not in listing
    assert first.id not in listing


def test_a_channel_connected_by_someone_else_is_refused_and_left_alone(creator, fake_google, yt_config, yt_app):
    channel_id, _ = _connected(creator, fake_google, yt_config)
    tokens_before = _stored_tokens(yt_config, channel_id)

    intruder = yt_app.test_client()
    register(intruder, "intruder@example.com")
    response = connect_channel(intruder, fake_google, "alice")
    page = page_text(intruder.get(response.headers["Location"]))

    assert "This channel is already connected by another account. Ask its owner to invite you." in page
    assert "Alice Bakes" not in page_text(intruder.get("/channels"))
    assert _channel_count(yt_config) == 1
    assert query(yt_config, "SELECT u.email, m.role FROM channel_members m JOIN users u ON u.id = m.user_id") == [
        ("creator@example.com", "owner")
    ]
    assert _stored_tokens(yt_config, channel_id) == tokens_before
    assert query(yt_config, "SELECT status FROM channels WHERE id = %s", (channel_id,)) == [("connected",)]
    # The owner's connection still works.
    assert _sync(creator, channel_id, yt_config) == ("succeeded", None)


# -- refresh, revocation, disconnect ---------------------------------------------------


def test_an_expired_access_token_is_refreshed_and_the_new_one_stored_encrypted(creator, fake_google, yt_config):
    channel_id, _ = _connected(creator, fake_google, yt_config)
    old_access_enc, refresh_enc = _stored_tokens(yt_config, channel_id)
    ours = Fernet(TOKEN_KEY.encode())
    old_access = ours.decrypt(old_access_enc.encode()).decode()
    fake_google.clock.advance(3600 + 60)  # past the hour Google's access tokens live

    assert _sync(creator, channel_id, yt_config) == ("succeeded", None)

    refreshes = [r for r in fake_google.requests_to("/token", "POST") if r.form.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1
    assert refreshes[0].form["refresh_token"] == ours.decrypt(refresh_enc.encode()).decode()
    new_access_enc, new_refresh_enc = _stored_tokens(yt_config, channel_id)
    new_access = ours.decrypt(new_access_enc.encode()).decode()
    assert new_access != old_access
    assert fake_google.oauth.check_access_token(new_access) is not None  # the one Google just issued
    assert new_access not in new_access_enc
    # Google sent no new refresh token: the stored one stays (re-encrypted).
    assert ours.decrypt(new_refresh_enc.encode()) == ours.decrypt(refresh_enc.encode())
    [(count,)] = query(yt_config, "SELECT count(*) FROM videos WHERE channel_id = %s", (channel_id,))
    assert count == 60


@pytest.mark.parametrize("how", ["revoked by the user", "refresh token expired"])
def test_invalid_grant_disconnects_the_channel_and_keeps_its_videos(creator, fake_google, yt_config, how):
    channel_id, _ = _connected(creator, fake_google, yt_config)
    assert _sync(creator, channel_id, yt_config) == ("succeeded", None)
    if how == "revoked by the user":
        fake_google.oauth.revoke_all("alice")
    else:
        [refresh] = _issued_refresh_tokens(fake_google)
        fake_google.oauth.expire_refresh_token(refresh)
        fake_google.oauth.expire_access_tokens()

    status, error = _sync(creator, channel_id, yt_config)

    assert status == "failed"
    assert "no longer connected to YouTube" in error
    assert _token_grants(fake_google)[-1] == "refresh_token"  # it tried, and Google said invalid_grant
    assert query(yt_config, "SELECT status FROM channels WHERE id = %s", (channel_id,)) == [("disconnected",)]
    assert query(yt_config, "SELECT count(*) FROM oauth_tokens") == [(0,)]
    assert query(
        yt_config, "SELECT count(*) FROM videos WHERE channel_id = %s AND removed_at IS NULL", (channel_id,)
    ) == [(60,)]
    page = page_text(creator.get(f"/channels/{channel_id}"))
    assert "YouTube access for this channel was revoked or expired" in page
    assert ">Reconnect</button>" in page
    assert "no longer connected to YouTube" in page  # the failed run's message
    assert "60 videos" in page
    refused = start_sync(creator, channel_id)
    assert "This channel is disconnected. Reconnect it to YouTube first." in page_text(
        creator.get(refused.headers["Location"])
    )


def test_reconnecting_a_disconnected_channel_makes_it_sync_again(creator, fake_google, yt_config):
    channel_id, _ = _connected(creator, fake_google, yt_config)
    fake_google.oauth.revoke_all("alice")
    assert _sync(creator, channel_id, yt_config)[0] == "failed"

    response = connect_channel(creator, fake_google, "alice")

    assert urlsplit(response.headers["Location"]).path == f"/channels/{channel_id}"
    assert query(yt_config, "SELECT status FROM channels WHERE id = %s", (channel_id,)) == [("connected",)]
    assert _sync(creator, channel_id, yt_config) == ("succeeded", None)


def _disconnect(client, channel_id: int):
    page = client.get(f"/channels/{channel_id}")
    return client.post(
        f"/channels/{channel_id}/disconnect", data={"csrf_token": csrf_from(page.get_data(as_text=True))}
    )


def test_disconnect_revokes_at_google_and_forgets_the_tokens(creator, fake_google, yt_config, yt_app):
    channel_id, _ = _connected(creator, fake_google, yt_config)
    [refresh] = _issued_refresh_tokens(fake_google)
    [access] = fake_google.oauth.access_tokens
    for role in ("editor", "viewer"):
        member = yt_app.test_client()
        register(member, f"{role}@example.com")
        invite_and_accept(creator, member, yt_config["DATABASE_URL"], channel_id, f"{role}@example.com", role)
        assert "Disconnect</button>" not in page_text(member.get(f"/channels/{channel_id}"))
        assert _disconnect(member, channel_id).status_code == 403
    assert fake_google.requests_to("/revoke") == []
    assert query(yt_config, "SELECT count(*) FROM oauth_tokens") == [(1,)]

    response = _disconnect(creator, channel_id)

    assert response.status_code == 302
    [revoke] = fake_google.requests_to("/revoke")
    assert refresh in (revoke.args.get("token"), revoke.form.get("token"))
    assert fake_google.oauth.check_access_token(access) is None  # Google no longer honours the grant
    assert query(yt_config, "SELECT count(*) FROM oauth_tokens") == [(0,)]
    assert query(yt_config, "SELECT status FROM channels WHERE id = %s", (channel_id,)) == [("disconnected",)]
    page = page_text(creator.get(response.headers["Location"]))
    assert (
        "Disconnected. What was fetched from YouTube (video details, statistics, transcripts) is deleted after 30"
        in page
    )
    assert ">Reconnect</button>" in page
    # The creator pressed Disconnect: the page must not blame Google (it said "revoked or expired").
    assert "This channel was disconnected from YouTube here" in page and "revoked or expired" not in page
    assert "revoked or expired" not in page_text(creator.get(f"/channels/{channel_id}"))  # on every later visit too


# -- key rotation ------------------------------------------------------------------------


def test_tokens_rotate_reencrypts_with_the_new_key_and_sync_works_with_it_alone(creator, fake_google, yt_config):
    from webapp import create_app

    channel_id, _ = _connected(creator, fake_google, yt_config)
    old_access_enc, old_refresh_enc = _stored_tokens(yt_config, channel_id)
    new_key = Fernet.generate_key().decode()
    rotating = create_app({**yt_config, "TOKEN_ENCRYPTION_KEY": [new_key, TOKEN_KEY]})

    result = rotating.test_cli_runner().invoke(args=["tokens", "rotate"])

    assert result.exit_code == 0, result.output
    assert "re-encrypted the tokens of 1 channel(s)" in result.output
    access_enc, refresh_enc = _stored_tokens(yt_config, channel_id)
    old_fernet, new_fernet = Fernet(TOKEN_KEY.encode()), Fernet(new_key.encode())
    assert new_fernet.decrypt(access_enc.encode()) == old_fernet.decrypt(old_access_enc.encode())
    assert new_fernet.decrypt(refresh_enc.encode()) == old_fernet.decrypt(old_refresh_enc.encode())
    for ciphertext in (access_enc, refresh_enc):
        with pytest.raises(InvalidToken):
            old_fernet.decrypt(ciphertext.encode())

    new_only = {**yt_config, "TOKEN_ENCRYPTION_KEY": [new_key]}
    assert _sync(creator, channel_id, new_only) == ("succeeded", None)
    assert query(yt_config, "SELECT count(*) FROM videos WHERE channel_id = %s", (channel_id,)) == [(60,)]
