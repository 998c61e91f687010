"""Who may reach each API route that names a row, for every route of the
API: read from the app's URL map, so a route added later joins the matrix by
itself. A non-member gets 404 (the same as a missing row: ids are not
hints), a viewer gets 403 on every write and through on every read, the
owner gets through. Ids are real rows of a demo channel owned by someone
else, made the way the API makes them (a batch optimized by the real job)."""

from __future__ import annotations

import re

from optimizer import demo
from tests.integration.api_helpers import API, api_client, demo_channel, finished_run, video_ids
from tests.integration.channel_helpers import query
from tests.integration.mail_helpers import invite_and_accept

ID_ARGUMENTS = frozenset({"channel_id", "video_id", "suggestion_id", "run_id", "experiment_id", "version_id"})
_PLACEHOLDER = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")


def _api_routes(app) -> list[tuple[str, str]]:
    routes = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API + "/") and rule.arguments & ID_ARGUMENTS
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    return sorted(routes)


def _ids(owner, config: dict, channel_id: int) -> dict[str, int]:
    """A real row of each kind in the owner's channel."""
    database_url = config["DATABASE_URL"]
    run = finished_run(owner, config, channel_id, 2)
    [video_id] = video_ids(database_url, channel_id, 1)
    version = query(database_url, "SELECT min(id) AS id FROM metadata_versions WHERE video_id = %s", (video_id,))
    experiment = query(
        database_url,
        "SELECT min(e.id) AS id FROM experiments e JOIN videos v ON v.id = e.video_id WHERE v.channel_id = %s",
        (channel_id,),
    )
    return {
        "channel_id": channel_id,
        "video_id": video_id,
        "run_id": run["id"],
        "suggestion_id": run["videos"][0]["suggestion_id"],
        "experiment_id": experiment[0]["id"],
        "version_id": version[0]["id"],
    }


def _call(api, method: str, rule: str, ids: dict[str, int]):
    path = _PLACEHOLDER.sub(lambda match: str(ids[match.group(1)]), rule).removeprefix(API)
    return api.call(method, path, json={} if method != "GET" else None)


def test_every_api_route_with_an_id_keeps_strangers_out_and_viewers_read_only(app, app_config):
    routes = _api_routes(app)
    kinds = {name for rule, _ in routes for name in _PLACEHOLDER.findall(rule)}
    assert kinds == ID_ARGUMENTS, "every kind of id is covered (a new kind needs a row made in _ids)"
    owner = api_client(app, "owner@example.com")
    channel_id = demo_channel(owner)
    viewer = api_client(app, "viewer@example.com")
    invite_and_accept(owner.client, viewer.client, app_config["DATABASE_URL"], channel_id, viewer.email, "viewer")
    stranger = api_client(app, "stranger@example.com")
    ids = _ids(owner, app_config, channel_id)

    for rule, method in routes:
        refused = _call(stranger, method, rule, ids)
        assert refused.status_code == 404, f"{method} {rule}: a stranger got {refused.status_code}"
        assert refused.get_json()["error"]["code"] == "not_found"
        assert demo.CHANNEL_TITLE not in refused.get_data(as_text=True)

        as_viewer = _call(viewer, method, rule, ids)
        if method == "GET":
            assert as_viewer.status_code == 200, f"GET {rule}: a viewer got {as_viewer.status_code}"
        else:
            assert as_viewer.status_code == 403, f"{method} {rule}: a viewer got {as_viewer.status_code}"
            assert as_viewer.get_json()["error"]["code"] == "forbidden"

    for rule, method in routes:  # last: the owner's writes change the rows
        allowed = _call(owner, method, rule, ids)
        assert allowed.status_code not in (401, 403, 404) and allowed.status_code < 500, (
            f"{method} {rule}: the owner got {allowed.status_code}: {allowed.get_data(as_text=True)[:300]}"
        )


def test_a_missing_row_looks_the_same_as_someone_elses(app):
    stranger = api_client(app, "stranger@example.com")
    for path in ("/videos/987654321", "/runs/987654321", "/suggestions/987654321", "/experiments/987654321"):
        response = stranger.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_a_batch_naming_someone_elses_videos_is_404_even_mixed_with_ones_own(app, app_config):
    owner = api_client(app, "owner@example.com")
    theirs = video_ids(app_config["DATABASE_URL"], demo_channel(owner), 2)
    stranger = api_client(app, "stranger@example.com")
    assert stranger.post("/videos/batch-optimize", json={"video_ids": theirs}).status_code == 404
    mine = video_ids(app_config["DATABASE_URL"], demo_channel(stranger), 1)
    mixed = stranger.post("/videos/batch-optimize", json={"video_ids": mine + theirs})
    assert mixed.status_code == 404
    assert stranger.post("/videos/batch-optimize", json={"video_ids": mine}).status_code == 202
