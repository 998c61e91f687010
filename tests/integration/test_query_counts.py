"""The channel page, the batch review (run) page and the Results page run a
constant number of SQL statements, at most 8, whatever the number of videos
or experiments.

Statements are counted by ``reliability.db.observe_statements``: every
statement any pooled connection executes during the request (the user
loader, the membership check, the page's own queries) is seen, and nothing
of the app is patched. Channels, videos and runs are inserted directly, so
that 500 videos cost no sync and no worker.
"""

from __future__ import annotations

import datetime as dt

import pytest
from psycopg2.extras import Json

from reliability import db
from tests.integration.channel_helpers import HTMX_TABLE, user_client, user_id, video_rows

MAX_STATEMENTS = 8
EMAIL = "counter@example.com"


def _channel_with_videos(owner_id: int, n_videos: int) -> tuple[int, list[int]]:
    """A demo-like channel owned by ``owner_id`` with ``n_videos`` videos; (channel id, video ids)."""
    with db.transaction() as cur:
        cur.execute(
            """INSERT INTO channels (youtube_channel_id, title, status, is_demo, video_count, created_by)
               VALUES (%s, %s, 'demo', true, %s, %s) RETURNING id""",
            (f"UC-count-{n_videos}", f"Channel of {n_videos}", n_videos, owner_id),
        )
        channel_id = cur.fetchone()["id"]
        db.bulk_insert("channel_members", ["channel_id", "user_id", "role"], [(channel_id, owner_id, "owner")], cur=cur)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    db.bulk_insert(
        "videos",
        [
            "channel_id",
            "youtube_video_id",
            "title",
            "published_at",
            "privacy_status",
            "view_count",
            "like_count",
            "seo_score",
        ],
        [
            (
                channel_id,
                f"vid{n_videos}-{i:04d}",
                f"Video number {i}",
                start + dt.timedelta(days=i),
                "public",
                i * 10,
                i,
                i % 101,
            )
            for i in range(n_videos)
        ],
    )
    with db.transaction() as cur:
        cur.execute("SELECT id FROM videos WHERE channel_id = %s ORDER BY id", (channel_id,))
        return channel_id, [r["id"] for r in cur.fetchall()]


def _finished_run(channel_id: int, owner_id: int, video_ids: list[int]) -> int:
    """A succeeded optimization run of ``video_ids``, each with a pending rule-based suggestion."""
    with db.transaction() as cur:
        cur.execute(
            """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, status, video_count,
                                              started_at, finished_at)
               VALUES (%s, %s, %s, 'succeeded', %s, now(), now()) RETURNING id""",
            (channel_id, owner_id, f"count-{channel_id}-{len(video_ids)}", len(video_ids)),
        )
        run_id = cur.fetchone()["id"]
        db.bulk_insert(
            "optimization_run_videos",
            ["run_id", "video_id", "position", "status"],
            [(run_id, v, i, "done") for i, v in enumerate(video_ids)],
            cur=cur,
        )
        db.bulk_insert(
            "suggestions",
            [
                "run_id",
                "video_id",
                "engine",
                "prompt_version",
                "titles",
                "description",
                "tags",
                "primary_keyword",
                "notes",
                "cache_key",
            ],
            [
                (
                    run_id,
                    v,
                    "heuristic",
                    "heuristic-v1",
                    Json([{"title": f"Better title {v} #{k}", "rationale": "clearer"} for k in range(3)]),
                    f"Description of video {v}.",
                    ["baking", "bread"],
                    "baking",
                    ["A rule-based suggestion."],
                    f"cache-{run_id}-{v}",
                )
                for v in video_ids
            ],
            cur=cur,
        )
    return run_id


def _count(client, url: str, headers: dict | None = None) -> tuple[int, str]:
    """(statements run by one GET of ``url``, the page). The page is fetched
    once before counting, so that a pool health ping (made only after a
    connection sat idle for 10 s) cannot slip into the count."""
    assert client.get(url, headers=headers).status_code == 200
    with db.observe_statements() as statements:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(statements), "\n".join(str(s) for s in statements)


