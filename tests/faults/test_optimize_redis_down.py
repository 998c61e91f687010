"""Optimize pressed while Redis is down (issue 11, item 2): a 503 that says
the run is kept and starts by itself, never a 500; pressing again makes no
second run; once Redis is back the cron sweep queues the run with nobody
pressing anything, and it finishes with one suggestion per video."""

from __future__ import annotations

from rq import Worker

from tests.faults import decide, steps
from tests.faults.stack import PageWatch, sql, wait_for


def _registered_workers(services) -> int:
    client = services.redis()
    try:
        return len(Worker.all(connection=client))
    except Exception:  # Redis still coming back
        return 0
    finally:
        client.close()


def test_optimize_while_redis_is_down_starts_by_itself_once_it_is_back(services, app_stack):
    stack = app_stack()
    http = steps.creator(stack)
    channel = steps.demo_channel(http, stack)
    wait_for(lambda: _registered_workers(services), 60, "a registered worker")

    with PageWatch(http, stack.base_url, [f"/channels/{channel}", "/dashboard"]) as watch:
        services.kill_redis()
        refused, form = decide.press_optimize(http, stack, channel, count=4)
        assert refused.status_code == 503, refused.text[-2000:]
        assert refused.headers.get("Retry-After")
        assert "starts by itself" in refused.json()["error"]["message"]
        again = http.post(
            f"{stack.base_url}/channels/{channel}/optimize",
            data=form,
            timeout=30,
            allow_redirects=False,
            headers={"HX-Request": "true"},
        )
        assert again.status_code == 503  # the same press again while Redis is still down
        services.start_redis()
        [run] = sql(services.database_url, "SELECT id, status, not_queued_since FROM optimization_runs")
        assert run["status"] == "queued" and run["not_queued_since"] is not None
        final = steps.wait_for_run_final(services.database_url, run["id"])  # nobody presses anything
    watch.assert_no_500()
    assert final["status"] == "succeeded"
    steps.assert_run_whole(services.database_url, run["id"])
    assert len(sql(services.database_url, "SELECT id FROM optimization_runs")) == 1  # one run, not one per press
    steps.assert_no_stranded_work(services.database_url)
