"""Pieces of the fuzz test (test_fuzz.py): the corpus of hostile values, what
a page's forms and links offer (found by parsing the rendered HTML), the
parameters a view reads (found in its module's source), and a raw WSGI call
for requests the test client cannot make (a malformed Host header: the
client itself raises while it works out the cookie domain)."""

from __future__ import annotations

import inspect
import json
import re
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

from werkzeug.test import EnvironBuilder, run_wsgi_app

LONG = "A" * 20_000
# Scalars as a browser, a script or an attacker may send them. Bytes are sent
# as they are, percent-encoded: invalid UTF-8 the server must decode.
CORPUS: list[str | bytes] = [
    "",
    " ",
    LONG,
    "\x00",
    "a\x00b",
    "²",
    "١٢",
    "-1",
    "0",
    "2147483648",
    "9" * 40,
    "1e309",
    "NaN",
    "1.5",
    " 7 ",
    "<script>alert(1)</script>",
    "' OR '1'='1' --",
    "../../../etc/passwd",
    "//evil.example/x",
    "\\\\evil",
    "%",
    "\u202e",
    "custom",
    "[]",
    b"\xff\xfe",
    b"\xc3(",
    b"\xed\xa0\x80",
]
# The smaller set sent as the stranger, who should be turned away before
# any field is read (the owner's run covers the handlers' own parsing).
SHORT_CORPUS: list[str | bytes] = ["", LONG, "\x00", "²", "9" * 40, b"\xff\xfe"]
# Path ids: past PostgreSQL's integer, far past int64, zero.
PATH_JUNK = ["0", "2147483648", "9" * 30]
BAD_HOSTS = ["127.0.0.1:abc", "127.0.0.1:99999", "exa mple.com", "ü.example", "[::1", "a/b", ""]
STACK_TRACE = re.compile(r"Traceback \(most recent call last\)|File \"/")


@dataclass
class Form:
    """A form (or an htmx trigger) on a page: where it goes and what it sends."""

    action: str
    method: str
    fields: dict[str, str | bytes] = field(default_factory=dict)


class PageForms(HTMLParser):
    """Every form, htmx request and link with a query string on a page."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._open: list[Form] = []
        self._by_id: dict[str, Form] = {}
        self._textarea: tuple[Form, str] | None = None
        self._select: tuple[Form, str] | None = None

    def handle_starttag(self, tag, attrs):
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._start_form(attr)
        else:
            self._htmx(attr)
        if tag == "a" and "?" in attr.get("href", ""):
            self.links.append(attr["href"])
        form = self._by_id.get(attr.get("form", "")) or (self._open[-1] if self._open else None)
        if tag == "option" and self._select:
            select_form, select_name = self._select
            if "selected" in attr or select_name not in select_form.fields:
                select_form.fields[select_name] = attr.get("value", "")
        elif form is not None and attr.get("name"):
            self._field(form, tag, attr)

    def _start_form(self, attr: dict) -> None:
        """A form, and where htmx sends it too (hx-post on a form may be a
        live preview while submitting goes to the action)."""
        form = Form(attr.get("action") or self.page_url, (attr.get("method") or "get").upper())
        self.forms.append(form)
        self._open.append(form)
        if attr.get("id"):
            self._by_id[attr["id"]] = form
        self._htmx(attr)

    def _field(self, form: Form, tag: str, attr: dict) -> None:
        name = attr["name"]
        if tag == "textarea":
            self._textarea = (form, name)
            form.fields.setdefault(name, "")
        elif tag == "select":
            self._select = (form, name)
        elif tag in ("input", "button"):
            kind = attr.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attr and name in form.fields:
                return
            form.fields.setdefault(name, attr.get("value", ""))

    def _htmx(self, attr: dict) -> None:
        """An element that sends its own request: with the fields of the form
        around it (the same dict, so fields after it count too) and hx-vals."""
        for verb in ("get", "post", "put", "patch", "delete"):
            target = attr.get(f"hx-{verb}")
            if not target:
                continue
            fields = self._open[-1].fields if self._open else {}
            try:
                extra = {k: str(v) for k, v in json.loads(attr.get("hx-vals") or "{}").items()}
            except (ValueError, AttributeError):
                extra = {}
            self.forms.append(Form(target, verb.upper(), {**fields, **extra} if extra else fields))

    def handle_data(self, data):
        if self._textarea:
            form, name = self._textarea
            form.fields[name] = form.fields.get(name, "") + data

    def handle_endtag(self, tag):
        if tag == "form" and self._open:
            self._open.pop()
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def page_offers(html: str, page_url: str) -> tuple[list[Form], list[tuple[str, list[str]]]]:
    """(forms, [(link path, its query parameter names)]) of a page."""
    parser = PageForms(page_url)
    parser.feed(html)
    links = [
        (urlsplit(href).path, [name for name, _ in parse_qsl(urlsplit(href).query, keep_blank_values=True)])
        for href in parser.links
    ]
    return parser.forms, links


_READS = re.compile(r"""\b(args|form|values|files|cookies)\.get(?:list)?\(\s*["']([\w.-]+)["']""")


def names_read_by(view) -> set[tuple[str, str]]:
    """(where, name) of each parameter the view's module reads from the
    request: ``request.args.get("page")`` is ("args", "page")."""
    while hasattr(view, "__wrapped__"):
        view = view.__wrapped__
    module = sys.modules.get(getattr(view, "__module__", ""), None)
    if module is None:
        return set()
    try:
        return set(_READS.findall(inspect.getsource(module)))
    except (OSError, TypeError):
        return set()


def encode(pairs: list[tuple[str, str | bytes]]) -> str:
    """An application/x-www-form-urlencoded body or query string; bytes go
    as they are (invalid UTF-8 included)."""
    return urlencode(pairs, doseq=False)


@dataclass
class RawResponse:
    status_code: int
    text: str


def raw_request(
    app, method: str, path: str, headers: dict[str, str], body: bytes | None = None, content_type: str | None = None
) -> RawResponse:
    """One request straight through the WSGI app, with any headers at all."""
    environ = EnvironBuilder(
        path=path, method=method, headers=headers, data=body, content_type=content_type
    ).get_environ()
    for name, value in headers.items():  # EnvironBuilder would rebuild Host from the base URL
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    chunks, status, _ = run_wsgi_app(app, environ, buffered=True)
    text = b"".join(chunks).decode("utf-8", "replace")
    return RawResponse(int(status.split(" ", 1)[0]), text)