@pytest.fixture
def owner(app):
    client = user_client(app, EMAIL)
    return client, user_id(app.config["DATABASE_URL"], EMAIL)


@pytest.mark.parametrize("headers", [None, HTMX_TABLE], ids=["full-page", "htmx-video-table"])
def test_channel_page_runs_a_constant_number_of_statements(owner, headers):
    client, owner_id = owner
    counts = {}
    for n_videos in (10, 500):
        channel_id, _ = _channel_with_videos(owner_id, n_videos)
        url = f"/channels/{channel_id}"
        counts[n_videos], statements = _count(client, url, headers)
        assert counts[n_videos] <= MAX_STATEMENTS, statements
        html = client.get(url, headers=headers).get_data(as_text=True)
        assert len(video_rows(html)) == min(n_videos, 50)
    assert counts[10] == counts[500], counts


def test_run_page_runs_a_constant_number_of_statements(owner):
    client, owner_id = owner
    channel_id, video_ids = _channel_with_videos(owner_id, 500)
    counts = {}
    for n_suggestions in (10, 50):  # 50: the largest batch
        run_id = _finished_run(channel_id, owner_id, video_ids[:n_suggestions])
        url = f"/channels/{channel_id}/runs/{run_id}"
        counts[n_suggestions], statements = _count(client, url)
        assert counts[n_suggestions] <= MAX_STATEMENTS, statements
        html = client.get(url).get_data(as_text=True)
        assert f"Done: {n_suggestions} suggestions ready." in html
        assert html.count('<tr id="row-') == n_suggestions
        assert html.count("Better title") == n_suggestions  # each row's chosen title
        assert f"Accept all pending ({n_suggestions})" in html
    assert counts[10] == counts[50], counts


def _experiments(video_ids: list[int], n: int) -> None:
    """``n`` judged experiments spread over ``video_ids``."""
    applied = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    db.bulk_insert(
        "experiments",
        [
            "video_id",
            "applied_at",
            "cooling_until",
            "status",
            "outcome",
            "look",
            "lift",
            "confidence",
            "interval_low",
            "interval_high",
        ],
        [
            (
                video_ids[i % len(video_ids)],
                applied + dt.timedelta(hours=i),
                applied.date(),
                ("helped", "inconclusive", "hurt")[i % 3],
                ("helped", "inconclusive", "hurt")[i % 3],
                3,
                (i % 7 - 3) / 10,
                0.5,
                -0.1,
                0.2,
            )
            for i in range(n)
        ],
    )


def test_results_page_runs_a_constant_number_of_statements(owner):
    client, owner_id = owner
    counts = {}
    for n_experiments in (10, 500):
        channel_id, video_ids = _channel_with_videos(owner_id, 50 + n_experiments)
        _experiments(video_ids, n_experiments)
        url = f"/channels/{channel_id}/results"
        counts[n_experiments], statements = _count(client, url)
        assert counts[n_experiments] <= MAX_STATEMENTS, statements
        html = client.get(url).get_data(as_text=True)
        assert html.count('<tr id="experiment-') == n_experiments
    assert counts[10] == counts[500], counts


def test_the_counter_sees_every_statement_of_the_pool(app):
    """The counter itself: plain and dict cursors, execute_values pages,
    executemany, and rows still come back as the cursor class makes them."""
    with db.observe_statements() as statements:
        with db.transaction() as cur:
            cur.execute("SELECT 1 AS one")
            assert cur.fetchone() == {"one": 1}
            cur.executemany("SELECT %s", [(1,), (2,)])
        with db.transaction(dict_rows=False) as cur:
            cur.execute("SELECT 2")
            assert cur.fetchone() == (2,)
        db.bulk_insert("users", ["email", "password_hash"], [(f"u{i}@example.com", "x") for i in range(5)], page_size=2)
    assert len(statements) == 1 + 2 + 1 + 3  # bulk_insert: 5 rows in pages of 2
    with db.transaction() as cur:  # no observer any more: nothing is recorded
        cur.execute("SELECT 3")
    assert len(statements) == 7
    assert db.statement_observers == []
