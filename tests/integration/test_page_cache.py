"""The channel page's cache (webapp/page_cache.py, webapp/channels/showing.py)
never shows what changed since, nor one person's page to another.

Every write below is plain SQL on a connection of its own, not a function of
the app: the data version is bumped by the database's triggers (migration
0018), so a writer added later is covered the same way. One test per table
the cached parts read.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import time

import pytest

from reliability import db
from tests.helpers import csrf_from, login
from tests.integration.channel_helpers import HTMX_TABLE, query, user_client, user_id, video_rows

OWNER = "owner@example.com"
GZIP = {"Accept-Encoding": "gzip, deflate, br"}  # what a browser offers
VIEWER = "viewer@example.com"


def _channel(owner_id: int, n_videos: int = 60) -> tuple[int, list[int]]:
    """A connected channel of ``owner_id`` with ``n_videos`` videos; (id, video ids newest first)."""
    with db.transaction() as cur:
        cur.execute(
            """INSERT INTO channels (youtube_channel_id, title, status, video_count, created_by)
               VALUES (%s, 'Cache Kitchen', 'connected', %s, %s) RETURNING id""",
            (f"UC-cache-{n_videos}", n_videos, owner_id),
        )
        channel_id = cur.fetchone()["id"]
        cur.execute(
            "INSERT INTO channel_members (channel_id, user_id, role) VALUES (%s, %s, 'owner')", (channel_id, owner_id)
        )
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    db.bulk_insert(
        "videos",
        ["channel_id", "youtube_video_id", "title", "published_at", "privacy_status", "view_count", "like_count"],
        [
            (channel_id, f"cache{n_videos}-{i:04d}", f"Video number {i}", start + dt.timedelta(days=i), "public", i, 0)
            for i in range(n_videos)
        ],
    )
    with db.transaction() as cur:
        cur.execute("SELECT id FROM videos WHERE channel_id = %s ORDER BY published_at DESC", (channel_id,))
        return channel_id, [r["id"] for r in cur.fetchall()]


@pytest.fixture
def owner(app):
    client = user_client(app, OWNER)
    owner_id = user_id(app.config["DATABASE_URL"], OWNER)
    channel_id, video_ids = _channel(owner_id)
    return client, channel_id, video_ids


def _misses(app) -> int:
    return app.extensions["page_cache"].misses


def _page(client, channel_id: int, headers: dict | None = None) -> str:
    response = client.get(f"/channels/{channel_id}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    if response.headers.get("Content-Encoding") == "gzip":
        return gzip.decompress(response.data).decode()
    return response.get_data(as_text=True)


# -- a change to every table the cached parts read -------------------------------

SUGGESTION = """WITH run AS (INSERT INTO optimization_runs
                                (channel_id, requested_by, idempotency_key, status, video_count)
                            VALUES (%(c)s, %(o)s, 'cache-test', 'succeeded', 1) RETURNING id)
                INSERT INTO suggestions (run_id, video_id, engine, prompt_version, titles, description, tags, cache_key)
                SELECT run.id, %(v)s, 'heuristic', 'h1', '[{"title": "Better", "rationale": "clearer"}]', 'd', '{}', 'k'
                FROM run"""
CHANGES = {
    # table: (statement, text the page shows afterwards, or None when the change is not on the page)
    "videos": ("UPDATE videos SET title = 'A title changed behind the app' WHERE id = %(v)s", "A title changed behind"),
    "suggestions": (SUGGESTION, "1</p><p>suggestion waiting for a decision"),
    "experiments": (
        """INSERT INTO experiments (video_id, applied_at, cooling_until, status, evaluated_at)
           VALUES (%(v)s, now(), current_date, 'hurt', now())""",
        "attention-hurt",
    ),
    "sync_runs": (
        """INSERT INTO sync_runs (channel_id, kind, status, error, finished_at)
           VALUES (%(c)s, 'full', 'failed', 'Broken on purpose', now())""",
        "The last sync failed: Broken on purpose",
    ),
    "usage_ledger": (
        "INSERT INTO usage_ledger (service, outcome, cost_usd, channel_id) VALUES ('anthropic', 'ok', 1.23, %(c)s)",
        "$1.23",
    ),
    "transcripts": ("INSERT INTO transcripts (video_id, source, text) VALUES (%(v)s, 'manual', 'Hello')", None),
    "channels": ("UPDATE channels SET description = 'changed' WHERE id = %(c)s", None),
    "channel_members": (
        """INSERT INTO channel_members (channel_id, user_id, role)
           SELECT %(c)s, id, 'viewer' FROM users WHERE id <> %(o)s""",
        None,
    ),
}


@pytest.mark.parametrize("table", sorted(CHANGES))
def test_a_change_to_any_table_the_page_reads_is_shown_at_once(app, owner, table):
    client, channel_id, video_ids = owner
    user_client(app, VIEWER)  # a second user, for channel_members
    statement, shown = CHANGES[table]
    before = _page(client, channel_id)
    _page(client, channel_id)
    misses = _misses(app)
    _page(client, channel_id)
    assert _misses(app) == misses, "the page asked again is answered from the cache"
    database_url = app.config["DATABASE_URL"]
    query(database_url, statement, {"c": channel_id, "v": video_ids[0], "o": user_id(database_url, OWNER)})
    after = _page(client, channel_id)
    assert _misses(app) == misses + 4, (
        f"a change to {table} makes the table, the dashboard, the transcripts to fetch and the page again"
    )
    if shown:
        assert shown not in before
        assert shown in after


def test_the_data_version_moves_once_per_transaction_and_channel(app, owner):
    _, channel_id, video_ids = owner
    database_url = app.config["DATABASE_URL"]
    [before] = query(database_url, "SELECT version FROM channel_data_versions WHERE channel_id = %s", (channel_id,))
    query(database_url, "UPDATE videos SET view_count = view_count + 1 WHERE channel_id = %s", (channel_id,))
    [after] = query(database_url, "SELECT version FROM channel_data_versions WHERE channel_id = %s", (channel_id,))
    assert after["version"] > before["version"]
    query(database_url, "SELECT 1 FROM videos WHERE channel_id = %s", (channel_id,))  # a read bumps nothing
    [again] = query(database_url, "SELECT version FROM channel_data_versions WHERE channel_id = %s", (channel_id,))
    assert again == after


# -- one person's page is never another's --------------------------------------------


@pytest.mark.parametrize("first", ["owner", "viewer"])
def test_a_viewer_never_sees_an_editors_buttons_from_the_cache(app, owner, first):
    owner_client, channel_id, _ = owner
    viewer_client = user_client(app, VIEWER)
    database_url = app.config["DATABASE_URL"]
    query(
        database_url,
        "INSERT INTO channel_members (channel_id, user_id, role) VALUES (%s, %s, 'viewer')",
        (channel_id, user_id(database_url, VIEWER)),
    )
    order = [owner_client, viewer_client] if first == "owner" else [viewer_client, owner_client]
    for _ in range(2):  # the second round is answered from the cache
        for client in order:
            for headers in (None, HTMX_TABLE):
                html = _page(client, channel_id, headers)
                assert len(video_rows(html)) == 50
                buttons = html.count('name="video_ids"'), html.count(">Optimize</button>")
                assert buttons == ((50, 50) if client is owner_client else (0, 0)), (first, headers)


def _tokens(html: str) -> set[str]:
    return set(re.findall(r'name="csrf_token" value="([^"]+)"', html)) | set(
        re.findall(r'"X-CSRFToken": "([^"]+)"', html)
    )


def test_two_users_pages_never_share_a_csrf_token(app, owner):
    owner_client, channel_id, _ = owner
    editor_client = user_client(app, "editor@example.com")
    database_url = app.config["DATABASE_URL"]
    query(
        database_url,
        "INSERT INTO channel_members (channel_id, user_id, role) VALUES (%s, %s, 'editor')",
        (channel_id, user_id(database_url, "editor@example.com")),
    )
    for headers in (None, HTMX_TABLE, GZIP):
        pages = [_page(c, channel_id, headers) for c in (owner_client, editor_client, owner_client, editor_client)]
        owner_tokens, editor_tokens = _tokens(pages[0]) | _tokens(pages[2]), _tokens(pages[1]) | _tokens(pages[3])
        assert owner_tokens and editor_tokens
        assert not owner_tokens & editor_tokens
        # Each token works for its own session: the Optimize form posts with it.
        assert csrf_from(pages[1]) in editor_tokens


def test_a_one_time_key_is_new_on_every_page(owner):
    client, channel_id, _ = owner
    keys = [re.search(r'name="idempotency_key" value="([^"]+)"', _page(client, channel_id)).group(1) for _ in range(3)]
    assert len(set(keys)) == 3


# -- conditional GETs of the table fragment --------------------------------------------


def test_an_unchanged_table_fragment_is_answered_304(app, owner):
    client, channel_id, video_ids = owner
    url = f"/channels/{channel_id}?sort=views"
    first = client.get(url, headers=HTMX_TABLE)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and "no-store" not in first.headers["Cache-Control"]
    again = client.get(url, headers={**HTMX_TABLE, "If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    # Another page of the table, or another person, never matches.
    assert client.get(f"{url}&page=2", headers={**HTMX_TABLE, "If-None-Match": etag}).status_code == 200
    other = user_client(app, "admin-like@example.com")
    assert other.get(url, headers={**HTMX_TABLE, "If-None-Match": etag}).status_code == 404  # not a member
    # A change to the data: a full answer with a new ETag.
    query(app.config["DATABASE_URL"], "UPDATE videos SET view_count = 10000 WHERE id = %s", (video_ids[-1],))
    changed = client.get(url, headers={**HTMX_TABLE, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert video_rows(changed.get_data(as_text=True))[0]["views"] == 10000


def test_the_full_page_is_never_stored_by_the_browser(owner):
    client, channel_id, _ = owner
    response = client.get(f"/channels/{channel_id}")
    assert "no-store" in response.headers["Cache-Control"] and "ETag" not in response.headers


# -- what a cached page runs ---------------------------------------------------------------


def test_a_page_from_the_cache_runs_three_statements(owner):
    client, channel_id, _ = owner
    _page(client, channel_id)
    with db.observe_statements() as statements:
        _page(client, channel_id)
    # The session and user, the channel with the role and data version, and
    # today's quota (every channel's work moves it). The transcripts the
    # editor's Optimize would fetch are kept with the data version.
    assert len(statements) == 3, "\n".join(map(str, statements))


def test_the_transcripts_to_fetch_are_counted_again_when_a_miss_is_due_with_nothing_written(app, owner):
    client, channel_id, video_ids = owner
    # Found without captions almost a week ago (RECHECK_AFTER): due again in 1.5 s.
    query(
        app.config["DATABASE_URL"],
        """INSERT INTO transcripts (video_id, source, text, fetched_at)
           VALUES (%s, 'none', '', now() - interval '7 days' + interval '1.5 seconds')""",
        (video_ids[0],),
    )
    html = _page(client, channel_id)
    assert "(49 on this page;" in html
    assert "(49 on this page;" in _page(client, channel_id)  # kept: nothing changed
    time.sleep(2)
    assert "(50 on this page;" in _page(client, channel_id)


@pytest.fixture
def uncached_app(app_config):
    from webapp import create_app

    application = create_app({**app_config, "PAGE_CACHE_SIZE": 0})
    yield application
    db.dispose_pool()


def test_without_the_cache_the_page_runs_a_constant_number_of_statements(uncached_app):
    client = user_client(uncached_app, OWNER)
    owner_id = user_id(uncached_app.config["DATABASE_URL"], OWNER)
    counts = []
    for n_videos in (10, 500):
        channel_id, _ = _channel(owner_id, n_videos)
        _page(client, channel_id)
        with db.observe_statements() as statements:
            html = _page(client, channel_id)
        assert len(video_rows(html)) == min(n_videos, 50)
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 8, counts
    assert uncached_app.extensions["page_cache"].misses == 0 and len(uncached_app.extensions["page_cache"]) == 0


def test_an_admins_navigation_never_reaches_a_member_from_the_cache(app, owner):
    owner_client, channel_id, _ = owner
    admin = user_client(app, "admin@example.com")
    query(app.config["DATABASE_URL"], "UPDATE users SET role = 'admin' WHERE email = 'admin@example.com'")
    for _ in range(2):
        assert 'href="/admin/users"' in _page(admin, channel_id)  # an admin sees every channel, as its owner
        assert 'href="/admin/users"' not in _page(owner_client, channel_id)


# -- the kept page sent gzip-compressed from parts deflated once ------------------------


def _one_time_key(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


def test_the_kept_page_goes_out_as_gzip_with_this_requests_own_values(app, owner):
    client, channel_id, _ = owner
    plain = _page(client, channel_id, {"Accept-Encoding": "identity"})
    answers = [client.get(f"/channels/{channel_id}", headers=GZIP) for _ in range(3)]
    for response in answers:
        assert response.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["Vary"]
        assert int(response.headers["Content-Length"]) == len(response.data) < len(plain) / 4
    pages = [gzip.decompress(response.data).decode() for response in answers]
    keys = [_one_time_key(page) for page in pages]
    assert len(set(keys) | {_one_time_key(plain)}) == 4  # a new one-time key on every answer
    for page, key in zip(pages, keys, strict=True):
        # The same page as sent uncompressed, the session's token in every slot, byte for byte.
        assert page.replace(key, "KEY") == plain.replace(_one_time_key(plain), "KEY")
        assert "SLOT" not in page
    assert len(video_rows(pages[-1])) == 50
    assert csrf_from(pages[-1]) == csrf_from(plain)


def test_the_kept_page_keeps_the_compression_rules(app, owner, app_config):
    client, channel_id, _ = owner
    # BREACH: a query string is input next to the page's CSRF token: never compressed.
    search = client.get(f"/channels/{channel_id}?q=number", headers=GZIP)
    assert search.status_code == 200 and "Content-Encoding" not in search.headers
    # A client that takes brotli alone gets it the usual way.
    brotli_only = client.get(f"/channels/{channel_id}", headers={"Accept-Encoding": "br"})
    assert brotli_only.headers["Content-Encoding"] == "br"
    from webapp import create_app

    off = create_app({**app_config, "COMPRESSION_ENABLED": False})
    try:
        browser = off.test_client()
        assert login(browser, OWNER).status_code == 302
        response = browser.get(f"/channels/{channel_id}", headers=GZIP)
        assert response.status_code == 200 and "Content-Encoding" not in response.headers
        assert len(video_rows(response.get_data(as_text=True))) == 50
    finally:
        db.dispose_pool()
