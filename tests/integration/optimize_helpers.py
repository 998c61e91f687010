"""Shared steps for the optimization tests: the demo channel, pressing
Optimize with the page's own one-time key, real worker processes, and plain
SQL on the test database (outside the app's own pool)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import psutil

from tests.helpers import csrf_from
from tests.integration.channel_helpers import import_demo, query
from tests.integration.youtube_helpers import ROOT, worker_env

__all__ = ["import_demo", "kill_tree", "optimize", "optimize_form", "query", "run_id_of", "start_worker", "stop_process",
           "wait_for"]


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
    return client.post(f"/channels/{channel_id}/optimize",
                       data={"csrf_token": token, "idempotency_key": key, "video_ids": video_ids}, headers=headers)


def run_id_of(response) -> int:
    """The run a successful Optimize redirected to."""
    location = response.headers.get("HX-Redirect") or response.headers["Location"]
    return int(location.rstrip("/").rsplit("/", 1)[1])


def start_worker(config: dict, *, burst: bool = False, log=None) -> subprocess.Popen:
    """``python -m jobs.worker`` in its own process (and process group)."""
    args = [sys.executable, "-m", "jobs.worker", *(["--burst"] if burst else [])]
    return subprocess.Popen(args, cwd=ROOT, env=worker_env(config), stdout=log or subprocess.DEVNULL,
                            stderr=subprocess.STDOUT if log else subprocess.DEVNULL, start_new_session=True)


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
