"""The API's operations: each view is declared once with its pydantic models,
and the same declaration validates the request, serializes the answer and
writes the operation into the OpenAPI 3.1 document.

Why pydantic's own schema and not spectree or flask-openapi3: pydantic v2
already emits JSON Schema 2020-12, which OpenAPI 3.1 uses as is; the rest of
the document (paths, parameters, responses) is one small function here. A
framework would bring its own request parsing, error bodies and UI routes,
and every one of them would have to be bent to the shared error envelope,
Flask-Login's bearer user and the blueprint naming rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from reliability.errors import ValidationError
from webapp.api.errors import ApiError, invalid_input
from webapp.api.models import Error

View = TypeVar("View", bound=Callable[..., Any])

# Every operation may answer these; the body is always the error envelope.
COMMON_ERRORS = {
    400: "The request was malformed (a body that is not JSON, say).",
    401: "No valid bearer token (or session) was sent.",
    404: "No such row, or one you are not a member of (the two look the same).",
    422: "The request failed validation; `details` lists each field path and problem.",
    429: "Too many requests, or a monthly limit is reached; see Retry-After.",
    503: "The database or the job queue is briefly unavailable.",
}
WRITE_ERRORS = {
    403: "Your role on this channel is too low (viewers cannot change anything).",
    409: "The row is not in a state that allows this (already decided, demo channel, removed video).",
}


@dataclass
class Operation:
    """One method on one rule, with what it takes and gives."""

    method: str
    rule: str
    view: Callable[..., Any]
    blueprint: Blueprint
    summary: str
    response: type[BaseModel] | None
    status: int
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)
    write: bool = False
    body_example: dict[str, Any] | None = None
    public: bool = False  # no credentials needed (the token endpoints)
    body_required: bool = True
    errors: dict[int, str] = field(default_factory=dict)  # beyond COMMON_ERRORS (and WRITE_ERRORS)

    @property
    def tag(self) -> str:
        return self.blueprint.name


OPERATIONS: list[Operation] = []


@dataclass(frozen=True)
class Serialized:
    """A view's answer already turned into its JSON: what a view keeps in
    the page cache, so that an answer asked again is not serialised again."""

    model: BaseModel
    payload: str

    @classmethod
    def of(cls, model: BaseModel) -> Serialized:
        return cls(model, model.model_dump_json(by_alias=True))


def operation(
    bp: Blueprint,
    method: str,
    rule: str,
    *,
    summary: str,
    response: type[BaseModel] | None,
    status: int = 200,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    headers: dict[str, dict[str, Any]] | None = None,
    body_example: dict[str, Any] | None = None,
) -> Callable[[View], View]:
    """Route ``rule`` on ``bp`` and record it. The view gets ``query=`` and
    ``body=`` as validated models and returns a model (or a (model, headers)
    pair); a model that fails its own validation here is our bug, a 500."""

    def register(view: View) -> View:
        @wraps(view)
        def handle(**kwargs: Any) -> Response:
            # The parent blueprint's guard (webapp/api/gate.py) already refused anonymous calls.
            if query is not None:
                kwargs["query"] = _parse(query, request.args.to_dict(), "query")
            if body is not None:
                kwargs["body"] = _parse(body, _json_body(), "body")
            try:
                result = view(**kwargs)
            except ValidationError as exc:
                # The pages' use cases refuse bad input with a 400; the API's
                # contract is 422 for every validation problem, code kept.
                raise ApiError(
                    422, exc.code, exc.message, {"fields": [{"path": "body", "message": exc.message}]}
                ) from exc
            extra: dict[str, str] = {}
            if isinstance(result, tuple):
                result, extra = result
            if result is None:
                return Response(status=status, headers=extra)
            payload = result.payload if isinstance(result, Serialized) else result.model_dump_json(by_alias=True)
            return Response(payload, status=status, mimetype="application/json", headers=extra)

        bp.add_url_rule(rule, view_func=handle, methods=[method])
        OPERATIONS.append(
            Operation(
                method,
                rule,
                handle,
                bp,
                summary,
                response,
                status,
                query,
                body,
                headers or {},
                method != "GET",
                body_example,
            )
        )
        return handle  # type: ignore[return-value]

    return register


def document(operation: Operation) -> None:
    """Record a view routed by its own module (the token endpoints of
    webapp/api/auth.py) so the document describes it too."""
    if not any(op.view is operation.view for op in OPERATIONS):
        OPERATIONS.append(operation)


def _json_body() -> Any:
    if not request.content_length and not request.data:
        return {}
    if not request.is_json:
        raise invalid_input([{"path": "body", "message": "Send the body as JSON (Content-Type: application/json)."}])
    data = request.get_json(silent=True)
    if data is None:
        raise invalid_input([{"path": "body", "message": "The body is not valid JSON."}])
    return data


def _parse(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        fields = [
            {"path": ".".join(str(part) for part in (where, *error["loc"])), "message": error["msg"]}
            for error in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise invalid_input(fields, f"{fields[0]['path']}: {fields[0]['message']}") from None


def invalid(path: str, message: str) -> ApiError:
    """A 422 found by a view (a rule the model cannot know, such as a setting)."""
    return invalid_input([{"path": path, "message": message}], message)


# -- the document ---------------------------------------------------------------

_PLACEHOLDER = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")
REF = "#/components/schemas/{model}"


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 for every recorded operation, at the URLs the app mounted them on."""
    from pydantic.json_schema import models_json_schema

    mounted = {rule.endpoint: rule.rule for rule in current_app.url_map.iter_rules()}

    models = {op.response for op in OPERATIONS} | {op.body for op in OPERATIONS} | {Error}
    used = sorted((m for m in models if m is not None), key=lambda m: m.__name__)
    _, top = models_json_schema([(m, "serialization") for m in used], ref_template=REF)
    schemas = top.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        endpoint = next(name for name in mounted if name.endswith(f".{op.tag}.{op.view.__name__}"))
        path = _PLACEHOLDER.sub(r"{\1}", mounted[endpoint])
        paths.setdefault(path, {})[op.method.lower()] = _operation_object(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "YouTube Channel Optimizer API",
            "version": "1.0.0",
            "description": "Drive the optimizer from scripts: list videos, ask for a batch, review and apply "
            "suggestions. Authenticate with `Authorization: Bearer <token>`. See docs/api.md.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _operation_object(op: Operation) -> dict[str, Any]:
    body: dict[str, Any] = {"operationId": op.view.__name__, "summary": op.summary, "tags": [op.tag]}
    body["description"] = (op.view.__doc__ or op.summary).strip()
    parameters = [_path_parameter(name) for name in _PLACEHOLDER.findall(op.rule)]
    if op.query is not None:
        parameters += _query_parameters(op.query)
    parameters += [{"name": name, "in": "header", **spec} for name, spec in op.headers.items()]
    if parameters:
        body["parameters"] = parameters
    if op.body is not None:
        content: dict[str, Any] = {"schema": {"$ref": REF.format(model=op.body.__name__)}}
        if op.body_example is not None:
            content["example"] = op.body_example
        body["requestBody"] = {"required": op.body_required, "content": {"application/json": content}}
    body["responses"] = _responses(op)
    if op.public:
        body["security"] = []
    return body


def _path_parameter(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        # The app's <int:...> converter: ASCII digits up to 2**31 - 1 (webapp/inputs.py).
        "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
        "example": 1,
    }


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        described = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            described["description"] = prop["description"]
        parameters.append(described)
    return parameters


def _responses(op: Operation) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}
    responses: dict[str, Any] = {}
    if op.response is None:
        responses[str(op.status)] = {"description": "Done; no body."}
    else:
        ok = {"application/json": {"schema": {"$ref": REF.format(model=op.response.__name__)}}}
        responses[str(op.status)] = {"description": op.summary, "content": ok}
    errors = {**COMMON_ERRORS, **(WRITE_ERRORS if op.write else {}), **op.errors}
    for status, description in sorted(errors.items()):
        responses[str(status)] = {"description": description, "content": error}
    return responses
