"""The channel pages as a creator uses them: the demo channel, the video
table (search, sort, filter, pages, as a full page and as an htmx fragment),
escaping of text that comes from YouTube, members, and the connect button on
a server without a Google client. Real PostgreSQL and Redis, the real app."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest

from optimizer import demo
from reliability.db import bulk_insert
from tests.integration.channel_helpers import (
    HTMX_TABLE,
    import_demo,
    post_form,
    query,
    user_client,
    user_id,
    video_rows,
)
from tests.integration.mail_helpers import invite_and_accept

TIMESTAMPED_LINE = re.compile(r"^\[\d+:[0-5]\d:[0-5]\d\] \S")
EVIL_TITLE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def database_url(clean_state):
    return clean_state[0]


@pytest.fixture
def owner(app):
    return user_client(app, "owner@example.com")


@pytest.fixture
def channel_id(owner):
    return import_demo(owner)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _flashes(html: str) -> list[str]:
    return [" ".join(m.split()) for m in re.findall(r'<p class="flash flash-\w+">(.*?)</p>', html, re.S)]


# -- the demo channel --------------------------------------------------------------


def test_try_a_demo_channel_from_a_fresh_account(app, database_url):
    client = user_client(app, "fresh@example.com")
    assert "Try a demo channel" in _text(client.get("/dashboard"))

    response = post_form(client, "/channels/demo", csrf_page="/dashboard")
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    html = _text(page)
    assert page.status_code == 200
    assert demo.CHANNEL_TITLE in html
    assert "48 videos" in html
    assert any("demo channel is ready" in f for f in _flashes(html))
    channel = int(urlsplit(response.headers["Location"]).path.rsplit("/", 1)[1])
    stored = query(
        database_url,
        "SELECT title, view_count FROM videos WHERE channel_id = %s ORDER BY published_at DESC, id DESC",
        (channel,),
    )
    rows = video_rows(html)
    assert len(rows) == 48
    assert [(r["title"], r["views"]) for r in rows] == [(s["title"], s["view_count"]) for s in stored]
    assert all(r["views"] > 0 for r in rows)


def test_the_demo_channel_has_transcripts_analytics_and_a_past_change(owner, channel_id, database_url):
    videos = query(
        database_url,
        "SELECT v.id, t.text FROM videos v LEFT JOIN transcripts t ON t.video_id = v.id WHERE v.channel_id = %s",
        (channel_id,),
    )
    assert len(videos) >= 40
    for video in videos:
        assert video["text"], f"video {video['id']} has no transcript"
        lines = video["text"].splitlines()
        assert len(lines) >= 5 and all(TIMESTAMPED_LINE.match(line) for line in lines), lines[:3]

    [stats] = query(
        database_url,
        "SELECT count(DISTINCT s.day) AS days, min(s.day) AS first, max(s.day) AS last "
        "FROM video_daily_stats s JOIN videos v ON v.id = s.video_id WHERE v.channel_id = %s",
        (channel_id,),
    )
    assert stats["days"] >= 120
    assert (stats["last"] - stats["first"]).days + 1 >= 120

    changed = query(
        database_url,
        """SELECT m.video_id, array_agg(m.title ORDER BY m.created_at) AS titles
                                     FROM metadata_versions m JOIN videos v ON v.id = m.video_id
                                     WHERE v.channel_id = %s GROUP BY m.video_id HAVING count(*) >= 2""",
        (channel_id,),
    )
    assert changed, "no video records the past title change"
    [current] = query(database_url, "SELECT title FROM videos WHERE id = %s", (changed[0]["video_id"],))
    old_title, new_title = changed[0]["titles"][0], changed[0]["titles"][-1]
    assert old_title != new_title and new_title == current["title"]


def test_two_users_each_get_their_own_copy_listed_on_their_dashboard(app, owner, channel_id, database_url):
    other = user_client(app, "other@example.com")
    other_channel = import_demo(other)
    assert other_channel != channel_id

    for mine, client in ((channel_id, owner), (other_channel, other)):
        [count] = query(database_url, "SELECT count(*) AS n FROM videos WHERE channel_id = %s", (mine,))
        assert count["n"] == demo.VIDEO_COUNT
        members = query(database_url, "SELECT user_id, role FROM channel_members WHERE channel_id = %s", (mine,))
        assert len(members) == 1 and members[0]["role"] == "owner"
        dashboard = _text(client.get("/dashboard"))
        assert f'href="/channels/{mine}"' in dashboard and demo.CHANNEL_TITLE in dashboard
    assert f'href="/channels/{channel_id}"' not in _text(other.get("/dashboard"))
    assert other.get(f"/channels/{channel_id}").status_code == 404
    # A change to one copy leaves the other alone.
    query(database_url, "UPDATE videos SET title = 'Only mine' WHERE channel_id = %s", (channel_id,))
    assert "Only mine" not in _text(other.get(f"/channels/{other_channel}"))


# -- the video table -------------------------------------------------------------


def test_search_answers_htmx_with_the_fragment_and_browsers_with_the_page(owner, channel_id, database_url):
    url = f"/channels/{channel_id}?q=banana+bread"
    expected = query(
        database_url,
        "SELECT count(*) AS n FROM videos WHERE channel_id = %s AND title ILIKE %s",
        (channel_id, "%banana bread%"),
    )[0]["n"]
    assert 0 < expected < demo.VIDEO_COUNT

    fragment = owner.get(url, headers=HTMX_TABLE)
    html = _text(fragment)
    assert fragment.status_code == 200
    assert "<html" not in html and html.lstrip().startswith('<section id="video-table"')
    rows = video_rows(html)
    assert len(rows) == expected and all("banana bread" in r["title"].lower() for r in rows)
    # The fragment names its own Vary (HX-Target, Cookie): HX-Request is kept once, not added twice.
    vary = [value.strip() for value in fragment.headers.get("Vary", "").split(",")]
    assert vary.count("HX-Request") == 1 and "HX-Target" in vary

    page = owner.get(url)
    assert "<html" in _text(page) and 'role="search"' in _text(page)
    assert video_rows(_text(page)) == rows
    assert "HX-Request" in page.headers.get("Vary", "")


def test_search_finds_a_video_by_its_youtube_id_and_treats_wildcards_as_text(owner, channel_id, database_url):
    [video] = query(
        database_url, "SELECT youtube_video_id, title FROM videos WHERE channel_id = %s LIMIT 1", (channel_id,)
    )
    rows = video_rows(_text(owner.get(f"/channels/{channel_id}?q={video['youtube_video_id']}", headers=HTMX_TABLE)))
    assert [r["title"] for r in rows] == [video["title"]]
    for wildcard in ("%", "_", "\\"):
        html = _text(owner.get(f"/channels/{channel_id}?q={quote(wildcard)}", headers=HTMX_TABLE))
        assert video_rows(html) == [] and "No videos match" in html, wildcard


@pytest.mark.parametrize(("sort", "descending"), [("views", True), ("least_views", False)])
def test_sort_by_views_orders_the_rows(owner, channel_id, sort, descending):
    views = [
        r["views"] for r in video_rows(_text(owner.get(f"/channels/{channel_id}?sort={sort}", headers=HTMX_TABLE)))
    ]
    assert len(views) == demo.VIDEO_COUNT and len(set(views)) > 1
    assert views == sorted(views, reverse=descending)


def test_sort_by_title_follows_the_database_collation(owner, channel_id, database_url):
    titles = [
        r["title"] for r in video_rows(_text(owner.get(f"/channels/{channel_id}?sort=title", headers=HTMX_TABLE)))
    ]
    stored = query(
        database_url, "SELECT title FROM videos WHERE channel_id = %s ORDER BY lower(title), id", (channel_id,)
    )
    assert titles == [s["title"] for s in stored]
    assert titles != [r["title"] for r in video_rows(_text(owner.get(f"/channels/{channel_id}", headers=HTMX_TABLE)))]


def test_filter_removed_shows_only_videos_gone_from_youtube(owner, channel_id, database_url):
    query(
        database_url,
        """UPDATE videos SET removed_at = now(), title = 'Gone ' || id
                           WHERE id IN (SELECT id FROM videos WHERE channel_id = %s ORDER BY id LIMIT 3)""",
        (channel_id,),
    )
    removed = video_rows(_text(owner.get(f"/channels/{channel_id}?filter=removed", headers=HTMX_TABLE)))
    assert len(removed) == 3 and all(r["title"].startswith("Gone ") and r["title"].endswith("removed") for r in removed)

    current = _text(owner.get(f"/channels/{channel_id}", headers=HTMX_TABLE))
    assert "45 videos" in current
    assert not any(r["title"].startswith("Gone ") for r in video_rows(current))


def _add_videos(channel_id: int, count: int) -> None:
    rows = [(channel_id, f"extra{n:04d}", f"Extra video {n:03d}", 1000 + n) for n in range(count)]
    bulk_insert("videos", ("channel_id", "youtube_video_id", "title", "view_count"), rows)


def test_a_channel_with_more_than_fifty_videos_has_pages(owner, channel_id, database_url):
    _add_videos(channel_id, 30)
    first = _text(owner.get(f"/channels/{channel_id}?sort=title"))
    second = _text(owner.get(f"/channels/{channel_id}?sort=title&page=2", headers=HTMX_TABLE))
    assert "Page 1 of 2" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert "Page 2 of 2" in second and 'rel="prev"' in second and 'rel="next"' not in second
    assert "78 videos" in second
    page_one, page_two = video_rows(first), video_rows(second)
    assert (len(page_one), len(page_two)) == (50, 28)
    stored = query(
        database_url, "SELECT title FROM videos WHERE channel_id = %s ORDER BY lower(title), id", (channel_id,)
    )
    assert [r["title"] for r in page_one + page_two] == [s["title"] for s in stored]
    # The pager keeps the table's other settings.
    assert "sort=title" in re.search(r'<a href="([^"]+)"[^>]*rel="prev"', second).group(1)


BAD_TABLE_ARGUMENTS = {
    "sql in sort": "sort=drop+table",
    "negative page": "page=-5",
    "page not a number": "page=abc",
    "page past the end": "page=100000",
    "page too long for int()": "page=" + "9" * 5000,
    "unknown filter": "filter=everything",
    "nul byte in search": "q=%00",
    "nul byte in sort": "sort=views%00",
    "repeated arguments": "sort=views&sort=title&page=1&page=2",
}


@pytest.mark.parametrize("arguments", list(BAD_TABLE_ARGUMENTS.values()), ids=list(BAD_TABLE_ARGUMENTS))
def test_bad_table_arguments_fall_back_to_the_defaults(owner, channel_id, arguments):
    default = video_rows(_text(owner.get(f"/channels/{channel_id}", headers=HTMX_TABLE)))
    for headers in (HTMX_TABLE, {}):
        response = owner.get(f"/channels/{channel_id}?{arguments}", headers=headers)
        assert response.status_code == 200, (arguments, response.status_code)
        assert "HX-Request" in response.headers.get("Vary", "")
        rows = video_rows(_text(response))
        if arguments.startswith("sort=views&"):  # the first of repeated arguments counts
            assert [r["views"] for r in rows] == sorted((r["views"] for r in default), reverse=True)
        else:
            assert rows == default, arguments


def test_a_ten_thousand_character_search_is_cut_not_refused(owner, channel_id):
    response = owner.get(f"/channels/{channel_id}?q={'a' * 10_000}", headers=HTMX_TABLE)
    html = _text(response)
    assert response.status_code == 200
    assert "a" * 200 in html and "a" * 201 not in html
    assert "No videos match" in html


# -- text from YouTube is escaped --------------------------------------------------


def test_text_from_youtube_is_escaped_everywhere_it_is_shown(owner, channel_id, database_url):
    bulk_insert(
        "videos",
        ("channel_id", "youtube_video_id", "title", "view_count"),
        [(channel_id, "evil0000001", EVIL_TITLE, 10**9)],
    )
    query(database_url, "UPDATE channels SET title = %s WHERE id = %s", ("<script>alert('t')</script>Maya", channel_id))

    pages = {
        "channel page": owner.get(f"/channels/{channel_id}?sort=views"),
        "table fragment": owner.get(f"/channels/{channel_id}?sort=views", headers=HTMX_TABLE),
        "search echo": owner.get(f"/channels/{channel_id}?q={quote(EVIL_TITLE)}", headers=HTMX_TABLE),
        "channel list": owner.get("/channels"),
        "dashboard": owner.get("/dashboard"),
        "members": owner.get(f"/channels/{channel_id}/members"),
    }
    for name, response in pages.items():
        html = _text(response)
        assert response.status_code == 200, name
        assert "<img src=x" not in html and "<script>alert" not in html, name
    assert "&lt;img src=x onerror=alert(1)&gt;" in _text(pages["table fragment"])
    assert video_rows(_text(pages["table fragment"]))[0]["title"] == EVIL_TITLE
    assert "&lt;img src=x onerror=alert(1)&gt;" in _text(pages["search echo"])
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;Maya" in _text(pages["channel list"])


# -- members ---------------------------------------------------------------------


def _audit(database_url: str, action: str) -> list[dict]:
    return query(
        database_url,
        "SELECT actor_id, target_type, target_id, details FROM audit_log WHERE action = %s ORDER BY id",
        (action,),
    )


def _role(database_url: str, channel_id: int, member_id: int) -> str | None:
    rows = query(
        database_url, "SELECT role FROM channel_members WHERE channel_id = %s AND user_id = %s", (channel_id, member_id)
    )
    return rows[0]["role"] if rows else None


def _invite(owner, channel_id: int, email: str, role: str = "viewer"):
    return post_form(
        owner,
        f"/channels/{channel_id}/members",
        {"email": email, "role": role},
        csrf_page=f"/channels/{channel_id}/members",
    )


def test_owner_invites_an_existing_user_as_viewer(app, owner, channel_id, database_url):
    guest = user_client(app, "guest@example.com")
    assert guest.get(f"/channels/{channel_id}").status_code == 404

    response = _invite(owner, channel_id, "Guest@Example.com")
    assert response.status_code == 302
    page = _text(owner.get(response.headers["Location"]))
    assert any("we mailed an invitation to guest@example.com" in f.lower() for f in _flashes(page))
    guest_id = user_id(database_url, "guest@example.com")
    assert _role(database_url, channel_id, guest_id) is None  # not before accepting
    invite_and_accept(owner, guest, database_url, channel_id, "guest@example.com", "viewer")
    assert _role(database_url, channel_id, guest_id) == "viewer"
    [entry] = _audit(database_url, "channel.member_added")
    assert entry["actor_id"] == guest_id  # who accepted
    assert (entry["target_type"], entry["target_id"]) == ("channel", str(channel_id))
    assert entry["details"]["user_id"] == guest_id and entry["details"]["role"] == "viewer"

    # The viewer sees the channel and its members, without the owner's controls.
    assert guest.get(f"/channels/{channel_id}").status_code == 200
    members_page = _text(guest.get(f"/channels/{channel_id}/members"))
    assert "Invite someone" not in members_page and 'name="role"' not in members_page


def test_inviting_an_unknown_email_answers_as_for_any_other_and_grants_nothing(owner, channel_id, database_url):
    response = _invite(owner, channel_id, "nobody@example.com")
    assert response.status_code == 302  # tests/integration/test_mail.py compares it with a known address
    assert "No account uses that email" not in _text(owner.get(response.headers["Location"]))
    assert len(query(database_url, "SELECT 1 FROM channel_members WHERE channel_id = %s", (channel_id,))) == 1
    assert _audit(database_url, "channel.member_added") == []


def test_a_member_accepting_a_second_invitation_keeps_the_role(app, owner, channel_id, database_url):
    guest = user_client(app, "guest@example.com")
    invite_and_accept(owner, guest, database_url, channel_id, "guest@example.com", "viewer")
    invite_and_accept(owner, guest, database_url, channel_id, "guest@example.com", "editor")
    assert any("already a member" in f for f in _flashes(_text(guest.get(f"/channels/{channel_id}"))))
    assert _role(database_url, channel_id, user_id(database_url, "guest@example.com")) == "viewer"


def test_invite_form_errors_are_400_and_nobody_becomes_a_second_owner(app, owner, channel_id, database_url):
    user_client(app, "guest@example.com")
    for data in (
        {"email": "not-an-email", "role": "viewer"},
        {"email": "guest@example.com", "role": "owner"},
        {"email": "guest\x00@example.com", "role": "viewer"},
        {"email": "guest@example.com", "role": "viewer\x00"},
    ):
        response = post_form(owner, f"/channels/{channel_id}/members", data)
        assert response.status_code == 400, data
    assert _role(database_url, channel_id, user_id(database_url, "guest@example.com")) is None


def test_role_change_and_removal_are_audited(app, owner, channel_id, database_url):
    guest = user_client(app, "guest@example.com")
    invite_and_accept(owner, guest, database_url, channel_id, "guest@example.com", "viewer")
    guest_id = user_id(database_url, "guest@example.com")

    response = post_form(owner, f"/channels/{channel_id}/members/{guest_id}/role", {"role": "editor"})
    assert response.status_code == 302
    assert any("Role changed" in f for f in _flashes(_text(owner.get(response.headers["Location"]))))
    assert _role(database_url, channel_id, guest_id) == "editor"
    [changed] = _audit(database_url, "channel.member_role_changed")
    assert changed["details"] == {"user_id": guest_id, "role": "editor"}

    post_form(owner, f"/channels/{channel_id}/members/{guest_id}/role", {"role": "owner"})
    assert _role(database_url, channel_id, guest_id) == "editor"

    response = post_form(owner, f"/channels/{channel_id}/members/{guest_id}/remove")
    assert response.status_code == 302
    assert _role(database_url, channel_id, guest_id) is None
    [removed] = _audit(database_url, "channel.member_removed")
    assert removed["details"] == {"user_id": guest_id}
    assert guest.get(f"/channels/{channel_id}").status_code == 404


def test_a_member_can_leave(app, owner, channel_id, database_url):
    guest = user_client(app, "guest@example.com")
    invite_and_accept(owner, guest, database_url, channel_id, "guest@example.com", "editor")
    guest_id = user_id(database_url, "guest@example.com")
    assert f"/members/{guest_id}/remove" in _text(guest.get(f"/channels/{channel_id}/members"))  # the Leave button

    response = post_form(guest, f"/channels/{channel_id}/members/{guest_id}/remove")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/channels"
    assert any(f"You left {demo.CHANNEL_TITLE}" in f for f in _flashes(_text(guest.get("/channels"))))
    assert _role(database_url, channel_id, guest_id) is None
    [left] = _audit(database_url, "channel.member_removed")
    assert left["actor_id"] == guest_id
    assert guest.get(f"/channels/{channel_id}").status_code == 404


def test_the_owner_row_can_be_neither_removed_nor_changed(owner, channel_id, database_url):
    owner_id = user_id(database_url, "owner@example.com")
    page = _text(owner.get(f"/channels/{channel_id}/members"))
    assert f"/members/{owner_id}/remove" not in page and f"/members/{owner_id}/role" not in page

    removed = post_form(owner, f"/channels/{channel_id}/members/{owner_id}/remove")
    assert any("cannot be removed" in f for f in _flashes(_text(owner.get(removed.headers["Location"]))))
    changed = post_form(owner, f"/channels/{channel_id}/members/{owner_id}/role", {"role": "viewer"})
    assert any("cannot be changed" in f for f in _flashes(_text(owner.get(changed.headers["Location"]))))
    assert _role(database_url, channel_id, owner_id) == "owner"
    assert _audit(database_url, "channel.member_removed") == _audit(database_url, "channel.member_role_changed") == []


# -- connecting without a Google client --------------------------------------------


def test_connect_without_google_client_explains_what_to_configure(app_config):
    from webapp import create_app

    app = create_app({**app_config, "GOOGLE_CLIENT_ID": "", "GOOGLE_CLIENT_SECRET": ""})
    client = user_client(app, "owner@example.com")
    response = post_form(client, "/channels/connect")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/channels"
    flashes = _flashes(_text(client.get("/channels")))
    assert any("GOOGLE_CLIENT_ID" in f and "demo channel" in f for f in flashes), flashes


def _suggestion(database_url: str, run_id: int, video_id: int, status: str, **extra) -> int:
    columns = {
        "run_id": run_id,
        "video_id": video_id,
        "status": status,
        "engine": "heuristic",
        "prompt_version": "t",
        "titles": '[{"title": "A title"}]',
        "description": "",
        "tags": [],
        "cache_key": f"k{video_id}",
        **extra,
    }
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    [row] = query(
        database_url, f"INSERT INTO suggestions ({names}) VALUES ({marks}) RETURNING id", tuple(columns.values())
    )
    return row["id"]


def test_the_dashboard_lists_what_needs_attention_in_order_and_counts_decisions(owner, channel_id, database_url):
    """Failed changes first, then changes that measured worse, then what waits
    for review (accepted ones say so), then low SEO scores of videos with
    nothing in progress; the counters say how many wait and how many are
    accepted but not applied."""
    videos = [
        r["id"] for r in query(database_url, "SELECT id FROM videos WHERE channel_id = %s ORDER BY id", (channel_id,))
    ]
    failed, pending, accepted, applying, hurt, low = videos[:6]
    query(database_url, "UPDATE videos SET seo_score = 90 WHERE channel_id = %s", (channel_id,))
    query(database_url, "UPDATE videos SET seo_score = 20 WHERE id IN (%s, %s)", (applying, low))
    [run] = query(
        database_url,
        """INSERT INTO optimization_runs (channel_id, idempotency_key, status, video_count)
                                   VALUES (%s, 'k', 'succeeded', 4) RETURNING id""",
        (channel_id,),
    )
    _suggestion(database_url, run["id"], failed, "failed", apply_error="YouTube refused the change (forbidden).")
    _suggestion(database_url, run["id"], pending, "pending")
    _suggestion(database_url, run["id"], accepted, "accepted")
    _suggestion(database_url, run["id"], applying, "applying")
    applied = _suggestion(database_url, run["id"], hurt, "applied")
    query(
        database_url,
        """INSERT INTO experiments (video_id, suggestion_id, applied_at, cooling_until, status,
                                                    evaluated_at)
                           VALUES (%s, %s, now(), current_date, 'hurt', now())""",
        (hurt, applied),
    )

    page = _text(owner.get(f"/channels/{channel_id}"))
    attention = re.search(r'<ul class="attention-list">(.*?)</ul>', page, re.S)
    assert attention, "no attention list on the channel page"
    kinds = re.findall(r'<li class="attention-(\w+)">', attention.group(1))
    assert kinds == ["failed", "hurt", "review", "review", "low_score"]
    assert "YouTube refused the change (forbidden)." in attention.group(1)
    assert "Accepted, waiting to be applied." in attention.group(1)
    assert "A suggestion is waiting for your review." in attention.group(1)
    assert f"/channels/{channel_id}/videos/{low}" in attention.group(1)
    assert f'/channels/{channel_id}/videos/{applying}"' not in attention.group(1)  # in progress: not a low-score item
    summary = " ".join(re.sub(r"<[^>]+>", " ", page.split('aria-label="Channel summary"')[1][:2000]).split())
    assert "1 suggestion waiting for a decision and 1 accepted, not applied yet" in summary
