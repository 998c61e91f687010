"""A person's data: "Download my data" holds every row they own and nothing
of anyone else's, and deleting the account leaves no row that names them.

Built the way people make the rows: two members of one channel (the demo
channel, so no Google is needed), each optimizing a video through the real
worker and applying the other's suggestion. Which columns link a row to an
account is read from the database's own foreign keys, so a table added
later must be placed in OWNING or NOT_OWNING before these tests pass."""

from __future__ import annotations

import json

import pytest

from tests.fakes.google import fake_google_fixture
from tests.helpers import STRONG_PASSWORD, csrf_from, register
from tests.integration.channel_helpers import import_demo, post_form, query
from tests.integration.mail_helpers import invite_and_accept
from tests.integration.optimize_helpers import burst, connect_synced, optimize_and_wait

# Every foreign key to users: the rows it links are the person's own (in their export) ...
OWNING = {
    ("account_tokens", "user_id"),
    ("api_personal_tokens", "user_id"),
    ("api_token_families", "user_id"),
    ("audit_log", "actor_id"),
    ("channel_invitations", "accepted_by"),
    ("channel_invitations", "invited_by"),
    ("channel_members", "user_id"),
    ("channels", "created_by"),
    ("metadata_versions", "created_by"),
    ("optimization_runs", "requested_by"),
    ("quota_ledger", "user_id"),
    ("quota_reservations", "user_id"),
    ("suggestions", "decided_by"),
    ("sync_runs", "requested_by"),
    ("usage_ledger", "user_id"),
    ("user_sessions", "user_id"),
}
# ... or about someone else.
NOT_OWNING = {("channel_members", "added_by"): "the added member's membership: in their export"}
KEYS = {"channel_members": "channel_id"}  # a table's key in the export, when it is not ``id``
BOB_ADDRESS = "203.0.113.7"  # bob's own address, so that a scan can look for it


def _user_foreign_keys(url: str) -> set[tuple[str, str]]:
    rows = query(
        url,
        """SELECT cl.relname AS table_name, att.attname AS column_name
           FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid
           JOIN pg_attribute att ON att.attrelid = c.conrelid AND att.attnum = ANY (c.conkey)
           WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass""",
    )
    return {(r["table_name"], r["column_name"]) for r in rows}


def _user_id(url: str, email: str) -> int:
    return query(url, "SELECT id FROM users WHERE email = %s", (email,))[0]["id"]


@pytest.fixture
def shared(app, app_config):
    """Alice owns a demo channel, Bob is its editor (from his own address);
    each optimized a video and applied the other's suggestion."""
    url = app_config["DATABASE_URL"]
    alice = app.test_client()
    register(alice, "alice@example.com")
    bob = app.test_client()
    bob.environ_base["REMOTE_ADDR"] = BOB_ADDRESS
    register(bob, "bob@example.com")
    channel = import_demo(alice)
    invite_and_accept(alice, bob, url, channel, "bob@example.com", "editor")
    video_a, video_b = [
        r["id"] for r in query(url, "SELECT id FROM videos WHERE channel_id = %s ORDER BY id LIMIT 2", (channel,))
    ]
    run_a = optimize_and_wait(alice, app_config, channel, [video_a])
    run_b = optimize_and_wait(bob, app_config, channel, [video_b])
    [s_a] = [r["id"] for r in query(url, "SELECT id FROM suggestions WHERE run_id = %s", (run_a,))]
    [s_b] = [r["id"] for r in query(url, "SELECT id FROM suggestions WHERE run_id = %s", (run_b,))]
    for client, suggestion in ((bob, s_a), (alice, s_b)):
        applied = post_form(client, f"/channels/{channel}/suggestions/{suggestion}/decide", {"action": "apply"})
        assert applied.status_code == 303, applied.get_data(as_text=True)
    burst(app_config)
    for name, client in (("alice", alice), ("bob", bob)):  # an API login and a personal token each
        made = post_form(client, "/settings/api-tokens", {"name": f"{name}'s script"}, csrf_page="/settings/api-tokens")
        assert made.status_code == 201
        script = app.test_client()  # a script, with no cookie (a cookie client's POST needs a CSRF token)
        script.environ_base["REMOTE_ADDR"] = client.environ_base.get("REMOTE_ADDR", "127.0.0.1")
        api_login = script.post(
            "/api/v1/auth/token", json={"email": f"{name}@example.com", "password": STRONG_PASSWORD}
        )
        assert api_login.status_code == 200, api_login.get_data(as_text=True)
    assert [r["status"] for r in query(url, "SELECT status FROM suggestions WHERE id IN (%s, %s)", (s_a, s_b))] == [
        "applied",
        "applied",
    ]
    return {
        "url": url,
        "alice": alice,
        "bob": bob,
        "channel": channel,
        "alice_id": _user_id(url, "alice@example.com"),
        "bob_id": _user_id(url, "bob@example.com"),
        "s_a": s_a,
        "s_b": s_b,
    }


