"""`make run`'s embedded Redis, killed while the app runs, is started again
on the same socket with its data (as a platform restarts a crashed Redis);
the app rides the outage out instead of the stack going down."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
APP = [sys.executable, "-c", "import time; time.sleep(120)"]  # stands in for the supervisor


def _answer(socket_path: Path) -> int | None:
    """The pid of the redis-server answering on ``socket_path``, if any."""
    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1)
    try:
        return int(client.info("server")["process_id"])
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_embedded_redis_killed_under_the_app_comes_back_with_its_data():
    instance = Path(tempfile.mkdtemp(prefix="yco-er-"))
    socket_path = instance / "redis" / "redis.sock"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "INSTANCE_DIR")}
    env.update(INSTANCE_DIR=str(instance), DATABASE_URL="postgresql://unused/yco", ENVIRONMENT="development")
    top = subprocess.Popen(
        [sys.executable, "-m", "reliability.embedded", "--", *APP],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        first = _wait(lambda: _answer(socket_path), 20, "the embedded Redis")
        client = redis.Redis(unix_socket_path=str(socket_path))
        client.set("kept", "yes")
        client.close()
        time.sleep(1.5)  # appendfsync everysec
        os.kill(first, signal.SIGKILL)
        second = _wait(lambda: (pid := _answer(socket_path)) and pid != first and pid, 15, "Redis to be started again")
        client = redis.Redis(unix_socket_path=str(socket_path))
        assert client.get("kept") == b"yes"
        client.close()
        assert top.poll() is None, "the embedded runner ended with its Redis"

        os.killpg(top.pid, signal.SIGINT)  # Ctrl-C: the app, then Redis, stop
        top.wait(20)
        assert not psutil.pid_exists(second) or psutil.Process(second).status() == psutil.STATUS_ZOMBIE
        assert b"starting it again" in top.stdout.read()
    finally:
        if top.poll() is None:
            os.killpg(top.pid, signal.SIGKILL)
        for pid in filter(None, [_answer(socket_path)]):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(instance, ignore_errors=True)
