"""Reviewing one suggestion of the demo channel: the page (ranked titles,
counters, word diff), the live preview, saving, accepting and applying an
edited draft through a real worker, invalid edits, and what a viewer may do."""

from __future__ import annotations

import html
import re

import pytest

from tests.helpers import POLLING, csrf_from, login
from tests.integration.channel_helpers import post_form, user_client
from tests.integration.mail_helpers import invite_and_accept
from tests.integration.optimize_helpers import burst, import_demo, optimize_and_wait, query, queued_jobs

SUGGESTION_ROW = "SELECT * FROM suggestions WHERE id = %s"


@pytest.fixture
def review(app, app_config):
    """The owner's client and one pending rule-based suggestion for a demo video."""
    url = app_config["DATABASE_URL"]
    owner = user_client(app, "owner@example.com")
    channel_id = import_demo(owner)
    [video] = query(
        url, "SELECT id, title, description, tags FROM videos WHERE channel_id = %s ORDER BY id LIMIT 1", (channel_id,)
    )
    optimize_and_wait(owner, app_config, channel_id, [video["id"]])
    [suggestion] = query(
        url, "SELECT id, titles, description, tags, status FROM suggestions WHERE video_id = %s", (video["id"],)
    )
    assert suggestion["status"] == "pending"
    base = f"/channels/{channel_id}/suggestions/{suggestion['id']}"
    return {"owner": owner, "channel_id": channel_id, "video": video, "s": suggestion, "base": base, "url": url}


def _post(client, url: str, data: dict, **kwargs):
    """POST ``data`` with the CSRF token of a page the client can see."""
    return post_form(client, url, data, **kwargs)


def _row(review) -> dict:
    return query(review["url"], SUGGESTION_ROW, (review["s"]["id"],))[0]