def _export(client) -> tuple[dict, str]:
    response = client.get("/settings/export")
    assert response.status_code == 200
    assert response.is_streamed and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    return json.loads(text), text


def _owned(url: str, user_id: int, email: str) -> dict[str, set]:
    """What the person owns, table by table, from the database."""
    owned: dict[str, set] = {"users": {user_id}}
    for table, column in OWNING:
        key = KEYS.get(table, "id")
        rows = query(url, f"SELECT {key} AS k FROM {table} WHERE {column} = %s", (user_id,))  # noqa: S608
        owned.setdefault(table, set()).update(r["k"] for r in rows)
    for table, statement in {
        "suggestions": "SELECT s.id AS k FROM suggestions s JOIN optimization_runs r ON r.id = s.run_id "
        "WHERE r.requested_by = %(id)s",
        "channel_invitations": "SELECT id AS k FROM channel_invitations "
        "WHERE email_key_of(email) = email_key_of(%(e)s)",
        "mail_outbox": "SELECT id AS k FROM mail_outbox WHERE email_key_of(recipient) = email_key_of(%(e)s)",
        "api_refresh_tokens": "SELECT t.id AS k FROM api_refresh_tokens t JOIN api_token_families f "
        "ON f.id = t.family_id WHERE f.user_id = %(id)s",
    }.items():
        owned.setdefault(table, set()).update(r["k"] for r in query(url, statement, {"id": user_id, "e": email}))
    return owned


def test_export_holds_every_row_the_person_owns_and_nothing_of_the_other_members(shared):
    url = shared["url"]
    assert _user_foreign_keys(url) == OWNING | set(NOT_OWNING), "a new link to users: is its row the person's?"
    exports = {}
    for name in ("alice", "bob"):
        exported, text = _export(shared[name])
        user_id, email = shared[f"{name}_id"], f"{name}@example.com"
        owned = _owned(url, user_id, email)
        got = {table: {row[KEYS.get(table, "id")] for row in rows} for table, rows in exported["tables"].items()}
        for table, keys in owned.items():
            assert keys <= got.get(table, set()), f"{name}'s {table} rows missing from the export"
        for table, keys in got.items():
            assert keys <= owned.get(table, set()), f"{table} rows in {name}'s export that are not theirs"
        assert got["suggestions"] and got["metadata_versions"] and got["audit_log"] and got["optimization_runs"]
        exports[name] = (exported, text)

    alice, alice_text = exports["alice"]
    bob, bob_text = exports["bob"]
    assert "bob@example.com" not in alice_text and BOB_ADDRESS not in alice_text
    assert "alice@example.com" not in bob_text and BOB_ADDRESS in bob_text  # bob's own sessions and log
    # Alice's suggestion, decided by Bob: what was suggested is hers, the decision his.
    mine = {row["id"]: row for row in alice["tables"]["suggestions"]}[shared["s_a"]]
    assert mine["suggested"]["titles"] and mine["decision"] is None and not mine["decided_by_me"]
    his = {row["id"]: row for row in bob["tables"]["suggestions"]}[shared["s_a"]]
    assert his["suggested"] is None and his["decision"]["approved_title"] and his["decided_by_me"]
    # No secret of the account goes out either.
    assert '"password_hash"' not in alice_text and '"token_hash"' not in alice_text


def test_download_needs_a_login(client):
    response = client.get("/settings/export")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _delete_account(client, password: str = STRONG_PASSWORD):
    page = client.get("/settings")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/settings/delete", data={"current_password": password, "confirm": "y", "csrf_token": token})


