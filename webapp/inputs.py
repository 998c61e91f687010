"""What a client sends, checked in one place: ids, choices and the Host header.

Ids. Every id a route takes, in its path, its query string or its form, is
read by ``parse_id``: ASCII digits only, at most ``ID_MAX``. ``str.isdigit()``
is not enough ("²".isdigit() is True and int("²") raises), ``\\d`` in a
regular expression matches Arabic-Indic digits too (so /channels/١ was
channel 1), and a number past PostgreSQL's integer made the query raise.
A malformed id is the client's mistake (400); a well-formed id of a row the
user may not see stays a 404 (it does not even confirm that the row exists).

Forms. FlaskForm reads uploaded files and a JSON body as form fields, so
a file posted as a password (FileStorage has no len()) or ``{"email": 5}``
raised TypeError inside validation. Our forms take text: ``TextForm`` reads
only the urlencoded or multipart text fields.

Host. Werkzeug builds ``request.url`` from the Host header and raises
ValueError on a port that is not a number (``Host: 127.0.0.1:abc``), so any
page that needed its own URL (a login redirect's ``next``, the HTTPS
redirect) answered 500. A Host that is not a host name, an IPv4 address or a
bracketed IPv6 address, with an optional port up to 65535, is refused with
400 before anything reads it.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, request
from flask_wtf import FlaskForm
from werkzeug.routing import IntegerConverter, Map
from wtforms import Field

from reliability.errors import ValidationError

# Every id column is a PostgreSQL ``integer`` (serial).
ID_MAX = 2**31 - 1
_ID = re.compile(r"[0-9]{1,10}", re.ASCII)

_HOST = re.compile(
    r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_.])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{0,5})?",
    re.ASCII,
)
_MALFORMED = "That link or form held a malformed id. Go back, reload the page and try again."


def parse_id(raw: object) -> int | None:
    """The id ``raw`` names, or None when it is not an id at all."""
    if not isinstance(raw, str) or not _ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= ID_MAX else None


def arg_id(name: str, default: int) -> int:
    """The id in query parameter ``name``; ``default`` when it is absent or
    empty; 400 when it is there but malformed."""
    raw = request.args.get(name, "")
    if raw == "":
        return default
    value = parse_id(raw)
    if value is None:
        raise ValidationError(_MALFORMED, code="malformed_id")
    return value


def arg_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """Query parameter ``name`` if it is one of ``choices`` (a sort, a
    filter), else ``default``: an old or hand-edited link still shows the
    page, sorted the usual way, and no other text goes further."""
    raw = request.args.get(name, "")
    return raw if raw in choices else default


def form_ids(name: str, message: str = _MALFORMED) -> list[int]:
    """Every id posted under ``name``, in order, without repeats; 400 with
    ``message`` if any of them is malformed."""
    ids = []
    for raw in request.form.getlist(name):
        value = parse_id(raw)
        if value is None:
            raise ValidationError(message, code="malformed_id")
        ids.append(value)
    return list(dict.fromkeys(ids))


class TextForm(FlaskForm):
    """The base of every form of ours: text fields only (see above)."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form: FlaskForm, formdata: Any) -> Any:
            if request.files or request.is_json:
                return request.form if form.is_submitted() else None
            return super().wrap_formdata(form, formdata)


def text(field: Field) -> str:
    """A text field's value once its form validated. WTForms' types allow
    None, which only a field no data was processed into has."""
    return field.data or ""


def add_error(field: Field, message: str) -> None:
    """Show ``message`` under ``field`` (a check made after validation).
    WTForms keeps a field's errors in a tuple until it validates, a list
    after: a new list works either way."""
    field.errors = [*field.errors, message]


def valid_host(host: str) -> bool:
    match = _HOST.fullmatch(host)
    if match is None:
        return False
    _, _, port = host.rpartition("]")[2].partition(":")
    return port == "" or int(port) <= 65535


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: ASCII digits up to ``ID_MAX``. Anything
    else does not match the route (404), like an id that is not ours."""

    regex = r"[0-9]{1,10}"

    def __init__(
        self, url_map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed: bool = False
    ) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=ID_MAX if max is None else max, signed=False)


def init_input_checks(app: Flask) -> None:
    """Before any blueprint adds its routes (a rule binds its converter when
    it is added), and before the HTTPS redirect and the rate limiter read
    the request's URL."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_check_host)


def _check_host() -> None:
    host = request.environ.get("HTTP_HOST")
    if host is not None and not valid_host(host):
        raise ValidationError("The Host header of this request is not a host name.", code="bad_host")
