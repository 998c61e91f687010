"""docs/api.md's examples, run as written against a live server (the app on
a real HTTP port, real PostgreSQL and Redis, the jobs run by an in-process
RQ worker between the steps, the demo channel standing in for YouTube and
Claude): the curl walk-through, token -> batch of 5 -> poll the run ->
accept all -> apply -> the history shows the change, then the Python script.
A step that fails (curl -f, bash -e) fails the test with its output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import pytest
from werkzeug.serving import make_server

from reliability.config import ROOT
from tests.helpers import STRONG_PASSWORD
from tests.integration.channel_helpers import import_demo, query, user_client
from tests.integration.worker_helpers import run_worker_burst

pytestmark = [pytest.mark.slow]

BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.S | re.M)
EMAIL = "script@example.com"


def blocks(language: str) -> list[str]:
    return [code for lang, code in BLOCK.findall((ROOT / "docs" / "api.md").read_text()) if lang == language]


@pytest.fixture
def server(app):
    live = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=live.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{live.server_port}"
    live.shutdown()
    thread.join(10)


def _worker(config: dict) -> None:
    result = run_worker_burst(config)
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_documents_examples_are_there():
    assert len(blocks("bash")) >= 6 and len(blocks("python")) >= 1


def test_the_curl_walk_through_changes_five_videos_and_keeps_their_history(app, app_config, server):
    channel_id = import_demo(user_client(app, EMAIL))
    env = {**os.environ, "BASE": server, "EMAIL": EMAIL, "PASSWORD": STRONG_PASSWORD}
    shell = subprocess.Popen(
        ["bash", "--noprofile", "--norc"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output: list[str] = []
    try:
        shell.stdin.write("set -euo pipefail\n")
        for number, code in enumerate(blocks("bash")):
            # One shell for every block, as a person pastes them: variables carry over.
            shell.stdin.write(f"{code}\nprintf '\\n--- block {number} done\\n'\n")
            shell.stdin.flush()
            for line in shell.stdout:
                if line.strip() == f"--- block {number} done":
                    break
                output.append(line)
            else:
                pytest.fail(f"block {number} failed:\n{''.join(output)}\n{code}")
            _worker(app_config)  # what a running worker would have done meanwhile
    finally:
        shell.stdin.close()
        shell.wait(30)

    changed = query(
        app_config["DATABASE_URL"],
        """SELECT v.id, v.title, s.status, coalesce(s.approved_title, s.titles -> s.chosen_title ->> 'title') AS wanted,
                  (SELECT array_agg(mv.source ORDER BY mv.id) FROM metadata_versions mv WHERE mv.video_id = v.id)
                    AS sources
           FROM suggestions s JOIN videos v ON v.id = s.video_id WHERE v.channel_id = %s""",
        (channel_id,),
    )
    assert len(changed) == 5, output
    for video in changed:
        assert video["status"] == "applied" and video["title"] == video["wanted"], video
        assert video["sources"][-1] == "apply" and len(video["sources"]) >= 2, video
    shown = "".join(output)
    assert '"source": "apply"' in shown and changed[0]["wanted"] in shown


def test_the_python_script_pages_and_asks_for_a_batch(app, app_config, server):
    channel_id = import_demo(user_client(app, EMAIL))
    env = {**os.environ, "BASE": server, "EMAIL": EMAIL, "PASSWORD": STRONG_PASSWORD}
    [script] = blocks("python")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    attention = query(
        app_config["DATABASE_URL"],
        "SELECT count(*) AS n FROM videos WHERE channel_id = %s AND removed_at IS NULL AND seo_score < 60",
        (channel_id,),
    )[0]["n"]
    assert f"{attention} videos of" in result.stdout
    if attention:
        runs = query(
            app_config["DATABASE_URL"], "SELECT video_count FROM optimization_runs WHERE channel_id = %s", (channel_id,)
        )
        assert [run["video_count"] for run in runs] == [min(attention, 50)]
        assert "queued: poll /api/v1/runs/" in result.stdout
