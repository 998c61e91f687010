"""Scrub personal data and secrets before text leaves the machine.

Creators paste contact emails, phone numbers and links with tokens into
descriptions; none of that helps a title and none of it should reach
Claude or SerpAPI. Each match is replaced by a short placeholder so the
model still sees that something was there.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from optimizer.untrusted import EMAIL, URL, phones

# A query parameter holds a secret when a word of its name ends so
# ("access_token", "apiKey", "X-Amz-Signature", "sessionid"), not "keywords".
_SECRET_WORD = re.compile(
    r"(token|key|secret|sig|signature|signed|password|passwd|pwd|pass|auth|authorization|bearer|session|"
    r"sessionid|sid|code|credential|jwt|ticket)s?$",
    re.IGNORECASE,
)
_PARAM_NAME = re.compile(r"[?&;]([^=&;#\s?]+)=")  # every name=..., those of a link inside the link too
_USERINFO = re.compile(r"//[^/\s?#@]*@")  # //user:password@host, anywhere in the link
_WITH_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://|//", re.IGNORECASE)
# What ends a sentence after a link belongs to the sentence (as the screening reads links).
_TRAILING = ".,;:!?)]}'\""


def _carries_credentials(url: str) -> bool:
    """A password in the link, or a parameter named for a secret: in the
    link itself or in one it carries (``site.com/r?next=https://x.io/cb?token=...``)."""
    if _USERINFO.search(url):
        return True
    names = _PARAM_NAME.findall(url)
    return any(_SECRET_WORD.search(word) for name in names for word in re.split(r"[^A-Za-z]+", name) if word)


def _host(url: str) -> tuple[str, str]:
    """The link's scheme ("https://" or "") and host; both empty when it
    cannot be read as a URL (a bracket where a host would be)."""
    try:
        parts = urlsplit(url if _WITH_SCHEME.match(url) else "//" + url)
        return (f"{parts.scheme}://" if parts.scheme else ""), parts.hostname or ""
    except ValueError:
        return "", ""


def _url(match: re.Match[str]) -> str:
    """A link as the screening reads one (with or without a scheme, a bare
    name.tld, an address), unless it carries credentials: then its host
    alone, the sentence's punctuation after it kept."""
    found = match.group(0)
    url = found.rstrip(_TRAILING)
    if not _carries_credentials(url):
        return found
    scheme, host = _host(url)
    kept = f"{scheme}{host}/" if host else ""
    return f"{kept}[link with credentials removed]{found[len(url) :]}"


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
