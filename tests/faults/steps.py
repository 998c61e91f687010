"""What a creator does on a fault-suite stack, over real HTTP (the gunicorn
the supervisor runs), and the outcome checks every case shares: nothing
lost, nothing twice, history whole."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests

from tests.faults.stack import AppStack, sql, wait_for_db
from tests.helpers import STRONG_PASSWORD, csrf_from

FINAL_RUN_STATES = ("succeeded", "partial", "failed")
# "0 lost work": a run reaches a final state within this long after the fault ends.
RECOVERY_S = 120


def creator(stack: AppStack, email: str = "creator@example.com") -> requests.Session:
    """A browser session of a newly registered creator on ``stack``."""
    http = requests.Session()
    token = csrf_from(http.get(f"{stack.base_url}/register", timeout=10).text)
    response = http.post(
        f"{stack.base_url}/register",
        timeout=30,
        allow_redirects=False,
        data={"email": email, "password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302, response.text[-2000:]
    if http.get(f"{stack.base_url}/dashboard", timeout=10, allow_redirects=False).status_code != 200:
        # Registering no longer logs in (the mail says whether the address was new): log in next.
        token = csrf_from(http.get(f"{stack.base_url}/login", timeout=10).text)
        response = http.post(
            f"{stack.base_url}/login",
            timeout=30,
            allow_redirects=False,
            data={"email": email, "password": STRONG_PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302, response.text[-2000:]
    return http


def demo_channel(http: requests.Session, stack: AppStack) -> int:
    """Click "Try a demo channel"; returns its id."""
    token = csrf_from(http.get(f"{stack.base_url}/channels", timeout=10).text)
    response = http.post(
        f"{stack.base_url}/channels/demo", data={"csrf_token": token}, timeout=30, allow_redirects=False
    )
    assert response.status_code == 302, response.text[-2000:]
    return int(urlsplit(response.headers["Location"]).path.rstrip("/").rsplit("/", 1)[1])


def optimize(http: requests.Session, stack: AppStack, channel_id: int, count: int | None = None) -> int:
    """Select the first ``count`` videos of the channel page (all when None),
    press Optimize; returns the run's id."""
    page = http.get(f"{stack.base_url}/channels/{channel_id}", timeout=10).text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key, "no optimize form on the channel page"
    ids = [int(v) for v in re.findall(r'name="video_ids" value="(\d+)"', page)][:count]
    response = http.post(
        f"{stack.base_url}/channels/{channel_id}/optimize",
        timeout=30,
        allow_redirects=False,
        data={"csrf_token": csrf_from(page), "idempotency_key": key.group(1), "video_ids": ids},
    )
    assert response.status_code == 303, response.text[-2000:]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def run_videos(database_url: str, run_id: int) -> list[dict]:
    return sql(
        database_url,
        "SELECT video_id, status FROM optimization_run_videos WHERE run_id = %s ORDER BY video_id",
        (run_id,),
    )


def wait_for_run_progress(database_url: str, run_id: int, done: int, timeout: float = 60) -> None:
    """Until at least ``done`` videos of the run have their suggestion (the batch is under way)."""
    wait_for_db(
        database_url,
        "SELECT count(*) AS n FROM suggestions WHERE run_id = %s",
        lambda rows: rows[0]["n"] >= done,
        timeout,
        f"{done} suggestions of run {run_id}",
        (run_id,),
    )


def wait_for_run_final(database_url: str, run_id: int, timeout: float = RECOVERY_S) -> dict:
    [run] = wait_for_db(
        database_url,
        "SELECT id, status, video_count FROM optimization_runs WHERE id = %s",
        lambda rows: rows and rows[0]["status"] in FINAL_RUN_STATES,
        timeout,
        f"run {run_id} to reach a final state",
        (run_id,),
    )
    return run


def assert_run_whole(database_url: str, run_id: int) -> None:
    """Every video of the run done, with exactly one suggestion each (0
    lost, 0 duplicates), and the run succeeded."""
    [run] = sql(database_url, "SELECT status, video_count FROM optimization_runs WHERE id = %s", (run_id,))
    videos = run_videos(database_url, run_id)
    assert len(videos) == run["video_count"]
    assert [v["status"] for v in videos] == ["done"] * len(videos), videos
    per_video = sql(
        database_url,
        """SELECT rv.video_id, count(s.id) AS n FROM optimization_run_videos rv
                                     LEFT JOIN suggestions s ON s.run_id = rv.run_id AND s.video_id = rv.video_id
                                     WHERE rv.run_id = %s GROUP BY rv.video_id""",
        (run_id,),
    )
    assert {row["n"] for row in per_video} == {1}, per_video
    assert run["status"] == "succeeded", run


def assert_no_stranded_work(database_url: str) -> None:
    """Nothing anywhere still waiting for a job that is gone."""
    assert (
        sql(database_url, "SELECT id, status FROM optimization_runs WHERE status NOT IN %s", (FINAL_RUN_STATES,)) == []
    )
    assert sql(database_url, "SELECT id, status FROM sync_runs WHERE status IN ('queued', 'running')") == []
    assert sql(database_url, "SELECT id FROM suggestions WHERE status = 'applying'") == []


def history_counts(database_url: str) -> dict[int, int]:
    """Versions kept per video: compare before and after a fault (0 lost)."""
    rows = sql(database_url, "SELECT video_id, count(*) AS n FROM metadata_versions GROUP BY video_id")
    return {row["video_id"]: row["n"] for row in rows}
