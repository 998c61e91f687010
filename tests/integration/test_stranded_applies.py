"""The cron sweep for suggestions left 'applying' after their job vanished
(Redis lost its data, a job deleted from the dashboard), run by a real worker."""

from __future__ import annotations

import psycopg2.extras
import redis
from rq import Queue

from tests.integration.channel_helpers import import_demo, query, user_client
from tests.integration.youtube_helpers import run_worker_burst


def _applying_suggestion(url: str, channel_id: int, video_id: int, owner_id: int, minutes_ago: int) -> int:
    [run] = query(
        url,
        """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, status, video_count)
                          VALUES (%s, %s, %s, 'succeeded', 1) RETURNING id""",
        (channel_id, owner_id, f"stranded-{video_id}-{minutes_ago}"),
    )
    [row] = query(
        url,
        """INSERT INTO suggestions (run_id, video_id, status, engine, prompt_version, titles, description, tags,
                                                   cache_key, updated_at)
                          VALUES (%s, %s, 'applying', 'heuristic', 'p', %s, 'd', '{}', 'c',
                                  now() - make_interval(mins => %s)) RETURNING id""",
        (run["id"], video_id, psycopg2.extras.Json([{"title": "T", "rationale": "r"}]), minutes_ago),
    )
    return row["id"]


def test_an_apply_whose_job_vanished_is_failed_with_a_retry_and_a_recent_one_is_left(app, app_config):
    url = app_config["DATABASE_URL"]
    owner = user_client(app, "owner@example.com")
    channel_id = import_demo(owner)
    [owner_row] = query(url, "SELECT id FROM users WHERE email = 'owner@example.com'")
    videos = query(url, "SELECT id FROM videos WHERE channel_id = %s ORDER BY id LIMIT 2", (channel_id,))
    lost = _applying_suggestion(url, channel_id, videos[0]["id"], owner_row["id"], minutes_ago=180)
    recent = _applying_suggestion(url, channel_id, videos[1]["id"], owner_row["id"], minutes_ago=5)

    connection = redis.Redis.from_url(app_config["REDIS_URL"])
    Queue("low", connection=connection).enqueue("jobs.maintenance.fail_stranded_applies")
    connection.close()
    assert run_worker_burst(app_config).returncode == 0

    [row] = query(url, "SELECT status, apply_error FROM suggestions WHERE id = %s", (lost,))
    assert row["status"] == "failed" and "The apply job was lost" in row["apply_error"]
    assert query(url, "SELECT status FROM suggestions WHERE id = %s", (recent,)) == [{"status": "applying"}]
    page = owner.get(f"/channels/{channel_id}/suggestions/{lost}").get_data(as_text=True)
    assert "The apply job was lost" in page and "Apply to YouTube" in page
