"""Scrub personal data and secrets before text leaves the machine.

Creators paste contact emails, phone numbers and links with tokens into
descriptions; none of that helps a title and none of it should reach
Claude or SerpAPI. Each match is replaced by a short placeholder so the
model still sees that something was there.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from optimizer.untrusted import EMAIL, phones

URL = re.compile(r"https?://[^\s<>\"']+")
_SECRET_PARAMS = re.compile(r"(token|key|secret|sig|signature|password|passwd|auth|session|code|credential)", re.I)


def _url(match: re.Match[str]) -> str:
    url = match.group(0)
    parts = urlsplit(url)
    if "@" in parts.netloc or any(_SECRET_PARAMS.search(name) for name, _ in parse_qsl(parts.query)):
        return f"{parts.scheme}://{parts.hostname or ''}/[link with credentials removed]"
    return url


def scrub(text: str | None) -> str:
    """Text with emails, phone numbers and secret-bearing URLs replaced."""
    if not text:
        return ""
    text = URL.sub(_url, text)
    text = EMAIL.sub("[email removed]", text)
    # Phone numbers as the screening of suggestions reads them (one definition).
    for number in sorted(set(phones(text)), key=len, reverse=True):
        text = text.replace(number, "[phone removed]")
    return text
