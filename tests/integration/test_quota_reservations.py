"""The project's YouTube quota, shared by every channel and process: what an
optimization will spend is shown before it starts and refused with the
numbers when today's quota cannot cover it; "without transcripts" spends
nothing now; two actions checked at the same moment cannot both pass on the
same units; and a write that went out stays counted even when its answer
never came back."""

from __future__ import annotations

import threading
import time

import psycopg2.extras
import pytest
import redis

from jobs.enqueue import enqueue_apply
from optimizer.youtube import quota
from reliability.db import transaction
from tests.fakes.google import fake_google_fixture
from tests.integration.optimize_helpers import burst, connect_synced, query, queued_jobs
from tests.integration.youtube_helpers import page_text as _page_text

fake_google = fake_google_fixture()
TRANSCRIPT = quota.COSTS["captions.list"] + quota.COSTS["captions.download"]


def page_text(response) -> str:
    """What a reader sees, spaces squashed (the template wraps its lines)."""
    return " ".join(_page_text(response).split())


def _used(url: str) -> int:
    return query(url, "SELECT coalesce(sum(units), 0)::int AS n FROM quota_ledger WHERE api = 'youtube'")[0]["n"]


def test_two_reservations_at_the_same_moment_cannot_share_the_same_units(clean_state):
    """Each fits today's 1,000 units alone; together they would not: one is refused."""
    start, outcomes = threading.Barrier(2), []

    def take() -> None:
        start.wait()
        try:
            with transaction() as cur:
                quota.reserve(cur, [600], 1000, purpose="optimize", channel_id=None, user_id=None)
                time.sleep(0.5)  # still uncommitted while the other one checks
            outcomes.append("reserved")
        except quota.QuotaBudgetExceeded as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=take) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes)[-1] == "reserved" and outcomes.count("reserved") == 1, outcomes
    refusal = next(o for o in outcomes if o != "reserved")
    assert "This needs about 600 YouTube quota units, but 0 of today's 1,000 are used and 600 are held" in refusal

    with transaction() as cur:  # released, the units are free again
        cur.execute("UPDATE quota_reservations SET released_at = now()")
        assert quota.units_left_today(cur, 1000) == 1000


@pytest.fixture
def channel(creator, fake_google, yt_config):
    return connect_synced(creator, fake_google, yt_config, "alice", 2)


def _tight_client(yt_config, budget: int):
    from tests.helpers import login
    from webapp import create_app

    client = create_app({**yt_config, "YOUTUBE_DAILY_QUOTA": budget}).test_client()
    assert login(client).status_code == 302
    return client


def _optimize(client, channel_id: int, video_ids: list[int], **extra):
    from tests.integration.optimize_helpers import optimize_form

    token, key, _ = optimize_form(client, channel_id)
    return client.post(
        f"/channels/{channel_id}/optimize",
        headers={"HX-Request": "true"},
        data={"csrf_token": token, "idempotency_key": key, "video_ids": video_ids, **extra},
    )


def test_an_optimization_the_quota_cannot_cover_is_refused_with_the_numbers(creator, fake_google, yt_config, channel):
    url = yt_config["DATABASE_URL"]
    used = _used(url)
    budget = used + TRANSCRIPT  # one transcript fits, two do not
    tight = _tight_client(yt_config, budget)
    page = page_text(tight.get(f"/channels/{channel['id']}"))
    assert f"each video optimized without a stored transcript costs {TRANSCRIPT} units now (2 on this page" in page
    assert f"each change applied later {quota.APPLY_UNITS}." in page
    assert f"{budget - used:,} of today's {budget:,} are left." in page

    refused = _optimize(tight, channel["id"], channel["videos"])
    assert refused.status_code == 429, refused.get_data(as_text=True)
    message = refused.get_json()["error"]["message"]
    assert (
        f"This needs about {2 * TRANSCRIPT:,} YouTube quota units, but {used:,} of today's {budget:,} are used."
        in message
    )
    assert f"2 transcripts at {TRANSCRIPT} units each" in message and "without transcripts" in message
    assert query(url, "SELECT count(*)::int AS n FROM optimization_runs") == [{"n": 0}]
    assert queued_jobs(yt_config) == 0

    # Without transcripts it spends nothing now: accepted, and the worker fetches none.
    accepted = _optimize(tight, channel["id"], channel["videos"], without_transcripts="1")
    assert accepted.status_code == 204, accepted.get_data(as_text=True)
    assert query(url, "SELECT without_transcripts FROM optimization_runs") == [{"without_transcripts": True}]
    burst(yt_config)
    assert fake_google.calls["captions.list"] == 0 and fake_google.calls["captions.download"] == 0
    assert query(url, "SELECT status FROM optimization_runs") == [{"status": "succeeded"}]
    assert _used(url) == used


