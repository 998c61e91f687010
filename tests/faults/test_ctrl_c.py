"""Ctrl-C of `make run` in the middle of a batch: everything stops within
10 s (web, worker, work horse, scheduler, cron, Redis, PostgreSQL), with no
storm of SIGKILLs; the interrupted job runs again at the next start and
its effects happen once: one suggestion per video, nothing lost."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.faults import steps
from tests.faults.stack import MakeRun, PageWatch

CTRL_C_LIMIT_S = 10


@pytest.fixture
def instance_dir():
    path = Path(tempfile.mkdtemp(prefix="yco-cc-"))  # short: the Redis socket lives inside
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_ctrl_c_mid_batch_stops_everything_fast_and_the_batch_resumes_once(instance_dir, fake_claude):
    env = {**fake_claude.settings(), "LLM_MAX_CONCURRENCY": "2"}
    runs = []
    fake_claude.latency_s = 1.0
    try:
        first = MakeRun(instance_dir, instance_dir.parent / f"{instance_dir.name}-1.log", **env)
        runs.append(first)
        first.start().wait_until_serving(120)
        http = steps.creator(first)
        channel = steps.demo_channel(http, first)
        run_id = steps.optimize(http, first, channel, count=8)
        history = steps.history_counts(first.database_url)
        assert history, "no versions to keep: the check below would mean nothing"
        with PageWatch(http, first.base_url, [f"/channels/{channel}/runs/{run_id}"]) as watch:
            steps.wait_for_run_progress(first.database_url, run_id, done=2)
        watch.assert_no_500()
        done_before = len(steps.run_videos(first.database_url, run_id))
        took_s, survivors = first.ctrl_c(timeout=CTRL_C_LIMIT_S)
        log = first.log_path.read_text(errors="replace")
        assert not survivors, f"still running {CTRL_C_LIMIT_S} s after Ctrl-C: {survivors}\n{first.log_tail()}"
        assert took_s < CTRL_C_LIMIT_S
        assert "SIGKILL" not in log, first.log_tail()  # each process stopped when asked
        assert "Traceback" not in log, first.log_tail()

        second = MakeRun(instance_dir, instance_dir.parent / f"{instance_dir.name}-2.log", **env)
        runs.append(second)
        second.start().wait_until_serving(120)
        run = steps.wait_for_run_final(second.database_url, run_id)
        assert run["status"] == "succeeded", steps.run_videos(second.database_url, run_id)
        steps.assert_run_whole(second.database_url, run_id)
        steps.assert_no_stranded_work(second.database_url)
        assert steps.history_counts(second.database_url) == history
        assert done_before == 8
        took_s, survivors = second.ctrl_c(timeout=CTRL_C_LIMIT_S)
        assert not survivors, survivors
    finally:
        fake_claude.latency_s = 0.0
        for make_run in runs:
            make_run.kill_leftovers()
            print(f"--- {make_run.log_path.name}\n{make_run.log_tail(120)}")
            if os.environ.get("YCO_FAULT_LOG_DIR"):
                shutil.copy(make_run.log_path, os.environ["YCO_FAULT_LOG_DIR"])
            make_run.log_path.unlink(missing_ok=True)