def rows_naming(url: str, *, email: str, user_id: int, texts: tuple[str, ...] = ()) -> list[str]:
    """Every place in the database that still names the person: any text,
    JSON, address or array column holding the email (or ``texts``), any
    link to users holding the id, the audit log's user targets."""
    found = []
    columns = query(
        url,
        """SELECT table_name, column_name FROM information_schema.columns
           WHERE table_schema = 'public' AND table_name <> 'schema_migrations'
             AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'inet', 'ARRAY')""",
    )
    for column in columns:
        table, name = column["table_name"], column["column_name"]
        for needle in (email, *texts):
            statement = f'SELECT count(*) AS n FROM "{table}" WHERE "{name}"::text ILIKE %s'  # noqa: S608
            if query(url, statement, (f"%{needle}%",))[0]["n"]:
                found.append(f"{table}.{name} holds {needle}")
    for table, name in _user_foreign_keys(url) | {("users", "id")}:
        if query(url, f'SELECT count(*) AS n FROM "{table}" WHERE "{name}" = %s', (user_id,))[0]["n"]:  # noqa: S608
            found.append(f"{table}.{name} = {user_id}")
    audit = query(
        url,
        """SELECT count(*) AS n FROM audit_log
           WHERE (target_type = 'user' AND target_id = %(id)s) OR details ->> 'user_id' = %(id)s""",
        {"id": str(user_id)},
    )
    if audit[0]["n"]:
        found.append("audit_log names the account's id")
    return found


def test_the_only_owner_of_a_shared_channel_hands_it_over_first(shared):
    refused = _delete_account(shared["alice"])
    assert refused.status_code == 409
    assert "You are the only owner of" in refused.get_data(as_text=True)
    assert _user_id(shared["url"], "alice@example.com") == shared["alice_id"]


def test_deleting_an_account_leaves_no_row_naming_the_person_and_keeps_the_events(shared):
    url = shared["url"]
    events = [
        r["action"]
        for r in query(url, "SELECT action FROM audit_log WHERE actor_id = %s ORDER BY id", (shared["bob_id"],))
    ]
    with_address = query(
        url, "SELECT count(*) AS n FROM audit_log WHERE actor_id = %s AND ip_address IS NOT NULL", (shared["bob_id"],)
    )[0]["n"]
    assert rows_naming(url, email="bob@example.com", user_id=shared["bob_id"], texts=(BOB_ADDRESS,))  # it can fail

    deleted = _delete_account(shared["bob"])
    assert deleted.status_code == 302 and deleted.headers["Location"].endswith("/login")

    assert rows_naming(url, email="bob@example.com", user_id=shared["bob_id"], texts=(BOB_ADDRESS,)) == []
    # The events stay, under one pseudonym and hashed addresses.
    rows = query(
        url,
        """SELECT action, actor_email, ip_hash FROM audit_log WHERE actor_email LIKE 'deleted-user:%%' ORDER BY id""",
    )
    assert [r["action"] for r in rows] == [*events, "user.deleted"]
    assert len({r["actor_email"] for r in rows}) == 1
    hashed = [r["ip_hash"] for r in rows if r["ip_hash"]]
    assert len(hashed) == with_address + 1 and len(set(hashed)) == 1  # one address, one hash; deletion's own too
    # What he did on the shared channel stays the channel's: his run, his decision, his applied version.
    assert query(url, "SELECT status, decided_by FROM suggestions WHERE id = %s", (shared["s_a"],)) == [
        {"status": "applied", "decided_by": None}
    ]
    assert query(url, "SELECT count(*) AS n FROM suggestions WHERE id = %s", (shared["s_b"],))[0]["n"] == 1
    # Alice, alone on her channel now, may go too: the channel goes with her.
    assert _delete_account(shared["alice"]).status_code == 302
    assert query(url, "SELECT count(*) AS n FROM channels")[0]["n"] == 0
    assert rows_naming(url, email="alice@example.com", user_id=shared["alice_id"]) == []


fake_google = fake_google_fixture()


def test_deleting_an_account_revokes_google_access_and_deletes_its_channels(creator, fake_google, yt_config):
    url = yt_config["DATABASE_URL"]
    channel = connect_synced(creator, fake_google, yt_config, "alice", 2)
    user_id = _user_id(url, "creator@example.com")
    [grant] = fake_google.oauth.grants
    assert fake_google.requests_to("/revoke") == []

    assert _delete_account(creator).status_code == 302

    [revoke] = fake_google.requests_to("/revoke")
    assert grant.refresh_token in (revoke.args.get("token"), revoke.form.get("token"))
    assert grant.revoked  # Google no longer honours the grant
    for table in ("channels", "videos", "oauth_tokens", "video_daily_stats", "metadata_versions", "sync_runs"):
        assert query(url, f"SELECT count(*) AS n FROM {table}")[0]["n"] == 0, table  # noqa: S608
    assert rows_naming(url, email="creator@example.com", user_id=user_id, texts=(channel["youtube_ids"][0],)) == []
