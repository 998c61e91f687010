"""Fuzzing: no request, however malformed, gets a server error or a stack trace.

Every rule of the app's URL map is requested (so a route added later is
fuzzed without anyone adding it here), as the owner of a demo channel with
one finished optimization run and as a stranger, both logged in and sending
a valid CSRF token so that the handlers themselves run, and as a visitor
(login, registration and the redirects to the login page). Each field a page's
forms, htmx attributes and links offer, each parameter the view's module
reads and a few generic ones get every value of a bounded corpus (long
strings, NUL, invalid UTF-8, look-alike digits, huge and negative numbers),
a list where a scalar is expected, bodies of the wrong content type, junk
ids in the path and a malformed Host header.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from io import BytesIO
from urllib.parse import parse_qsl, urlsplit

import pytest
import redis
from rq import Queue, SimpleWorker
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from jobs.runtime import QUEUES
from reliability import db
from tests.helpers import csrf_from, login
from tests.integration.channel_helpers import import_demo, post_form, query, user_client, user_id
from tests.integration.fuzz_helpers import (
    BAD_HOSTS,
    CORPUS,
    LONG,
    PATH_JUNK,
    SHORT_CORPUS,
    STACK_TRACE,
    encode,
    names_read_by,
    page_offers,
    raw_request,
)
from tests.integration.optimize_helpers import optimize, run_id_of

PLACEHOLDER = re.compile(r"<(?:([^<>:]+):)?([^<>:]+)>")
# Sent on every rule, whatever its pages offer: names that views commonly read.
GENERIC_NAMES = ("next", "page", "id")
# Values for path parts that are not ids (rq-dashboard's queue names, static files).
STRING_PARTS = {
    "filename": "css/app.css",
    "queue_name": "default",
    "registry_name": "failed",
    "order": "asc",
    "job_id": "x",
    "per_page": "10",
    "page": "1",
}
FUZZ_BUDGET_S = 180


@pytest.fixture
def fuzz_app(app_config):
    """The test app without rate limits: a 429 would stop the handlers from
    running. Flask-Limiter keeps ``enabled`` across init_app, so the next
    test's app is built with limits on again."""
    from webapp import create_app

    # The per-account password delays stay on, but short: the fuzzer's
    # wrong passwords would otherwise keep the owner from logging back in.
    yield create_app(
        {
            **app_config,
            "RATELIMIT_ENABLED": False,
            "LOGIN_ACCOUNT_FREE_ATTEMPTS": 100,
            "LOGIN_ACCOUNT_FIRST_DELAY_S": 1,
            "LOGIN_ACCOUNT_MAX_DELAY_S": 1,
        }
    )
    create_app({**app_config, "RATELIMIT_ENABLED": True})
    db.dispose_pool()


class Actor:
    """A logged-in browser and its CSRF token; logs back in when a request
    (logout, say) ended its session."""

    def __init__(self, app, email: str | None) -> None:
        self.app, self.email = app, email or "anonymous"
        self.client = user_client(app, email) if email else app.test_client()
        self.token = ""
        self.refresh()

    def refresh(self) -> None:
        if self.email == "anonymous":  # a visitor's token comes with the login page
            self.token = csrf_from(self.client.get("/login").get_data(as_text=True))
            return
        page = self.client.get("/settings")
        if page.status_code != 200:
            self._log_back_in()
            page = self.client.get("/settings")
        self.token = csrf_from(page.get_data(as_text=True))

    def _log_back_in(self) -> None:
        for _ in range(5):
            answer = login(self.client, self.email)
            if answer.status_code != 429:  # the account's short delay after the fuzzer's wrong passwords
                break
            time.sleep(min(2.0, float(answer.headers.get("Retry-After", "1"))))
        assert answer.status_code in (302, 303), f"{self.email} could not log back in: {answer.status_code}"

    def cookie_header(self) -> str:
        names = (self.app.config["SESSION_COOKIE_NAME"], self.app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))
        cookies = [self.client.get_cookie(name) for name in names]
        return "; ".join(f"{c.key}={c.value}" for c in cookies if c is not None)


