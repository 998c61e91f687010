"""Steps of the fault cases of issue 11 items 2, 3, 5 and 7 that
``tests/faults/steps.py`` does not have: accepting and applying a run's
suggestions over HTTP, the usage ledger against what the Claude fake saw,
and pressing Optimize while the answer may be a refusal."""

from __future__ import annotations

import re

import requests

from tests.faults.stack import AppStack, sql, wait_for_db
from tests.helpers import csrf_from

FINAL_SUGGESTION_STATES = ("applied", "failed")


def press(http: requests.Session, stack: AppStack, path: str, page: str) -> requests.Response:
    """POST a button of ``page`` (its CSRF token) without following the redirect."""
    token = csrf_from(http.get(f"{stack.base_url}{page}", timeout=10).text)
    return http.post(f"{stack.base_url}{path}", data={"csrf_token": token}, timeout=30, allow_redirects=False)


def accept_and_apply(http: requests.Session, stack: AppStack, channel: int, run_id: int) -> None:
    page = f"/channels/{channel}/runs/{run_id}"
    assert press(http, stack, f"{page}/accept-all", page).status_code == 303
    assert press(http, stack, f"{page}/apply-accepted", page).status_code == 303


def wait_for_applies_final(database_url: str, run_id: int, timeout: float) -> list[dict]:
    return wait_for_db(
        database_url,
        "SELECT id, video_id, status, apply_error FROM suggestions WHERE run_id = %s ORDER BY id",
        lambda rows: rows and all(r["status"] in FINAL_SUGGESTION_STATES for r in rows),
        timeout,
        f"every apply of run {run_id} to finish",
        (run_id,),
    )


def press_optimize(http: requests.Session, stack: AppStack, channel: int, count: int) -> tuple[requests.Response, dict]:
    """Press Optimize on the first ``count`` videos (as htmx does); the
    answer, and the form sent (to press again)."""
    page = http.get(f"{stack.base_url}/channels/{channel}", timeout=10).text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    ids = [int(v) for v in re.findall(r'name="video_ids" value="(\d+)"', page)][:count]
    form = {"csrf_token": csrf_from(page), "idempotency_key": key, "video_ids": ids}
    response = http.post(
        f"{stack.base_url}/channels/{channel}/optimize",
        data=form,
        timeout=30,
        allow_redirects=False,
        headers={"HX-Request": "true"},
    )
    return response, form


def assert_ledger_matches(database_url: str, fake_claude) -> None:
    """Every request Claude saw is one settled line of the ledger: none
    missing, none counted twice, none left 'sent'."""
    rows = sql(
        database_url, "SELECT outcome, count(*) AS n FROM usage_ledger WHERE service = 'anthropic' GROUP BY outcome"
    )
    by_outcome = {r["outcome"]: r["n"] for r in rows}
    assert "sent" not in by_outcome, by_outcome
    assert sum(by_outcome.values()) == fake_claude.total_calls, (by_outcome, fake_claude.total_calls)


def connect_youtube(http: requests.Session, stack: AppStack, fake_google, owner: str) -> int:
    """Connect the Google fake's channel of ``owner`` as a browser does
    (Connect, Google's consent, the callback); returns the channel's id."""
    fake_google.oauth.consent(owner)
    start = press(http, stack, "/channels/connect", "/channels")
    assert start.status_code == 302, start.text[-2000:]
    google = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert google.status_code == 302, google.text[-2000:]
    callback = http.get(google.headers["Location"], allow_redirects=False, timeout=30)
    assert callback.status_code == 302, callback.text[-2000:]
    return int(callback.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def wait_for_sync_final(database_url: str, channel: int, timeout: float) -> list[dict]:
    """Every sync of the channel, once none is queued or running."""
    return wait_for_db(
        database_url,
        "SELECT id, status, error FROM sync_runs WHERE channel_id = %s ORDER BY id",
        lambda rows: rows and all(r["status"] not in ("queued", "running") for r in rows),
        timeout,
        f"the syncs of channel {channel} to finish",
        (channel,),
    )


def assert_videos_whole(database_url: str, channel: int, expected: set[str]) -> None:
    """The channel's videos are exactly ``expected`` (YouTube ids), each with
    one stored version (a sync that resumed wrote nothing twice)."""
    rows = sql(
        database_url,
        """SELECT v.youtube_video_id, count(m.id) AS versions FROM videos v
                                LEFT JOIN metadata_versions m ON m.video_id = v.id
                                WHERE v.channel_id = %s GROUP BY v.youtube_video_id""",
        (channel,),
    )
    assert {r["youtube_video_id"] for r in rows} == expected
    assert {r["versions"] for r in rows} == {1}, [r for r in rows if r["versions"] != 1][:5]
