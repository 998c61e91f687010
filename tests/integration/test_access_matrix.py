"""Who may reach a channel's pages and actions, for every route of the app.

The matrix is built from the application's own URL map: every rule under
/channels/ that takes a channel, video, suggestion, run, user or version id, with each
of its methods. A route added later joins the matrix by itself, so it cannot
ship without the membership check (a non-member must get 404, which does not
even confirm that the channel exists). Ids are filled with real rows of a
demo channel owned by someone else.
"""

from __future__ import annotations

import re

import pytest

from optimizer import demo
from reliability import db
from tests.conftest import TEST_SECRET_KEY
from tests.helpers import STRONG_PASSWORD, csrf_from, login
from tests.integration.channel_helpers import import_demo, post_form, query, user_client, user_id
from tests.integration.mail_helpers import invite_and_accept
from tests.integration.optimize_helpers import optimize, run_id_of
from tests.integration.youtube_helpers import run_worker_burst

ID_ARGUMENTS = frozenset({"channel_id", "video_id", "suggestion_id", "run_id", "user_id", "version_id"})
_PLACEHOLDER = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")


def _channel_routes() -> list[tuple[str, str]]:
    """(rule, method) for every rule under /channels/ taking an id, read from
    the app's URL map. Runs at collection: the app is built with addresses
    that are never contacted (create_app opens no connection)."""
    from webapp import create_app

    saved = db._pool_settings
    app = create_app(
        {
            "ENVIRONMENT": "test",
            "SECRET_KEY": TEST_SECRET_KEY,
            "DATABASE_URL": "postgresql://introspection.invalid/none",
            "REDIS_URL": "redis://introspection.invalid:6379/0",
        }
    )
    if saved is not None:
        db.configure(saved)
    routes = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/channels/") and rule.arguments & ID_ARGUMENTS
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    return sorted(routes)


CHANNEL_ROUTES = _channel_routes()
GET_ROUTES = [rule for rule, method in CHANNEL_ROUTES if method == "GET"]


def _url(rule: str, ids: ChannelRows) -> str:
    return _PLACEHOLDER.sub(lambda match: str(ids[match.group(1)]), rule)


