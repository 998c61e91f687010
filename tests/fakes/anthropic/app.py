"""HTTP endpoints of the fake Anthropic API.

    POST /v1/messages               a Message (non-streaming only)
    POST /v1/messages/count_tokens  {"input_tokens": n}, by the fake's tokenizer
    GET  /v1/models                 the Models API's list (limit, after_id, before_id), newest
                                    first; what the startup check calls with limit=1

Every call goes through the same steps, in this order, and the order is the
point: record the request (so `all_request_text()` sees even refused ones),
check credentials (401), the body (400), the model (404); answer an injected
error fault (429/529/500, at once, as a front end would); plan the prompt cache;
choose the answer (script, responder, default); build the Message; then sleep
the configured latency (the "generation time", so concurrent calls overlap and
`max_in_flight` means something) and a `timeout` fault's delay; only then make
the cache writes readable, add the usage to the totals, and send.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from . import caching, errors, validation
from .answers import Reply, build_content, chosen_tool, malformed, output_text, target_schema, truncate
from .faults import Fault

REFUSAL = {"type": "refusal", "category": None, "explanation": None}


def create_app(fake) -> Flask:
    app = Flask("fake_anthropic")
    app.json.sort_keys = False

    @app.post("/v1/messages")
    def messages_create() -> Response:
        return _handle(fake, count_only=False)

    @app.post("/v1/messages/count_tokens")
    def messages_count_tokens() -> Response:
        return _handle(fake, count_only=True)

    @app.get("/v1/models")
    def models_list() -> Response:
        request_id = errors.new_id("req_")
        record = fake.record(request.path, dict(request.headers), request.query_string.decode(), None)
        try:
            validation.check_auth(request.headers, fake.api_keys)
            response = _json(_models_page(sorted(fake.models, reverse=True), request.args), request_id)
        except errors.ApiError as err:
            response = err.response(request_id)
        record.status = response.status_code
        return response

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Response:
        status = err.code or 500
        kind = "not_found_error" if status in (404, 405) else "invalid_request_error"
        return errors.ApiError(status, kind, err.description or "Not Found").response(errors.new_id("req_"))

    return app


def _handle(fake, *, count_only: bool) -> Response:
    request_id = errors.new_id("req_")
    raw = request.get_data(as_text=True)
    body = _parse(raw)
    record = fake.record(request.path, dict(request.headers), raw, body)
    with fake.in_flight():
        try:
            response = _answer(fake, body, count_only, request_id)
        except errors.ApiError as err:
            response = err.response(request_id)
    record.status = response.status_code
    return response


def _parse(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _answer(fake, body: Any, count_only: bool, request_id: str) -> Response:
    validation.check_auth(request.headers, fake.api_keys)
    if body is None:
        raise errors.invalid_request("There was an error parsing the body of your request. Please send valid JSON.")
    if count_only:
        validation.check_count(body, strict_roles=fake.strict_roles)
    else:
        validation.check_create(body, strict_roles=fake.strict_roles, max_output_tokens=fake.max_output_tokens)
    model = body["model"]
    if model not in fake.models:
        raise errors.unknown_model(model)
    segments = caching.segments(body)
    if count_only:
        return _json({"input_tokens": caching.total_tokens(segments)}, request_id)
    fault = fake.faults.take(model)
    if fault is not None and fault.error() is not None:
        raise fault.error()
    plan = fake.cache.plan(model, segments, fake.min_tokens_for(model))
    answer = fake.next_answer(model, body)
    if isinstance(answer, Fault):
        if answer.error() is not None:
            raise answer.error()
        fault, answer = answer, fake.responder_answer(body)
    message = _message(body, model, answer, fault, plan)
    fake.pause(fake.latency_s)
    if fault is not None and fault.kind == "timeout":
        fake.pause(fault.seconds)
    fake.cache.commit(model, plan)
    fake.add_usage(model, message["usage"])
    return _json(message, request_id)


def _models_page(ids: list[str], args: Any) -> dict:
    """One page as the API sends it: `data`, `has_more`, `first_id`, `last_id`."""
    try:
        limit = int(args.get("limit", 20))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        raise errors.invalid_request("limit: Input should be greater than or equal to 1 and at most 1000")
    start, end = 0, len(ids)
    if args.get("after_id") in ids:
        start = ids.index(args["after_id"]) + 1
    if args.get("before_id") in ids:
        end = ids.index(args["before_id"])
        start = max(start, end - limit)
    chosen = ids[start:end][:limit]
    data = [
        {
            "type": "model",
            "id": model,
            "display_name": model.replace("-", " ").title(),
            "created_at": "2026-01-01T00:00:00Z",
            "lifecycle": "active",
        }
        for model in chosen
    ]
    return {
        "data": data,
        "has_more": start + len(chosen) < end,
        "first_id": chosen[0] if chosen else None,
        "last_id": chosen[-1] if chosen else None,
    }


def _message(body: dict, model: str, answer: Any, fault: Fault | None, plan: caching.CachePlan) -> dict:
    kind = fault.kind if fault is not None else None
    if kind == "malformed_json":
        answer = malformed(answer, target_schema(body)[1] if chosen_tool(body) else None)
    reply = build_content(body, answer)
    if kind == "refusal":
        reply = Reply([], "refusal", dict(REFUSAL))
    out_tokens = max(1, caching.count_tokens(output_text(reply)))
    if kind == "max_tokens":
        out_tokens = max(1, min(out_tokens // 2, body["max_tokens"]))
        reply = truncate(reply, out_tokens)
    elif out_tokens > body["max_tokens"]:
        out_tokens = body["max_tokens"]
        reply = truncate(reply, out_tokens)
    return {
        "id": errors.new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": reply.content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "stop_details": reply.stop_details,
        "usage": plan.usage(out_tokens),
    }


def _json(body: dict, request_id: str) -> Response:
    resp = Response(json.dumps(body), status=200, mimetype="application/json")
    resp.headers["request-id"] = request_id
    return resp
