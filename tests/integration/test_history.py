"""A video's History: every stored version listed, two compared word by word
(escaped), and an older one restored through the real apply job and worker
without losing any version."""

from __future__ import annotations

import re

import pytest

from tests.integration.channel_helpers import import_demo, post_form, query, user_client
from tests.integration.mail_helpers import invite_and_accept
from tests.integration.youtube_helpers import run_worker_burst


@pytest.fixture
def demo(app, app_config):
    """The owner's client, the demo channel, and a video with two versions."""
    owner = user_client(app, "owner@example.com")
    channel_id = import_demo(owner)
    [row] = query(
        app_config["DATABASE_URL"],
        """SELECT mv.video_id FROM metadata_versions mv JOIN videos v ON v.id = mv.video_id
                     WHERE v.channel_id = %s GROUP BY mv.video_id HAVING count(*) = 2 ORDER BY mv.video_id LIMIT 1""",
        (channel_id,),
    )
    video_id = row["video_id"]
    old, new = query(
        app_config["DATABASE_URL"],
        "SELECT id, title FROM metadata_versions WHERE video_id = %s ORDER BY id",
        (video_id,),
    )
    assert old["title"] != new["title"], "the demo's changed video should have a changed title"
    base = f"/channels/{channel_id}/videos/{video_id}"
    return {"owner": owner, "channel_id": channel_id, "video_id": video_id, "old": old, "new": new, "base": base}


def _history_section(html: str) -> str:
    start = html.index('id="history"')
    return html[start : html.index("</section>", start)]


def _compare(client, demo, a, b, **kwargs):
    return client.get(f"{demo['base']}/compare?a={a}&b={b}", **kwargs)


def test_history_lists_both_versions_newest_first(demo):
    section = _history_section(demo["owner"].get(demo["base"]).get_data(as_text=True))
    assert demo["new"]["title"] in section and demo["old"]["title"] in section
    assert section.index(demo["new"]["title"]) < section.index(demo["old"]["title"])
    assert "Demo data" in section
    # The owner may restore the older version; the one the video has now is marked, not offered.
    assert section.count("/restore") == 1 and "What the video has now" in section


def test_compare_marks_removed_and_added_words(demo):
    response = _compare(demo["owner"], demo, demo["old"]["id"], demo["new"]["id"])
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    removed = " ".join(re.findall(r"<del>(.*?)</del>", html, re.S))
    added = " ".join(re.findall(r"<ins>(.*?)</ins>", html, re.S))
    old_words, new_words = set(demo["old"]["title"].split()), set(demo["new"]["title"].split())
    from html import escape

    assert any(escape(word) in removed for word in old_words - new_words), removed
    assert any(escape(word) in added for word in new_words - old_words), added
    fragment = _compare(demo["owner"], demo, demo["old"]["id"], demo["new"]["id"], headers={"HX-Request": "true"})
    assert "<del>" in fragment.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)


def test_text_from_a_version_is_escaped_in_the_comparison(app_config, demo):
    query(
        app_config["DATABASE_URL"],
        "UPDATE metadata_versions SET title = %s WHERE id = %s",
        ("Old <script>alert(1)</script> title", demo["old"]["id"]),
    )
    html = _compare(demo["owner"], demo, demo["old"]["id"], demo["new"]["id"]).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    page = demo["owner"].get(demo["base"]).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _history_section(page)
    assert "<script>alert(1)" not in page


