"""The one id parser and the Host check (webapp/inputs.py)."""

from __future__ import annotations

import pytest

from webapp.inputs import ID_MAX, parse_id, valid_host


@pytest.mark.parametrize("raw", ["0", "1", "42", str(ID_MAX)])
def test_ascii_ids_up_to_postgres_integer_are_ids(raw):
    assert parse_id(raw) == int(raw)


@pytest.mark.parametrize(
    "raw", ["", " 1", "1 ", "-1", "+1", "1.0", "²", "١", "１", str(ID_MAX + 1), "9" * 30, "0x1", None, ["1"], 1]
)
def test_anything_else_is_not_an_id(raw):
    assert parse_id(raw) is None


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:5000", "127.0.0.1", "[::1]", "[::1]:8080", "optimizer.example.com", "web_1:8000", "host:"],
)
def test_real_hosts_pass(host):
    assert valid_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "",
        "127.0.0.1:abc",
        "127.0.0.1:65536",
        "h:²",
        "exa mple.com",
        "ü.example",
        "[::1",
        "a/b",
        "a@b",
        "host:1:2",
        "-start.example",
    ],
)
def test_malformed_hosts_fail(host):
    assert not valid_host(host)
