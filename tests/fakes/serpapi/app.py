"""HTTP endpoints of the fake SerpApi, as google-search-results 2.4.2 calls them.

    GET /search    engine=youtube&search_query=...  |  engine=google_autocomplete&q=...&client=youtube
                   plus api_key, output=json|html, source=python (the client adds it)
    GET /account   the Account API (plan, searches left)

`/search.json` and `/account.json` answer too (SerpApi's documented URLs).
The client (serpapi/serp_api_client.py) builds `BACKEND + "/search"` and
sends everything as query parameters with `requests.get`; it never checks the
HTTP status, so errors reach the app as JSON `{"error": "..."}` bodies, with
SerpApi's statuses: 400 missing or bad parameter, 401 invalid or missing key,
429 out of searches or over the hourly limit, 5xx server trouble. A search
that found nothing is a 200 with an "error" key (results.py).

Order of a search: record, sleep the latency, answer an injected fault, check
the key (401), the engine and query (400), the scripted or generated body, then
the monthly quota (a repeat of the same search within an hour comes from
SerpApi's cache: free, and not counted against the quota).
"""

from __future__ import annotations

from html import escape
from typing import Any

from flask import Flask, Response, json, request

ENGINES = {"youtube": "search_query", "google_autocomplete": "q"}
INVALID_KEY = "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"
OUT_OF_SEARCHES = "Your account has run out of searches."


def error_body(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": message}


FAULT_BODIES = {
    "server_error": lambda: error_body(500, "Internal server error. Please contact support@serpapi.com."),
    "search_error": lambda: (
        503,
        {
            "search_metadata": {"status": "Error"},
            "error": "Our servers encountered an error while processing this search. Please retry.",
        },
    ),
    "rate_limit": lambda: error_body(
        429, "You have exceeded the hourly throughput limit of your plan. Please slow down or upgrade your plan."
    ),
    "out_of_searches": lambda: error_body(429, OUT_OF_SEARCHES),
    "invalid_key": lambda: error_body(401, INVALID_KEY),
}
ANSWER_FAULTS = {"timeout", "html_error"}
HTML_ERROR = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


def create_app(fake) -> Flask:
    app = Flask("fake_serpapi")
    app.json.sort_keys = False

    @app.get("/search")
    @app.get("/search.json")
    def search() -> Response:
        params = request.args.to_dict()
        engine = params.get("engine", "")
        record = fake.record(request.path, params, dict(request.headers), engine, params.get(ENGINES.get(engine, "q")))
        with fake.in_flight():
            response = _search(fake, params, engine)
        record.status = response.status_code
        return response

    @app.get("/account")
    @app.get("/account.json")
    def account() -> Response:
        params = request.args.to_dict()
        record = fake.record(request.path, params, dict(request.headers), "account", None)
        if not fake.key_ok(params.get("api_key")):
            response = _json(*error_body(401, INVALID_KEY))
        else:
            response = _json(200, fake.account_info(params["api_key"]))
        record.status = response.status_code
        return response

    @app.errorhandler(404)
    def _not_found(_err) -> Response:
        return _json(*error_body(404, "The requested resource doesn't exist."))

    return app


def _search(fake, params: dict[str, str], engine: str) -> Response:
    fake.pause(fake.latency_s)
    fault = fake.faults.take(engine)
    if fault is not None:
        if fault.kind == "html_error":
            return Response(HTML_ERROR, status=502, mimetype="text/html")
        if fault.kind == "timeout":
            fake.pause(fault.seconds)
        else:
            return _json(*FAULT_BODIES[fault.kind]())
    if not fake.key_ok(params.get("api_key")):
        return _json(*error_body(401, INVALID_KEY))
    if engine not in ENGINES:
        return _json(
            *error_body(
                400, f"Unsupported `{engine}` search engine. (The fake implements {', '.join(sorted(ENGINES))}.)"
            )
        )
    if not params.get(ENGINES[engine]):
        return _json(*error_body(400, f"Missing query `{ENGINES[engine]}` parameter."))
    if not fake.charge(params):
        return _json(*error_body(429, OUT_OF_SEARCHES))
    status, body = fake.body_for(engine, params)
    if params.get("output") == "html" and status == 200:
        return Response(_html(params[ENGINES[engine]], body), status=200, mimetype="text/html")
    return _json(status, body)


def _html(query: str, body: dict) -> str:
    items = body.get("video_results") or body.get("suggestions") or []
    rows = "".join(f"<li>{escape(str(item.get('title') or item.get('value')))}</li>" for item in items)
    return f"<html><head><title>{escape(query)}</title></head><body><ul>{rows}</ul></body></html>"


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
