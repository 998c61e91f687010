"""Deciding for a batch on its run page (accept all, apply accepted, reject
all), the YouTube quota checked before anything is sent, a conflict with a
change made on YouTube resolved either way, a failed video tried again, and
the channel dashboard, through real workers and the Google fake."""

from __future__ import annotations

import html
import re

import pytest

from optimizer.youtube.quota import APPLY_UNITS
from tests.fakes.google import fake_google_fixture
from tests.helpers import POLLING, login
from tests.integration.channel_helpers import post_form, user_client
from tests.integration.optimize_helpers import (
    burst,
    connect_synced,
    import_demo,
    optimize_and_wait,
    query,
    queued_jobs,
)

fake_google = fake_google_fixture()
SUGGESTION_STATUS = "SELECT status FROM suggestions WHERE id = %s"


def _text(response) -> str:
    """What a reader sees: tags dropped, entities decoded, spaces squashed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def _suggestions(url: str, run_id: int) -> list[dict]:
    return query(
        url,
        """SELECT s.id, s.video_id, s.status, s.titles, s.chosen_title, s.apply_error, s.conflict IS NOT NULL
                                AS has_conflict, v.title AS video_title, v.youtube_video_id
                         FROM suggestions s JOIN videos v ON v.id = s.video_id
                         WHERE s.run_id = %s ORDER BY s.video_id""",
        (run_id,),
    )


def _statuses(url: str, run_id: int) -> list[str]:
    return [s["status"] for s in _suggestions(url, run_id)]


def _puts(fake, youtube_id: str) -> int:
    return len([r for r in fake.requests_to("/videos", "PUT") if (r.json or {}).get("id") == youtube_id])


# -- batches on the demo channel ------------------------------------------------------


@pytest.fixture
def demo(app, app_config):
    owner = user_client(app, "owner@example.com")
    channel_id = import_demo(owner)
    videos = query(
        app_config["DATABASE_URL"], "SELECT id, title FROM videos WHERE channel_id = %s ORDER BY id", (channel_id,)
    )
    return {"owner": owner, "channel_id": channel_id, "videos": videos, "url": app_config["DATABASE_URL"]}


def test_accept_all_then_apply_accepted_changes_every_video(demo, app_config):
    owner, c, url = demo["owner"], demo["channel_id"], demo["url"]
    five = demo["videos"][:5]
    run = optimize_and_wait(owner, app_config, c, [v["id"] for v in five])
    run_page = f"/channels/{c}/runs/{run}"
    old_titles = {v["id"]: v["title"] for v in five}
    # The rule-based engine's first title may keep the creator's wording; for
    # those the creator picks the second one on the review page first.
    kept = [s for s in _suggestions(url, run) if s["titles"][0]["title"] == old_titles[s["video_id"]]]
    for s in kept:
        saved = post_form(owner, f"/channels/{c}/suggestions/{s['id']}/decide", {"action": "save", "title_index": "1"})
        assert saved.status_code == 303
    page = owner.get(run_page).get_data(as_text=True)
    assert "Accept all pending (5)" in page and "Apply accepted (0)" in page

    accepted = post_form(owner, f"{run_page}/accept-all")
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith(run_page)
    page = owner.get(run_page).get_data(as_text=True)
    assert "Accepted 5 suggestions." in page
    assert "Accept all pending (0)" in page and "Apply accepted (5)" in page
    assert _statuses(url, run) == ["accepted"] * 5
    assert queued_jobs(app_config) == 0

    assert post_form(owner, f"{run_page}/apply-accepted").status_code == 303
    assert _statuses(url, run) == ["applying"] * 5
    applying_page = owner.get(run_page)
    assert "Applying 5 changes to YouTube" in _text(applying_page)
    assert POLLING in applying_page.get_data(as_text=True)  # it refreshes itself meanwhile

    burst(app_config)
    suggestions = _suggestions(url, run)
    assert [s["status"] for s in suggestions] == ["applied"] * 5
    assert {s["id"]: s["chosen_title"] for s in suggestions if s["chosen_title"]} == {s["id"]: 1 for s in kept}
    for s in suggestions:
        assert s["video_title"] == s["titles"][s["chosen_title"]]["title"]
        assert s["video_title"] != old_titles[s["video_id"]]
    assert query(
        url, "SELECT count(*) AS n FROM experiments WHERE suggestion_id = ANY(%s)", ([s["id"] for s in suggestions],)
    ) == [{"n": 5}]
    final = owner.get(run_page).get_data(as_text=True)
    assert "Apply accepted (0)" in final and "hx-trigger" not in final
    # After applying, each row shows what the title was and what it is now (not only the new one).
    final_text = _text(owner.get(run_page))
    for s in suggestions:
        old, new = old_titles[s["video_id"]], s["video_title"]
        assert f"{old} → {new}" in final_text, (old, new)
    assert final.count('<del class="old-title">') == 5
    assert final_text.count("Description and tags") == 5  # what Accept all sent, on the page


def test_reject_all_undecided_changes_nothing(demo, app_config):
    owner, c, url = demo["owner"], demo["channel_id"], demo["url"]
    three = demo["videos"][5:8]
    run = optimize_and_wait(owner, app_config, c, [v["id"] for v in three])
    first = _suggestions(url, run)[0]
    assert post_form(owner, f"/channels/{c}/suggestions/{first['id']}/accept").status_code == 303
    assert _statuses(url, run) == ["accepted", "pending", "pending"]
    versions_before = query(url, "SELECT count(*) AS n FROM metadata_versions")

    rejected = post_form(owner, f"/channels/{c}/runs/{run}/reject-all")
    assert rejected.status_code == 303
    assert "Rejected 3 suggestions. Nothing was changed on YouTube." in _text(owner.get(rejected.headers["Location"]))
    assert _statuses(url, run) == ["rejected"] * 3
    assert queued_jobs(app_config) == 0
    now = query(url, "SELECT id, title FROM videos WHERE id = ANY(%s) ORDER BY id", ([v["id"] for v in three],))
    assert now == three
    assert query(url, "SELECT count(*) AS n FROM metadata_versions") == versions_before
    # No experiment opened (the demo's own past change has one, from no suggestion).
    assert query(url, "SELECT count(*) AS n FROM experiments WHERE suggestion_id IS NOT NULL") == [{"n": 0}]


# -- a connected channel ------------------------------------------------------------------


def test_apply_accepted_is_refused_up_front_when_the_quota_fits_only_one(yt_config, fake_google, creator):
    url = yt_config["DATABASE_URL"]
    channel = connect_synced(creator, fake_google, yt_config, "alice", 3)
    run = optimize_and_wait(creator, yt_config, channel["id"], channel["videos"])
    assert post_form(creator, f"/channels/{channel['id']}/runs/{run}/accept-all").status_code == 303
    [used] = query(url, "SELECT coalesce(sum(units), 0)::int AS n FROM quota_ledger WHERE api = 'youtube'")
    budget = used["n"] + APPLY_UNITS  # room for one apply, not two

    from webapp import create_app

    tight = create_app({**yt_config, "YOUTUBE_DAILY_QUOTA": budget}).test_client()
    assert login(tight).status_code == 302
    run_page = f"/channels/{channel['id']}/runs/{run}"
    refused = post_form(tight, f"{run_page}/apply-accepted")
    assert refused.status_code == 303
    assert (
        f"This needs about {3 * APPLY_UNITS:,} YouTube quota units, but {used['n']:,} of today's {budget:,} are used."
        in _text(tight.get(refused.headers["Location"]))
    )
    htmx = post_form(tight, f"{run_page}/apply-accepted", headers={"HX-Request": "true"})
    assert htmx.status_code == 429 and htmx.get_json()["error"]["code"] == "youtube_quota_budget"
    assert _statuses(url, run) == ["accepted"] * 3
    assert queued_jobs(yt_config) == 0

    one = _suggestions(url, run)[0]
    assert post_form(tight, f"/channels/{channel['id']}/suggestions/{one['id']}/apply").status_code == 303
    assert _statuses(url, run) == ["applying", "accepted", "accepted"]  # one apply does fit
    assert queued_jobs(yt_config) == 1
    assert fake_google.requests_to("/videos", "PUT") == []


def test_a_conflict_is_resolved_by_keeping_mine_or_youtubes(yt_config, fake_google, creator):
    url = yt_config["DATABASE_URL"]
    channel = connect_synced(creator, fake_google, yt_config, "alice", 2)
    run = optimize_and_wait(creator, yt_config, channel["id"], channel["videos"])
    mine, theirs = _suggestions(url, run)
    fake_google.world.update_video(mine["youtube_video_id"], title="Changed in YouTube Studio")
    fake_google.world.update_video(theirs["youtube_video_id"], title="Also changed in Studio")
    run_page = f"/channels/{channel['id']}/runs/{run}"
    assert post_form(creator, f"{run_page}/accept-all").status_code == 303
    assert post_form(creator, f"{run_page}/apply-accepted").status_code == 303
    burst(yt_config)

    assert [(s["status"], s["has_conflict"]) for s in _suggestions(url, run)] == [("failed", True)] * 2
    assert fake_google.requests_to("/videos", "PUT") == []
    review = f"/channels/{channel['id']}/suggestions/{mine['id']}"
    page = _text(creator.get(review))
    assert "YouTube has a different version now" in page
    assert "Review: Changed in YouTube Studio" in page  # the live title is what the video has now
    assert "Apply my version over YouTube's" in page and "Keep YouTube's version" in page
    assert creator.get(run_page).get_data(as_text=True).count(">Resolve</a>") == 2  # instead of Apply on each row

    kept = post_form(creator, f"{review}/resolve", {"keep": "mine"})
    assert kept.status_code == 303
    assert "Applying your version over YouTube's." in _text(creator.get(kept.headers["Location"]))
    burst(yt_config)
    creators_title = mine["titles"][mine["chosen_title"]]["title"]
    assert fake_google.world.video(mine["youtube_video_id"]).title == creators_title
    assert _puts(fake_google, mine["youtube_video_id"]) == 1
    assert _suggestions(url, run)[0]["status"] == "applied"
    history = query(
        url, "SELECT title, source FROM metadata_versions WHERE video_id = %s ORDER BY id", (mine["video_id"],)
    )
    assert {"title": "Changed in YouTube Studio", "source": "sync"} in history
    assert history[-1] == {"title": creators_title, "source": "apply"}
    video_page = creator.get(f"/channels/{channel['id']}/videos/{mine['video_id']}").get_data(as_text=True)
    assert "Changed in YouTube Studio" in html.unescape(video_page[video_page.index('id="history"') :])

    dropped = post_form(creator, f"/channels/{channel['id']}/suggestions/{theirs['id']}/resolve", {"keep": "youtube"})
    assert dropped.status_code == 303
    assert "Kept YouTube's version; the suggestion is rejected." in _text(creator.get(dropped.headers["Location"]))
    assert _suggestions(url, run)[1]["status"] == "rejected"
    assert queued_jobs(yt_config) == 0
    assert _puts(fake_google, theirs["youtube_video_id"]) == 0
    assert fake_google.world.video(theirs["youtube_video_id"]).title == "Also changed in Studio"
    assert _suggestions(url, run)[1]["video_title"] == "Also changed in Studio"


def test_a_failed_video_is_tried_again(yt_config, fake_google, creator):
    """Google's token endpoint is down when the access token needs a refresh
    (fetching the transcript): the video fails; Retry makes its suggestion."""
    url = yt_config["DATABASE_URL"]
    channel = connect_synced(creator, fake_google, yt_config, "alice", 1)
    fake_google.oauth.expire_access_tokens()
    fake_google.faults.inject("backendError", endpoint="oauth.token")
    run = optimize_and_wait(creator, yt_config, channel["id"], channel["videos"])
    assert fake_google.faults.pending == 0 and fake_google.requests_to("/token", "POST"), "the refresh was not tried"
    assert query(url, "SELECT status FROM optimization_runs WHERE id = %s", (run,)) == [{"status": "failed"}]
    assert query(url, "SELECT count(*) AS n FROM suggestions") == [{"n": 0}]
    run_page = f"/channels/{channel['id']}/runs/{run}"
    page = _text(creator.get(run_page))
    assert "this video could not be optimized; try it again." in page
    assert "Try the 1 failed video again" in page

    retried = post_form(creator, f"{run_page}/retry")
    assert retried.status_code == 303
    assert "Trying the failed videos again." in _text(creator.get(retried.headers["Location"]))
    assert query(url, "SELECT status FROM optimization_runs WHERE id = %s", (run,)) == [{"status": "queued"}]
    burst(yt_config)
    assert query(url, "SELECT status FROM optimization_runs WHERE id = %s", (run,)) == [{"status": "succeeded"}]
    assert [s["status"] for s in _suggestions(url, run)] == ["pending"]
    assert "Done: 1 suggestion ready." in _text(creator.get(run_page))


def test_the_dashboard_counts_decisions_and_lists_the_failed_change_first(yt_config, fake_google, creator):
    channel = connect_synced(creator, fake_google, yt_config, "alice", 4)
    run = optimize_and_wait(creator, yt_config, channel["id"], channel["videos"])
    applied, waiting, failing, waiting_too = _suggestions(yt_config["DATABASE_URL"], run)
    fake_google.world.update_video(failing["youtube_video_id"], title="Crusty <b>bread</b> at home")
    for s in (applied, failing):
        assert post_form(creator, f"/channels/{channel['id']}/suggestions/{s['id']}/accept").status_code == 303
    assert post_form(creator, f"/channels/{channel['id']}/runs/{run}/apply-accepted").status_code == 303
    burst(yt_config)
    assert _statuses(yt_config["DATABASE_URL"], run) == ["applied", "pending", "failed", "pending"]

    response = creator.get(f"/channels/{channel['id']}")
    text = _text(response)
    assert "2 suggestions waiting for a decision" in text
    assert "1 change applied this month" in text
    page = response.get_data(as_text=True)
    attention = page[page.index('class="attention-list"') :]
    items = re.findall(r'<li class="attention-(\w+)">(.*?)</li>', attention, re.S)
    assert [kind for kind, _ in items[:3]] == ["failed", "review", "review"]
    assert "Crusty &lt;b&gt;bread&lt;/b&gt; at home" in items[0][1]
    assert "The video changed on YouTube since this suggestion was made." in items[0][1]
    assert "<b>bread" not in page


def test_applying_a_newer_suggestion_retires_the_failed_one(yt_config, fake_google, creator):
    url = yt_config["DATABASE_URL"]
    channel = connect_synced(creator, fake_google, yt_config, "alice", 1)
    [old] = _suggestions(url, optimize_and_wait(creator, yt_config, channel["id"], channel["videos"]))
    fake_google.world.update_video(old["youtube_video_id"], title="Changed in YouTube Studio")
    assert (
        post_form(creator, f"/channels/{channel['id']}/suggestions/{old['id']}/decide", {"action": "apply"}).status_code
        == 303
    )
    burst(yt_config)
    assert query(url, SUGGESTION_STATUS, (old["id"],)) == [{"status": "failed"}]

    # The creator optimizes the video again, from what YouTube has now, and applies that.
    [new] = _suggestions(url, optimize_and_wait(creator, yt_config, channel["id"], channel["videos"]))
    assert (
        post_form(creator, f"/channels/{channel['id']}/suggestions/{new['id']}/decide", {"action": "apply"}).status_code
        == 303
    )
    burst(yt_config)
    assert query(url, SUGGESTION_STATUS, (new["id"],)) == [{"status": "applied"}]

    dashboard = creator.get(f"/channels/{channel['id']}").get_data(as_text=True)
    assert 'class="attention-failed"' not in dashboard
    video_page = _text(creator.get(f"/channels/{channel['id']}/videos/{old['video_id']}"))
    assert "YouTube has a different version now" not in video_page
    assert query(url, SUGGESTION_STATUS, (old["id"],)) == [{"status": "superseded"}]