def _run_jobs_in_process(redis_url: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    try:
        SimpleWorker([Queue(name, connection=connection) for name in QUEUES], connection=connection).work(burst=True)
    finally:
        connection.close()


def _seed(app, config: dict) -> tuple[Actor, Actor, dict[str, int]]:
    """The owner's demo channel, a viewer, one optimization run with its
    suggestion (its job run in this process); the ids routes take."""
    url = config["DATABASE_URL"]
    owner = Actor(app, "owner@example.com")
    channel_id = import_demo(owner.client)
    user_client(app, "viewer@example.com")
    post_form(owner.client, f"/channels/{channel_id}/members", {"email": "viewer@example.com", "role": "viewer"})
    [video] = query(
        url,
        """SELECT mv.video_id FROM metadata_versions mv JOIN videos v ON v.id = mv.video_id
                            WHERE v.channel_id = %s GROUP BY mv.video_id HAVING count(*) = 2
                            ORDER BY mv.video_id LIMIT 1""",
        (channel_id,),
    )
    response = optimize(owner.client, channel_id, [video["video_id"]])
    assert response.status_code == 303, response.get_data(as_text=True)
    run_id = run_id_of(response)
    _run_jobs_in_process(config["REDIS_URL"])
    [suggestion] = query(url, "SELECT id FROM suggestions WHERE run_id = %s", (run_id,))
    [version] = query(
        url, "SELECT id FROM metadata_versions WHERE video_id = %s ORDER BY id LIMIT 1", (video["video_id"],)
    )
    ids = {
        "channel_id": channel_id,
        "video_id": video["video_id"],
        "run_id": run_id,
        "suggestion_id": suggestion["id"],
        "version_id": version["id"],
        "user_id": user_id(url, "viewer@example.com"),
    }
    owner.refresh()
    return owner, Actor(app, "stranger@example.com"), ids


def _path(rule: str, ids: dict[str, int], junk: tuple[str, str] | None = None) -> str:
    def part(match: re.Match) -> str:
        converter, name = match.group(1), match.group(2)
        if junk and junk[0] == name:
            return junk[1]
        if converter == "int":
            return str(ids.get(name, 1))  # a route's new kind of id still gets a plausible one
        return STRING_PARTS.get(name, "x")

    return PLACEHOLDER.sub(part, rule)


class Surface:
    """What each (rule, method) accepts: form fields with the defaults the
    page gives them, and query parameter names."""

    def __init__(self, app) -> None:
        self.adapter = app.url_map.bind("localhost")
        self.fields: dict[tuple[str, str], dict] = defaultdict(dict)
        self.query: dict[tuple[str, str], set[str]] = defaultdict(set)

    def rule_of(self, url: str, method: str) -> tuple[str, str] | None:
        try:
            rule, _ = self.adapter.match(url.split("?")[0].split("#")[0], method=method, return_rule=True)
        except (HTTPException, RequestRedirect):
            return None
        return rule.rule, method

    def learn(self, html: str, page_url: str) -> None:
        forms, links = page_offers(html, page_url)
        for form in forms:
            key = self.rule_of(form.action, form.method)
            if key is None:
                continue
            target = self.query if form.method == "GET" else None
            if target is not None:
                target[key].update(form.fields)
            else:
                self.fields[key].update({k: v for k, v in form.fields.items() if k != "csrf_token"})
            self.query[key].update(name for name, _ in _query_pairs(form.action))
        for path, names in links:
            key = self.rule_of(path, "GET")
            if key is not None:
                self.query[key].update(names)

    def read_by_views(self, app, rule) -> None:
        for kind, name in names_read_by(app.view_functions[rule.endpoint]):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                if kind in ("args", "values", "cookies") or method == "GET":
                    self.query[(rule.rule, method)].add(name)
                if kind in ("form", "values", "files") and method != "GET":
                    self.fields[(rule.rule, method)].setdefault(name, "")


def _query_pairs(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


class Fuzzer:
    def __init__(self, app, surface: Surface, ids: dict[str, int]) -> None:
        self.app, self.surface, self.ids = app, surface, ids
        self.failures: list[str] = []
        self.requests = 0
        self.rules_requested: set[tuple[str, str]] = set()

    def check(self, label: str, status: int, text: str) -> None:
        self.requests += 1
        if status >= 500 or STACK_TRACE.search(text):
            self.failures.append(f"{label} -> {status}")

    def send(
        self,
        actor: Actor,
        method: str,
        path: str,
        query_pairs=(),
        body_pairs=None,
        *,
        htmx=False,
        data=None,
        content_type=None,
    ) -> None:
        headers = {"HX-Request": "true"} if htmx else {}
        query_string = encode(list(query_pairs))
        if method == "GET":
            response = actor.client.get(path, query_string=query_string, headers=headers)
        else:
            if data is None:
                data = encode([*(body_pairs or []), ("csrf_token", actor.token)])
                content_type = "application/x-www-form-urlencoded"
            response = actor.client.open(
                path,
                method=method,
                query_string=query_string,
                data=data,
                content_type=content_type,
                headers={"X-CSRFToken": actor.token, **headers},
            )
        label = f"{actor.email} {method} {path}?{query_string[:80]} body={str(data)[:120] if data else ''}"
        status = response.status_code
        if status == 503 and method == "GET" and self._unavailable_anyway(actor, path):
            status = 200  # a probe saying "not ready" whatever it is sent (jobs wait, no worker here): its answer
        self.check(label, status, response.get_data(as_text=True))

    def _unavailable_anyway(self, actor: Actor, path: str) -> bool:
        """The same GET with nothing fuzzed also answers 503."""
        return actor.client.get(path).status_code == 503

    def rule(self, actor: Actor, rule, method: str, corpus) -> None:
        key = (rule.rule, method)
        self.rules_requested.add(key)
        path = _path(rule.rule, self.ids)
        defaults = dict(self.surface.fields.get(key, {}))
        base = list(defaults.items())
        for name in sorted(self.surface.query.get(key, set()) | set(GENERIC_NAMES)):
            for i, value in enumerate(corpus):
                self.send(actor, method, path, [(name, value)], base, htmx=i % 2 == 1)
        if method != "GET":
            for name in sorted(set(defaults) | set(GENERIC_NAMES)):
                for i, value in enumerate(corpus):
                    self.send(
                        actor,
                        method,
                        path,
                        (),
                        [*[(k, v) for k, v in base if k != name], (name, value)],
                        htmx=i % 2 == 1,
                    )
            self.wrong_shapes(actor, method, path, defaults)
        for name in rule.arguments:
            for value in PATH_JUNK:
                self.send(actor, method, _path(rule.rule, self.ids, (name, value)), (), base)
        self.bad_host(actor, method, path)

    def wrong_shapes(self, actor: Actor, method: str, path: str, defaults: dict) -> None:
        """Lists for scalars, JSON, plain text and files in place of a form."""
        names = sorted(set(defaults) | {"id"})
        lists = [(name, value) for name in names for value in ("²", LONG, "1")]
        self.send(actor, method, path, lists, lists)
        for shape in (5, None, True, {"a": [1]}, ["1", "2"]):
            as_json = json.dumps({**{name: shape for name in names}, "csrf_token": actor.token})
            self.send(actor, method, path, data=as_json, content_type="application/json")
        for body in ("[1, 2]", "5", "{", '"text"'):
            self.send(actor, method, path, data=body, content_type="application/json")
        self.send(actor, method, path, data=b"\xff\x00" + LONG.encode(), content_type="text/plain")
        multipart = {name: (BytesIO(LONG.encode()[:2000]), "x.bin") for name in names}
        self.send(
            actor, method, path, data={**multipart, "csrf_token": actor.token}, content_type="multipart/form-data"
        )

    def bad_host(self, actor: Actor, method: str, path: str, hosts=("127.0.0.1:abc",)) -> None:
        for host in hosts:
            body = encode([("csrf_token", actor.token)]).encode() if method != "GET" else None
            response = raw_request(
                self.app,
                method,
                path,
                {"Host": host, "Cookie": actor.cookie_header(), "X-CSRFToken": actor.token},
                body,
                "application/x-www-form-urlencoded" if body else None,
            )
            self.check(f"{actor.email} {method} {path} Host: {host!r}", response.status_code, response.text)


def _learn_surface(app, owner: Actor, ids: dict[str, int]) -> Surface:
    surface = Surface(app)
    for rule in app.url_map.iter_rules():
        surface.read_by_views(app, rule)
        if "GET" in rule.methods and rule.endpoint != "static":
            url = _path(rule.rule, ids)
            response = owner.client.get(url)
            if response.status_code == 200 and response.mimetype == "text/html":
                surface.learn(response.get_data(as_text=True), url)
    return surface


def _methods(rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def test_no_route_answers_malformed_input_with_a_server_error(fuzz_app, app_config):
    started = time.monotonic()
    owner, stranger, ids = _seed(fuzz_app, app_config)
    surface = _learn_surface(fuzz_app, owner, ids)
    compare = ("/channels/<int:channel_id>/videos/<int:video_id>/compare", "GET")
    assert {"a", "b"} <= surface.query[compare], "the compare form was not found: page parsing is broken"
    assert "title" in surface.fields[("/channels/<int:channel_id>/suggestions/<int:suggestion_id>/decide", "POST")]
    fuzzer = Fuzzer(fuzz_app, surface, ids)
    rules = sorted(fuzz_app.url_map.iter_rules(), key=lambda r: r.rule)
    anonymous = Actor(fuzz_app, None)
    for actor, corpus in ((owner, CORPUS), (stranger, SHORT_CORPUS), (anonymous, SHORT_CORPUS)):
        for rule in rules:
            for method in _methods(rule):
                fuzzer.rule(actor, rule, method, corpus)
                actor.refresh()  # logout and "log out everywhere" end the session on purpose
    for host in BAD_HOSTS:
        fuzzer.bad_host(owner, "GET", f"/channels/{ids['channel_id']}", (host,))
        fuzzer.bad_host(anonymous, "GET", "/dashboard", (host,))
    every = {(rule.rule, method) for rule in rules for method in _methods(rule)}
    assert fuzzer.rules_requested == every
    assert not fuzzer.failures, f"{len(fuzzer.failures)} of {fuzzer.requests} requests failed:\n" + "\n".join(
        fuzzer.failures[:40]
    )
    elapsed = time.monotonic() - started
    assert elapsed < FUZZ_BUDGET_S * 2, (
        f"the fuzz test took {elapsed:.0f} s; keep it bounded ({fuzzer.requests} requests)"
    )


# -- the server errors the fuzzing found, each as the user meets it ----------------


def test_a_superscript_digit_as_a_version_is_a_400_not_a_500(app, app_config):
    owner = user_client(app, "owner@example.com")
    channel_id = import_demo(owner)
    [row] = query(
        app_config["DATABASE_URL"],
        """SELECT mv.video_id FROM metadata_versions mv JOIN videos v
                  ON v.id = mv.video_id WHERE v.channel_id = %s LIMIT 1""",
        (channel_id,),
    )
    compare = f"/channels/{channel_id}/videos/{row['video_id']}/compare"
    for value in ("%C2%B2", "%D9%A1", "9" * 30, "-1"):  # ², Arabic-Indic 1, past any integer, negative
        response = owner.get(f"{compare}?a={value}")
        assert response.status_code == 400, (value, response.status_code)
        assert "malformed id" in response.get_data(as_text=True)
    assert owner.get(compare).status_code == 200


def test_ids_in_the_path_that_are_not_ours_to_parse_are_404(app):
    owner = user_client(app, "owner@example.com")
    channel_id = import_demo(owner)
    assert owner.get(f"/channels/{channel_id}").status_code == 200
    for junk in ("2147483648", "9" * 30, "%D9%A1", "%C2%B2"):  # past PostgreSQL's integer; look-alike digits
        assert owner.get(f"/channels/{junk}").status_code == 404, junk


@pytest.mark.parametrize("path", ["/dashboard", "/login", "/", "/channels/1"])
def test_a_malformed_host_header_is_a_400(app, path):
    owner = user_client(app, "owner@example.com")
    cookie = owner.get_cookie(app.config["SESSION_COOKIE_NAME"])
    for headers in ({}, {"Cookie": f"{cookie.key}={cookie.value}"}):  # a visitor is sent to log in: the URL is needed
        for host in BAD_HOSTS:
            response = raw_request(app, "GET", path, {"Host": host, **headers})
            assert response.status_code == 400, (host, headers, response.status_code)
            assert "Host header" in response.text and not STACK_TRACE.search(response.text)
    for host in ("localhost", "127.0.0.1:5000", "[::1]:8080", "optimizer.example.com", "web_1:8000"):
        assert raw_request(app, "GET", "/login", {"Host": host}).status_code == 200, host


def test_a_file_or_json_where_a_form_expects_text_is_refused_with_the_form(app):
    owner = user_client(app, "owner@example.com")
    token = csrf_from(owner.get("/settings").get_data(as_text=True))
    upload = owner.post(
        "/settings/password",
        content_type="multipart/form-data",
        data={
            "csrf_token": token,
            "current_password": (BytesIO(b"x" * 100), "p.txt"),
            "password": (BytesIO(b"y"), "q.txt"),
        },
    )
    assert upload.status_code == 400 and "<form" in upload.get_data(as_text=True)  # the form, with its errors
    for body in ('{"current_password": 5, "password": true}', "[1, 2]", "5"):
        answer = owner.post(
            "/settings/password", data=body, content_type="application/json", headers={"X-CSRFToken": token}
        )
        assert answer.status_code < 500 and not STACK_TRACE.search(answer.get_data(as_text=True)), body
    assert owner.get("/settings").status_code == 200  # still logged in, password unchanged