def _strip(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _diff_title(page: str) -> tuple[str, str]:
    """The title diff as the old and the new title it reads as."""
    match = re.search(r'<p class="diff-title">(.*?)</p>', page, re.S)
    assert match, "no title diff on the page"
    pieces = match.group(1)
    old = _strip(re.sub(r"<ins>.*?</ins>", "", pieces, flags=re.S))
    new = _strip(re.sub(r"<del>.*?</del>", "", pieces, flags=re.S))
    return old, new


def _counter(page: str, field: str, suggestion_id: int) -> str:
    match = re.search(rf'<small id="count-{field}-{suggestion_id}"[^>]*>[^<]*</small>', page)
    assert match, f"no {field} counter"
    return match.group(0)


# -- the page -------------------------------------------------------------------


def test_the_review_page_ranks_titles_counts_and_diffs_against_the_current_title(review):
    response = review["owner"].get(review["base"])
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = html.unescape(page)
    titles = [t["title"] for t in review["s"]["titles"]]
    assert len(titles) == 3
    positions = [text.index(title) for title in titles]
    assert positions == sorted(positions), "the titles are not in their ranked order"
    assert re.search(r'name="title_index" value="0"[^>]*checked', page), "the best title is not preselected"
    assert "/ 100 characters" in page and "/ 5,000 bytes" in page and "/ 500 characters" in page

    assert "<del>" in page and "<ins>" in page
    old, new = _diff_title(page)
    assert old == review["video"]["title"]
    assert new == titles[0]


# -- live preview -----------------------------------------------------------------


def test_preview_shows_problems_and_the_over_counter_without_storing_anything(review):
    before = _row(review)
    sid = review["s"]["id"]

    brackets = _post(
        review["owner"], f"{review['base']}/preview", {"title_index": "custom", "title": "Bread <b>fast</b>"}
    )
    assert brackets.status_code == 200
    assert "Remove < and > from the title; YouTube refuses them." in html.unescape(brackets.get_data(as_text=True))

    long_title = " ".join(["sourdough"] * 12)  # 119 characters
    long = _post(review["owner"], f"{review['base']}/preview", {"title_index": "custom", "title": long_title})
    page = long.get_data(as_text=True)
    assert long.status_code == 200
    assert "The title is 119 characters; YouTube allows 100" in page
    counter = _counter(page, "title", sid)
    assert 'hx-swap-oob="true"' in counter and "counter over" in counter and "119 / 100 characters" in counter
    assert "<html" not in page  # a fragment, not a page

    fine = _post(
        review["owner"], f"{review['base']}/preview", {"title_index": "custom", "title": "Sourdough in one day"}
    )
    assert "Within YouTube's limits." in html.unescape(fine.get_data(as_text=True))
    assert "over" not in _counter(fine.get_data(as_text=True), "title", sid)

    script = _post(review["owner"], f"{review['base']}/preview", {"description": "Intro <script>alert(1)</script>"})
    body = script.get_data(as_text=True)
    assert "Remove < and > from the description; YouTube refuses them." in html.unescape(body)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert(1)" not in body

    assert _row(review) == before


def test_a_pasted_novel_of_tags_is_a_clear_error_not_a_crash(review):
    before = _row(review)
    novel = "bread, " * 3000  # 21,000 characters
    preview = _post(review["owner"], f"{review['base']}/preview", {"tags": novel})
    assert preview.status_code == 200
    assert "far more tag text than YouTube accepts" in html.unescape(preview.get_data(as_text=True))

    saved = _post(review["owner"], f"{review['base']}/decide", {"action": "save", "tags": novel})
    assert saved.status_code == 303
    assert "far more tag text than YouTube accepts" in html.unescape(
        review["owner"].get(saved.headers["Location"]).get_data(as_text=True)
    )
    assert _row(review) == before


def test_a_pasted_transcript_as_description_is_a_clear_error_not_a_slow_diff(review):
    before = _row(review)
    transcript = "and then we stir the sauce " * 1000  # 27,000 characters
    preview = _post(review["owner"], f"{review['base']}/preview", {"description": transcript})
    assert preview.status_code == 200
    assert "far more text than YouTube accepts" in html.unescape(preview.get_data(as_text=True))
    assert _row(review) == before


def test_enter_in_the_title_box_saves_instead_of_applying(review):
    """A browser submits a form on Enter with its first submit button."""
    page = review["owner"].get(review["base"]).get_data(as_text=True)
    form = re.search(r'<form[^>]*class="review-form".*?</form>', page, re.S).group(0)
    first_button = re.search(r"<button[^>]*>", form).group(0)
    assert 'value="save"' in first_button


def test_a_next_with_a_line_break_falls_back_to_the_suggestion_page(review):
    response = _post(
        review["owner"],
        f"{review['base']}/decide",
        {"action": "save", "next": f"/channels/{review['channel_id']}\r\nX-Evil: 1"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(review["base"]) and "X-Evil" not in response.headers


# -- save, accept, apply ------------------------------------------------------------


def test_saved_edits_stay_pending_and_accepting_sends_nothing(review, app_config):
    """Edited from the review panel on the video page, which it returns to."""
    own = "Sourdough at home: my one-day method"
    video_path = f"/channels/{review['channel_id']}/videos/{review['video']['id']}"
    video_page = review["owner"].get(video_path).get_data(as_text=True)
    assert f'id="suggestion-{review["s"]["id"]}"' in video_page and f'action="{review["base"]}/decide"' in video_page
    saved = _post(
        review["owner"],
        f"{review['base']}/decide",
        {"action": "save", "title_index": "custom", "title": own, "next": video_path},
    )
    assert saved.status_code == 303 and saved.headers["Location"].endswith(video_path)
    row = _row(review)
    assert (row["approved_title"], row["status"]) == (own, "pending")

    page = review["owner"].get(review["base"]).get_data(as_text=True)
    assert "Your edits are saved." in page
    assert re.search(r'value="custom" id="title-custom-\d+" checked', page), "'Write my own' is not chosen"
    assert f'value="{own}"' in html.unescape(page)
    assert not re.search(r'name="title_index" value="0"[^>]*checked', page)

    accepted = _post(review["owner"], f"{review['base']}/decide", {"action": "accept", "next": "https://evil.example/"})
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith(review["base"])  # only our own pages
    row = _row(review)
    assert (row["status"], row["approved_title"]) == ("accepted", own)  # the draft is kept
    assert queued_jobs(app_config) == 0
    [video] = query(review["url"], "SELECT title FROM videos WHERE id = %s", (review["video"]["id"],))
    assert video["title"] == review["video"]["title"]
    assert "Accept, apply later" in review["owner"].get(review["base"]).get_data(as_text=True)  # still decidable


def test_applying_an_edited_draft_changes_the_video_and_keeps_the_old_version(review, app_config):
    url, video_id, sid = review["url"], review["video"]["id"], review["s"]["id"]
    old_versions = query(url, "SELECT id, title FROM metadata_versions WHERE video_id = %s ORDER BY id", (video_id,))
    edited = {
        "title": "Sourdough bread in one day (no mixer)",
        "description": "How I bake it.\n\nIngredients below.",
        "tags": "sourdough, bread\nno knead",
    }
    assert _post(review["owner"], f"{review['base']}/decide", {"action": "accept"}).status_code == 303
    applied = _post(review["owner"], f"{review['base']}/decide", {"action": "apply", "title_index": "custom", **edited})
    assert applied.status_code == 303
    assert _row(review)["status"] == "applying"
    again = _post(review["owner"], f"{review['base']}/decide", {"action": "apply"})  # a double click
    assert "This suggestion was decided meanwhile" in html.unescape(
        review["owner"].get(again.headers["Location"]).get_data(as_text=True)
    )
    assert queued_jobs(app_config) == 1
    assert "Sending the change to YouTube" in review["owner"].get(review["base"]).get_data(as_text=True)
    poll = {"HX-Request": "true", "HX-Target": f"suggestion-{sid}"}
    panel = review["owner"].get(review["base"], headers=poll)
    assert panel.status_code == 200 and POLLING in panel.get_data(as_text=True)

    burst(app_config)
    assert _row(review)["status"] == "applied"
    done = review["owner"].get(review["base"], headers=poll)
    assert done.status_code == 204 and done.headers["HX-Refresh"] == "true"  # the page reloads to show the outcome
    [video] = query(url, "SELECT title, description, tags FROM videos WHERE id = %s", (video_id,))
    assert (video["title"], video["description"], video["tags"]) == (
        edited["title"],
        edited["description"],
        ["sourdough", "bread", "no knead"],
    )
    versions = query(
        url, "SELECT id, title, source FROM metadata_versions WHERE video_id = %s ORDER BY id", (video_id,)
    )
    assert [v["id"] for v in versions[: len(old_versions)]] == [v["id"] for v in old_versions]  # nothing lost
    assert versions[-1]["title"] == edited["title"] and versions[-1]["source"] == "apply"
    assert review["video"]["title"] in [v["title"] for v in versions[:-1]]

    video_page = review["owner"].get(f"/channels/{review['channel_id']}/videos/{video_id}").get_data(as_text=True)
    history = html.unescape(video_page[video_page.index('id="history"') :])
    assert edited["title"] in history and review["video"]["title"] in history and "Applied suggestion" in history
    actions = [
        r["action"]
        for r in query(
            url,
            """SELECT action FROM audit_log WHERE (target_type = 'suggestion' AND target_id = %s)
                   OR (action = 'suggestion.applied' AND details->>'suggestion_id' = %s) ORDER BY id""",
            (str(sid), str(sid)),
        )
    ]
    assert actions == ["suggestion.accepted", "suggestion.accepted", "suggestion.apply_requested", "suggestion.applied"]


def test_an_invalid_edit_is_refused_and_the_saved_draft_kept(review):
    good = "Sourdough for beginners"
    assert (
        _post(
            review["owner"], f"{review['base']}/decide", {"action": "save", "title_index": "custom", "title": good}
        ).status_code
        == 303
    )
    before = _row(review)

    refused = _post(
        review["owner"],
        f"{review['base']}/decide",
        {"action": "apply", "title_index": "custom", "title": "Sourdough -> bread"},
    )
    assert refused.status_code == 303
    page = html.unescape(review["owner"].get(refused.headers["Location"]).get_data(as_text=True))
    assert "Remove < and > from the title; YouTube refuses them." in page
    assert f'value="{good}"' in page
    assert _row(review) == before

    htmx = _post(
        review["owner"],
        f"{review['base']}/decide",
        {"action": "save", "title_index": "custom", "title": "Sourdough -> bread"},
        headers={"HX-Request": "true"},
    )
    assert htmx.status_code == 400
    error = htmx.get_json()["error"]
    assert error["code"] == "youtube_limits" and "Remove < and >" in error["message"] and error["request_id"]
    assert _row(review) == before


def test_a_video_removed_from_youtube_cannot_be_changed(review):
    query(review["url"], "UPDATE videos SET removed_at = now() WHERE id = %s RETURNING id", (review["video"]["id"],))
    before = _row(review)
    refused = _post(
        review["owner"],
        f"{review['base']}/decide",
        {"action": "apply", "title_index": "custom", "title": "A title for a video that is gone"},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 409
    assert "removed from YouTube" in refused.get_json()["error"]["message"]
    assert _row(review) == before
    page = review["owner"].get(review["base"]).get_data(as_text=True)
    assert "Apply to YouTube" not in page  # no editor is offered either


# -- roles -------------------------------------------------------------------------


def test_a_viewer_may_read_the_review_but_not_decide(app, review):
    user_client(app, "viewer@example.com")
    viewer = app.test_client()
    assert login(viewer, "viewer@example.com").status_code == 302
    invite_and_accept(
        review["owner"], viewer, app.config["DATABASE_URL"], review["channel_id"], "viewer@example.com", "viewer"
    )
    joined = query(
        review["url"],
        """SELECT action FROM audit_log WHERE actor_email = 'viewer@example.com'
                                     AND action NOT LIKE 'user.%%'""",
    )  # accepting the invitation
    before = _row(review)

    page = viewer.get(review["base"])
    assert page.status_code == 200
    assert review["s"]["titles"][0]["title"] in html.unescape(page.get_data(as_text=True))
    assert "/decide" not in page.get_data(as_text=True) and "Apply to YouTube" not in page.get_data(as_text=True)

    c, sid = review["channel_id"], review["s"]["id"]
    run_id = before["run_id"]
    token = csrf_from(viewer.get("/channels").get_data(as_text=True))
    for path, data in [
        (f"{review['base']}/preview", {"title_index": "custom", "title": "Mine"}),
        (f"{review['base']}/decide", {"action": "apply"}),
        (f"{review['base']}/apply", {}),
        (f"{review['base']}/reject", {}),
        (f"{review['base']}/resolve", {"keep": "youtube"}),
        (f"/channels/{c}/suggestions/{sid}/accept", {}),
        (f"/channels/{c}/runs/{run_id}/accept-all", {}),
        (f"/channels/{c}/runs/{run_id}/reject-all", {}),
        (f"/channels/{c}/runs/{run_id}/apply-accepted", {}),
        (f"/channels/{c}/runs/{run_id}/retry", {}),
    ]:
        response = viewer.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 403, (path, response.status_code)
    assert _row(review) == before
    assert (
        query(
            review["url"],
            """SELECT action FROM audit_log WHERE actor_email = 'viewer@example.com'
                                    AND action NOT LIKE 'user.%%'""",
        )
        == joined
    )  # the refused posts wrote nothing


def test_a_title_choice_that_is_no_number_of_ours_is_a_clear_error(review):
    before = _row(review)
    for choice in ("7", "-1", "²", "9" * 5000, "one"):
        preview = _post(review["owner"], f"{review['base']}/preview", {"title_index": choice})
        assert preview.status_code == 200, (choice[:10], preview.status_code)
        assert "Choose one of the suggested titles or write your own." in preview.get_data(as_text=True)
        htmx = _post(
            review["owner"],
            f"{review['base']}/decide",
            {"action": "accept", "title_index": choice},
            headers={"HX-Request": "true"},
        )
        assert htmx.status_code == 400, (choice[:10], htmx.status_code)
    assert _row(review) == before
