"""The worker SIGKILLed in the middle of a batch, as the OOM killer does:
its work horse and its scheduler die with it (nothing keeps running
orphaned), the supervisor starts a new worker, the new worker finds the
abandoned job within seconds of its heartbeat lapsing, and RQ's retry runs
it again: every video ends with exactly one suggestion."""

from __future__ import annotations

import time

import psutil

from tests.faults import steps
from tests.faults.stack import PageWatch, wait_for


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_worker_killed_mid_batch_its_children_die_and_the_batch_finishes_once(services, app_stack, fake_claude):
    fake_claude.latency_s = 0.8
    try:
        # A Claude place held by a killed horse (or not released while Redis was
        # away) frees up when its lease ends, ANTHROPIC_TIMEOUT_S + 30 s: 40 s here, 90 s by default.
        stack = app_stack(LLM_MAX_CONCURRENCY="2", ANTHROPIC_TIMEOUT_S="10")
        http = steps.creator(stack)
        channel = steps.demo_channel(http, stack)
        run_id = steps.optimize(http, stack, channel, count=8)
        history = steps.history_counts(services.database_url)
        assert history, "no versions to keep: the check below would mean nothing"
        paths = [f"/channels/{channel}/runs/{run_id}", f"/channels/{channel}", "/health"]
        with PageWatch(http, stack.base_url, paths) as watch:
            steps.wait_for_run_progress(services.database_url, run_id, done=2)
            worker = stack.worker()
            children = worker.children(recursive=True)
            assert len(children) >= 2, "expected a work horse and a scheduler under the worker"
            worker.kill()  # only the worker: its children must follow by themselves
            killed_at = time.monotonic()
            wait_for(
                lambda: not any(_alive(c) for c in children),
                5,
                f"the killed worker's children to die: {[(c.pid, _alive(c)) for c in children]}",
            )
            new_worker = stack.worker()
            assert new_worker.pid != worker.pid
            run = steps.wait_for_run_final(services.database_url, run_id)
            recovered_s = time.monotonic() - killed_at
        watch.assert_no_500()
    finally:
        fake_claude.latency_s = 0.0
    assert run["status"] == "succeeded", steps.run_videos(services.database_url, run_id)
    steps.assert_run_whole(services.database_url, run_id)
    steps.assert_no_stranded_work(services.database_url)
    assert recovered_s < steps.RECOVERY_S
    assert steps.history_counts(services.database_url) == history  # 0 versions lost (or added)
