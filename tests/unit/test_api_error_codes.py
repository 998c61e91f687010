"""The API's general error codes are listed once (webapp/api/errors.py) and
docs/api.md prints the same list: a code added, renamed or given another
status in one place and not the other fails here."""

from __future__ import annotations

import re

from reliability.config import ROOT
from webapp.api.errors import ERROR_CODES

ROW = re.compile(r"^\| `([a-z_]+)` \| (\d{3}) \| (.+) \|$", re.M)


def test_docs_list_the_same_codes_and_statuses():
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("### The general codes", 1)[1].split("\n## ", 1)[0]
    documented = {code: int(status) for code, status, _ in ROW.findall(section)}
    assert documented == {code: status for code, (status, _) in ERROR_CODES.items()}


def test_every_code_is_snake_case_with_an_error_status():
    for code, (status, meaning) in ERROR_CODES.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code), code
        assert 400 <= status <= 599 and meaning.endswith("."), code