def _request(client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    return post_form(client, url) if method == "POST" else client.open(url, method=method)


class ChannelRows:
    """Ids of real rows of one channel, each made the first time a route
    asks for it, the way the app makes them (so the fixture costs only what
    the routes need, and the rows have the shape the app gives them).

    ``run_id`` is the id of an optimization run (the owner pressed Optimize
    on a video and a real worker made its suggestion) and of a sync run at
    once, since routes of both kinds call their id run_id."""

    def __init__(self, owner, config: dict, channel_id: int, member_id: int):
        self.owner, self.config = owner, config
        self.database_url = config["DATABASE_URL"]
        self._ids = {"channel_id": channel_id, "user_id": member_id}

    def __getitem__(self, name: str) -> int:
        if name not in self._ids:
            make = getattr(self, f"_make_{name}", None)
            if make is None:
                pytest.fail(f"a route takes <{name}>: teach {__name__}.ChannelRows to make one")
            self._ids[name] = make()
        return self._ids[name]

    def _make_video_id(self) -> int:
        return query(
            self.database_url, "SELECT id FROM videos WHERE channel_id = %s ORDER BY id LIMIT 1", (self["channel_id"],)
        )[0]["id"]

    def _make_run_id(self) -> int:
        response = optimize(self.owner, self["channel_id"], [self["video_id"]])
        assert response.status_code == 303, response.get_data(as_text=True)
        run = run_id_of(response)
        worker = run_worker_burst(self.config)
        assert worker.returncode == 0, worker.stderr[-2000:]
        query(
            self.database_url,
            "INSERT INTO sync_runs (id, channel_id, kind, status) VALUES (%s, %s, 'full', 'succeeded')",
            (run, self["channel_id"]),
        )
        # Past the explicit id, so a sync run the app inserts later gets a fresh one.
        query(
            self.database_url,
            "SELECT setval(pg_get_serial_sequence('sync_runs', 'id'), (SELECT max(id) FROM sync_runs))",
        )
        return run

    def _make_version_id(self) -> int:
        # The oldest version of the video: an owner's restore of it is either
        # accepted or, if it equals the current metadata, refused with a 303.
        return query(
            self.database_url,
            "SELECT id FROM metadata_versions WHERE video_id = %s ORDER BY id LIMIT 1",
            (self["video_id"],),
        )[0]["id"]

    def _make_suggestion_id(self) -> int:
        rows = query(self.database_url, "SELECT id FROM suggestions WHERE run_id = %s", (self["run_id"],))
        assert rows, "the optimization run made no suggestion"
        return rows[0]["id"]


@pytest.fixture
def world(app, app_config):
    """Owner A with a demo channel and C as its viewer member; B, logged in,
    a member of nothing; the ids of the channel's rows."""
    database_url = app_config["DATABASE_URL"]
    owner = user_client(app, "owner@example.com")
    channel_id = import_demo(owner)
    viewer = user_client(app, "viewer@example.com")
    invite_and_accept(owner, viewer, database_url, channel_id, "viewer@example.com", "viewer")
    stranger = user_client(app, "stranger@example.com")
    ids = ChannelRows(owner, app_config, channel_id, user_id(database_url, "viewer@example.com"))
    return {"owner": owner, "stranger": stranger, "ids": ids, "database_url": database_url}


def test_the_matrix_is_read_from_the_url_map():
    assert CHANNEL_ROUTES, "no route under /channels/ takes an id: the introspection is broken"
    assert ("/channels/<int:channel_id>", "GET") in CHANNEL_ROUTES
    assert any(method == "POST" for _, method in CHANNEL_ROUTES)


@pytest.mark.parametrize(("rule", "method"), CHANNEL_ROUTES, ids=[f"{m} {r}" for r, m in CHANNEL_ROUTES])
def test_non_member_gets_404_where_a_member_gets_through(app, world, rule, method):
    url = _url(rule, world["ids"])

    refused = _request(world["stranger"], method, url)
    assert refused.status_code == 404, f"{method} {url} answered a non-member with {refused.status_code}"
    assert demo.CHANNEL_TITLE not in refused.get_data(as_text=True)

    anonymous = app.test_client()
    token = csrf_from(anonymous.get("/login").get_data(as_text=True))
    answer = anonymous.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
    assert answer.status_code == 302 and "/login" in answer.headers["Location"], (method, url, answer.status_code)

    allowed = _request(world["owner"], method, url)
    assert allowed.status_code not in (403, 404) and allowed.status_code < 500, (
        f"{method} {url} answered the owner with {allowed.status_code}: the matrix's ids do not reach the route"
    )


def test_a_non_member_cannot_leave_a_channel_they_are_not_in(world):
    stranger_id = user_id(world["database_url"], "stranger@example.com")
    channel_id = world["ids"]["channel_id"]
    response = post_form(world["stranger"], f"/channels/{channel_id}/members/{stranger_id}/remove")
    assert response.status_code == 404


def test_a_missing_channel_looks_the_same_as_someone_elses(world):
    """404 either way, so ids cannot be probed for existence."""
    missing = world["stranger"].get("/channels/987654321")
    other = world["stranger"].get(f"/channels/{world['ids']['channel_id']}")
    assert missing.status_code == other.status_code == 404
    assert "We could not find that page." in missing.get_data(as_text=True)
    assert "We could not find that page." in other.get_data(as_text=True)


# -- roles ----------------------------------------------------------------------


def _restricted_posts(channel_id: int, member_id: int) -> dict[str, tuple[str, dict]]:
    """The actions that need an editor or the owner, with a well-formed form."""
    return {
        "sync": (f"/channels/{channel_id}/sync", {}),
        "invite": (f"/channels/{channel_id}/members", {"email": "newcomer@example.com", "role": "editor"}),
        "role change": (f"/channels/{channel_id}/members/{member_id}/role", {"role": "editor"}),
        "remove": (f"/channels/{channel_id}/members/{member_id}/remove", {}),
        "disconnect": (f"/channels/{channel_id}/disconnect", {}),
    }


@pytest.mark.parametrize(("role", "allowed"), [("viewer", set()), ("editor", {"sync"})], ids=["viewer", "editor"])
def test_members_below_the_needed_role_get_403_and_change_nothing(app, world, role, allowed):
    database_url, channel_id = world["database_url"], world["ids"]["channel_id"]
    user_client(app, "newcomer@example.com")  # exists, so only the role can stop the invite
    member = user_client(app, "member@example.com")
    invite_and_accept(world["owner"], member, database_url, channel_id, "member@example.com", role)
    before = query(
        database_url, "SELECT user_id, role FROM channel_members WHERE channel_id = %s ORDER BY user_id", (channel_id,)
    )

    for action, (url, data) in _restricted_posts(channel_id, world["ids"]["user_id"]).items():
        response = post_form(member, url, data)
        if action in allowed:
            assert response.status_code not in (403, 404), (action, response.status_code)
        else:
            assert response.status_code == 403, f"{role} {action}: {response.status_code}"

    after = query(
        database_url, "SELECT user_id, role FROM channel_members WHERE channel_id = %s ORDER BY user_id", (channel_id,)
    )
    assert after == before
    [channel] = query(database_url, "SELECT status FROM channels WHERE id = %s", (channel_id,))
    assert channel["status"] == "demo"
    member_id = user_id(database_url, "member@example.com")
    # Joining (accepting the invitation) is the member's only channel action.
    assert query(
        database_url, "SELECT action FROM audit_log WHERE actor_id = %s AND action LIKE 'channel.%%'", (member_id,)
    ) == [{"action": "channel.member_added"}]


def test_an_admin_made_on_the_command_line_sees_every_channel(app, world):
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "--email", "admin@example.com", "--password-stdin"], input=STRONG_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    admin = app.test_client()
    assert login(admin, "admin@example.com").status_code == 302

    listing = admin.get("/channels").get_data(as_text=True)
    assert demo.CHANNEL_TITLE in listing
    assert f'href="/channels/{world["ids"]["channel_id"]}"' in listing
    for rule in GET_ROUTES:
        url = _url(rule, world["ids"])
        assert admin.get(url).status_code == 200, url
