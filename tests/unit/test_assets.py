"""The pinned CDN assets and their local copies are the same files: the SRI
hash a page sends is the sha384 of the file in static/vendor/, which is what
the browser loads when the CDN copy does not arrive (a copy with another
hash would be refused by the browser, leaving the page without htmx or
styles)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from reliability.config import ROOT
from webapp import ASSETS

VENDOR = ROOT / "static" / "vendor"


def sri_sha384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_the_integrity_hash_is_the_vendored_files_sha384(name):
    entry = ASSETS[name]
    assert entry["integrity"] == sri_sha384((ROOT / "static" / entry["local"]).read_bytes())


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_the_cdn_url_and_the_local_copy_name_the_same_version(name):
    entry = ASSETS[name]
    assert entry["url"].startswith("https://cdn.jsdelivr.net/npm/")
    cdn_version = re.search(r"@(\d+\.\d+\.\d+)/", entry["url"]).group(1)
    assert f"-{cdn_version}.min." in entry["local"], (entry["url"], entry["local"])


def test_every_vendored_file_is_a_pinned_asset():
    """A file left in static/vendor/ after an upgrade would be served but never checked."""
    pinned = {ASSETS[name]["local"] for name in ASSETS}
    assert {f"vendor/{path.name}" for path in VENDOR.iterdir()} == pinned