def test_restoring_the_older_version_keeps_every_version(app_config, demo):
    url = app_config["DATABASE_URL"]
    before = query(url, "SELECT id FROM metadata_versions WHERE video_id = %s ORDER BY id", (demo["video_id"],))
    response = post_form(demo["owner"], f"{demo['base']}/versions/{demo['old']['id']}/restore")
    assert response.status_code == 303 and response.headers["Location"].endswith("#history")
    worker = run_worker_burst(app_config)
    assert worker.returncode == 0, worker.stderr[-3000:]

    [video] = query(url, "SELECT title FROM videos WHERE id = %s", (demo["video_id"],))
    assert video["title"] == demo["old"]["title"]
    after = query(
        url,
        """SELECT mv.id, mv.source, u.email FROM metadata_versions mv LEFT JOIN users u ON u.id = mv.created_by
                          WHERE mv.video_id = %s ORDER BY mv.id""",
        (demo["video_id"],),
    )
    assert len(after) == len(before) + 1
    assert [r["id"] for r in after[:-1]] == [r["id"] for r in before]  # nothing lost
    assert (after[-1]["source"], after[-1]["email"]) == ("restore", "owner@example.com")
    assert query(
        url, "SELECT details->>'version_id' AS version FROM audit_log WHERE action = 'version.restore_requested'"
    ) == [{"version": str(demo["old"]["id"])}]
    section = _history_section(demo["owner"].get(demo["base"]).get_data(as_text=True))
    assert "Restore" in section and "owner@example.com" in section
    # The restored version and the one it came from hold the same text; only the newest is "now".
    rows = section.split("<tr>")[2:]  # after the header row: newest first
    assert section.count("What the video has now") == 1 and "What the video has now" in rows[0]
    assert "Same as now" in rows[-1] and "/restore" not in rows[-1]
    assert "/restore" in rows[1]  # the version the creator restored away from can be restored


def test_restoring_what_the_video_already_has_is_refused(app_config, demo):
    response = post_form(demo["owner"], f"{demo['base']}/versions/{demo['new']['id']}/restore")
    assert response.status_code == 303
    assert "already has this version" in demo["owner"].get(demo["base"]).get_data(as_text=True)
    assert query(app_config["DATABASE_URL"], "SELECT count(*) AS n FROM suggestions") == [{"n": 0}]


def test_a_viewer_may_look_but_not_restore(app, app_config, demo):
    user_client(app, "viewer@example.com")
    viewer = app.test_client()
    from tests.helpers import login

    assert login(viewer, "viewer@example.com").status_code == 302
    invite_and_accept(
        demo["owner"], viewer, app_config["DATABASE_URL"], demo["channel_id"], "viewer@example.com", "viewer"
    )
    assert "/restore" not in _history_section(viewer.get(demo["base"]).get_data(as_text=True))
    assert _compare(viewer, demo, demo["old"]["id"], demo["new"]["id"]).status_code == 200
    assert post_form(viewer, f"{demo['base']}/versions/{demo['old']['id']}/restore").status_code == 403
    assert query(app_config["DATABASE_URL"], "SELECT count(*) AS n FROM suggestions") == [{"n": 0}]


def test_a_non_member_gets_404_everywhere(app, app_config, demo):
    stranger = user_client(app, "stranger@example.com")
    assert stranger.get(demo["base"]).status_code == 404
    assert _compare(stranger, demo, demo["old"]["id"], demo["new"]["id"]).status_code == 404
    assert post_form(stranger, f"{demo['base']}/versions/{demo['old']['id']}/restore").status_code == 404
    assert query(app_config["DATABASE_URL"], "SELECT count(*) AS n FROM suggestions") == [{"n": 0}]


def test_a_version_of_another_video_is_404(app_config, demo):
    [other] = query(
        app_config["DATABASE_URL"],
        """SELECT mv.id FROM metadata_versions mv JOIN videos v ON v.id = mv.video_id
                       WHERE v.channel_id = %s AND v.id <> %s LIMIT 1""",
        (demo["channel_id"], demo["video_id"]),
    )
    assert _compare(demo["owner"], demo, other["id"], demo["new"]["id"]).status_code == 404
    assert _compare(demo["owner"], demo, demo["old"]["id"], other["id"]).status_code == 404
    assert _compare(demo["owner"], demo, "x", demo["new"]["id"]).status_code == 400  # not an id at all
    assert post_form(demo["owner"], f"{demo['base']}/versions/{other['id']}/restore").status_code == 404
