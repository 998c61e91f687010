"""Shared steps for the optimization tests: the demo channel, pressing
Optimize with the page's own one-time key, running the jobs (RQ's worker in
this process; real worker processes for the tests about them), and plain
SQL on the test database (outside the app's own pool)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import psutil
import redis
from rq import Queue

from jobs.runtime import QUEUES
from tests.helpers import csrf_from
from tests.integration.channel_helpers import import_demo, query
from tests.integration.youtube_helpers import ROOT, channel_pk, connect_channel, run_worker_burst, worker_env

__all__ = [
    "burst",
    "connect_synced",
    "import_demo",
    "kill_tree",
    "optimize",
    "optimize_and_wait",
    "optimize_form",
    "query",
    "queued_jobs",
    "run_id_of",
    "start_worker",
    "stop_process",
    "wait_for",
]


def optimize_form(client, channel_id: int) -> tuple[str, str, list[int]]:
    """(CSRF token, the page's one-time key, the video ids offered) from the channel page."""
    page = client.get(f"/channels/{channel_id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key, "no optimize form on the channel page"
    ids = [int(v) for v in re.findall(r'name="video_ids" value="(\d+)"', page)]
    return csrf_from(page), key.group(1), ids


def optimize(client, channel_id: int, video_ids: list[int], *, htmx: bool = False):
    """Select ``video_ids`` on a freshly loaded channel page and press Optimize."""
    token, key, _ = optimize_form(client, channel_id)
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/channels/{channel_id}/optimize",
        data={"csrf_token": token, "idempotency_key": key, "video_ids": video_ids},
        headers=headers,
    )


def run_id_of(response) -> int:
    """The run a successful Optimize redirected to."""
    location = response.headers.get("HX-Redirect") or response.headers["Location"]
    return int(location.rstrip("/").rsplit("/", 1)[1])


def burst(config: dict) -> None:
    """RQ's worker, in this process, until the queues are empty; it must end cleanly."""
    result = run_worker_burst(config)
    assert result.returncode == 0, result.stderr[-3000:]


def optimize_and_wait(client, config: dict, channel_id: int, video_ids: list[int]) -> int:
    """Press Optimize on ``video_ids`` and let the optimize job make the
    suggestions; returns the run's id."""
    response = optimize(client, channel_id, video_ids)
    assert response.status_code == 303, response.get_data(as_text=True)
    run_id = run_id_of(response)
    burst(config)
    return run_id


def queued_jobs(config: dict) -> int:
    """Jobs waiting in the app's queues (nothing was sent to a worker when 0)."""
    connection = redis.Redis.from_url(config["REDIS_URL"])
    try:
        return sum(Queue(name, connection=connection).count for name in QUEUES)
    finally:
        connection.close()


def connect_synced(client, fake, config: dict, owner: str, n_videos: int, **channel_options) -> dict:
    """A channel of ``n_videos`` at the Google fake, connected through the real
    OAuth flow by ``client`` and synced by the real sync job: the channel's id,
    and its video ids here and at YouTube in the same order."""
    channel = fake.world.add_channel(owner, n_videos=n_videos, **channel_options)
    response = connect_channel(client, fake, owner)
    assert response.status_code == 302, response.get_data(as_text=True)
    burst(config)  # the first sync, queued by connecting
    pk = channel_pk(config, channel.id)
    rows = query(
        config["DATABASE_URL"], "SELECT id, youtube_video_id FROM videos WHERE channel_id = %s ORDER BY id", (pk,)
    )
    assert len(rows) == n_videos, rows
    return {"id": pk, "videos": [r["id"] for r in rows], "youtube_ids": [r["youtube_video_id"] for r in rows]}


def start_worker(config: dict, *, burst: bool = False, log=None) -> subprocess.Popen:
    """``python -m jobs.worker`` in its own process (and process group)."""
    args = [sys.executable, "-m", "jobs.worker", *(["--burst"] if burst else [])]
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=worker_env(config),
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM a worker we started (RQ then lets the work horse finish its job or
    stops it), SIGKILL what is left of it and of its children."""
    if proc.poll() is None:
        children = _children(proc.pid)
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        for child in children:
            if child.is_running():
                child.kill()


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_tree(proc: subprocess.Popen) -> list[int]:
    """SIGKILL a worker and every process under it (its work horse, its
    scheduler), at once, as an out-of-memory killer or a pulled plug would."""
    victims = [*_children(proc.pid)]
    proc.kill()
    for child in victims:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait(timeout=10)
    psutil.wait_procs(victims, timeout=10)
    return [proc.pid, *(c.pid for c in victims)]


def wait_for(condition, timeout: float, what: str, interval: float = 0.1):
    """Poll ``condition()`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