def test_a_run_holds_its_transcripts_until_it_ends(creator, fake_google, yt_config, channel):
    url = yt_config["DATABASE_URL"]
    video = f"/channels/{channel['id']}/videos/{channel['videos'][0]}"
    assert f"Optimizing spends {TRANSCRIPT} YouTube quota units now (its transcript" in page_text(creator.get(video))
    assert _optimize(creator, channel["id"], channel["videos"][:1]).status_code == 204
    assert query(url, "SELECT units, released_at IS NULL AS open FROM quota_reservations") == [
        {"units": TRANSCRIPT, "open": True}
    ]
    burst(yt_config)
    spent = query(
        url,
        """SELECT coalesce(sum(l.units), 0)::int AS n FROM quota_ledger l
                          JOIN quota_reservations r ON r.id = l.reservation_id""",
    )
    assert spent == [{"n": TRANSCRIPT}]  # the captions calls were spent against the reservation
    assert query(url, "SELECT released_at IS NULL AS open FROM quota_reservations") == [{"open": False}]
    # The transcript is stored now: optimizing the video again costs nothing.
    assert "Optimizing spends 0 YouTube quota units now (no transcript to fetch" in page_text(creator.get(video))


def test_the_demo_channel_shows_and_spends_nothing(app, app_config):
    from tests.integration.channel_helpers import import_demo, user_client

    owner = user_client(app, "owner@example.com")
    channel_id = import_demo(owner)
    assert "The demo channel never calls YouTube: optimizing and applying spend 0 quota units." in page_text(
        owner.get(f"/channels/{channel_id}")
    )


def test_a_write_whose_answer_never_came_stays_counted(creator, fake_google, yt_config, channel):
    """The first videos.update reaches YouTube but its answer times out; the
    client sends it again. Both went out, so both are in the ledger."""
    url = yt_config["DATABASE_URL"]
    [row] = query(
        url,
        """SELECT v.id, v.channel_id, m.id AS base, u.id AS user_id FROM videos v
                          JOIN metadata_versions m ON m.video_id = v.id JOIN users u ON u.email = 'creator@example.com'
                          WHERE v.id = %s""",
        (channel["videos"][0],),
    )
    [run] = query(
        url,
        """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, video_count)
                          VALUES (%s, %s, 'k-timeout', 1) RETURNING id""",
        (row["channel_id"], row["user_id"]),
    )
    [s] = query(
        url,
        """INSERT INTO suggestions (run_id, video_id, base_version_id, status, engine, prompt_version, titles,
                                                 description, tags, cache_key, approved_title, decided_by)
                        VALUES (%s, %s, %s, 'applying', 'heuristic', 'p', %s, 'A description', '{bread}', 'c',
                                'A fine new title', %s) RETURNING id""",
        (
            run["id"],
            row["id"],
            row["base"],
            psycopg2.extras.Json([{"title": "t", "rationale": "r"}] * 3),
            row["user_id"],
        ),
    )
    connection = redis.Redis.from_url(yt_config["REDIS_URL"])
    enqueue_apply(connection, s["id"])
    connection.close()
    hang = fake_google.faults.hang("videos.update", timeout_s=5)
    try:
        burst({**yt_config, "YOUTUBE_TIMEOUT_S": 1})
    finally:
        hang.release()
    puts = len(fake_google.requests_to("/videos", "PUT"))
    assert puts == 2, puts  # the timed-out one, then the retry
    assert query(url, "SELECT units FROM quota_ledger WHERE method = 'videos.update'") == [{"units": 50}] * puts
    assert query(url, "SELECT status FROM suggestions WHERE id = %s", (s["id"],)) == [{"status": "applied"}]
