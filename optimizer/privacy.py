"""Scrub personal data and secrets before text leaves the machine.

Creators paste contact emails, phone numbers and links with tokens into
descriptions; none of that helps a title and none of it should reach
Claude or SerpAPI. Each match is replaced by a short placeholder so the
model still sees that something was there.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from optimizer.untrusted import EMAIL, URL, phones

_SECRET_PARAMS = re.compile(r"(token|key|secret|sig|signature|password|passwd|auth|session|code|credential)", re.I)
_WITH_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://|//", re.IGNORECASE)
# What ends a sentence after a link belongs to the sentence (as the screening reads links).
_TRAILING = ".,;:!?)]}'\""


def _url(match: re.Match[str]) -> str:
    """A link as the screening reads one (with or without a scheme, a bare
    name.tld, an address), unless it carries credentials: then its host
    alone, the sentence's punctuation after it kept."""
    found = match.group(0)
    url = found.rstrip(_TRAILING)
    parts = urlsplit(url if _WITH_SCHEME.match(url) else "//" + url)
    if "@" in parts.netloc or any(_SECRET_PARAMS.search(name) for name, _ in parse_qsl(parts.query)):
        scheme = f"{parts.scheme}://" if parts.scheme else ""
        return f"{scheme}{parts.hostname or ''}/[link with credentials removed]{found[len(url) :]}"
    return found


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
