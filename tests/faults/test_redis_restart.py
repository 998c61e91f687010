"""Redis killed (kill -9) and started again, while the app is idle and in
the middle of a batch. The worker rides the outage out (it does not die,
or if RQ's loop gives up it comes back by itself), the web answers 503 at
worst, and the batch finishes with one suggestion per video."""

from __future__ import annotations

import time

import psutil
from rq import Worker

from tests.faults import steps
from tests.faults.stack import PageWatch, wait_for

OUTAGE_S = 4  # long enough for every process to hit the closed socket


def _registered_workers(services) -> int:
    client = services.redis()
    try:
        return len(Worker.all(connection=client))
    except Exception:  # Redis still coming back
        return 0
    finally:
        client.close()


def _outage(services, seconds: float = OUTAGE_S) -> None:
    services.kill_redis()
    time.sleep(seconds)
    services.start_redis()


def test_redis_restart_while_idle_leaves_the_stack_running(services, app_stack):
    stack = app_stack()
    http = steps.creator(stack)
    channel = steps.demo_channel(http, stack)
    wait_for(lambda: _registered_workers(services), 60, "a registered worker")
    before = {name: [p.pid for p in stack.processes(name)] for name in ("gunicorn", "jobs.worker", "jobs.cron")}

    with PageWatch(http, stack.base_url, [f"/channels/{channel}", "/dashboard", "/health"]) as watch:
        _outage(services)
        wait_for(lambda: _registered_workers(services), 60, "a worker registered again after the restart")
        time.sleep(1)
    watch.assert_no_500()

    # Nothing was restarted by the supervisor: the processes rode it out.
    after = {name: [p.pid for p in stack.processes(name)] for name in before}
    assert after == before, f"{before} -> {after}\n{stack.log_tail()}"
    assert all(psutil.pid_exists(pid) for pids in after.values() for pid in pids)
    # And the worker works: a batch queued after the outage finishes.
    run_id = steps.optimize(http, stack, channel, count=3)
    steps.wait_for_run_final(services.database_url, run_id)
    steps.assert_run_whole(services.database_url, run_id)
    steps.assert_no_stranded_work(services.database_url)


def test_redis_restart_during_a_batch_loses_and_repeats_nothing(services, app_stack, fake_claude):
    fake_claude.latency_s = 0.8  # a batch of 6 lasts a few seconds
    try:
        # A Claude place held by a killed horse (or not released while Redis was
        # away) frees up when its lease ends, ANTHROPIC_TIMEOUT_S + 30 s: 40 s here, 90 s by default.
        stack = app_stack(LLM_MAX_CONCURRENCY="2", ANTHROPIC_TIMEOUT_S="10")
        http = steps.creator(stack)
        channel = steps.demo_channel(http, stack)
        run_id = steps.optimize(http, stack, channel, count=6)
        history = steps.history_counts(services.database_url)
        assert history, "no versions to keep: the check below would mean nothing"
        paths = [f"/channels/{channel}/runs/{run_id}", f"/channels/{channel}"]
        with PageWatch(http, stack.base_url, paths) as watch:
            steps.wait_for_run_progress(services.database_url, run_id, done=2)
            _outage(services)
            run = steps.wait_for_run_final(services.database_url, run_id)
        watch.assert_no_500()
    finally:
        fake_claude.latency_s = 0.0
    assert run["status"] == "succeeded", steps.run_videos(services.database_url, run_id)
    steps.assert_run_whole(services.database_url, run_id)
    steps.assert_no_stranded_work(services.database_url)
    assert stack.processes("jobs.worker"), "no worker is running after the outage"
    assert steps.history_counts(services.database_url) == history  # 0 versions lost (or added)
