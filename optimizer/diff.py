"""Word-level differences between two metadata versions, for the Compare page.

difflib works on any sequence, so it runs on word tokens (each word with the
whitespace that follows it, so the joined pieces rebuild both texts exactly) and on tag
lists (a tag is one token). The result is plain data: the template wraps the
pieces in <ins>/<del> and autoescapes every one of them, because the text
comes from YouTube, users or Claude and is never markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

# A word with the whitespace after it is one token (leading whitespace alone):
# whitespace-only tokens repeat so often that matching them made a long
# description's diff about 15 times slower.
_TOKEN = re.compile(r"\s+|\S+\s*")


@dataclass(frozen=True)
class Piece:
    op: str  # 'equal', 'delete' (only in the older version) or 'insert' (only in the newer)
    tokens: tuple[str, ...]

    @property
    def text(self) -> str:
        return "".join(self.tokens)


def diff_tokens(old: list[str], new: list[str]) -> list[Piece]:
    """Pieces that read as ``old`` without inserts and as ``new`` without deletes."""
    # autojunk off: in long descriptions common words would otherwise be ignored.
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    pieces: list[Piece] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("equal", "delete", "replace") and i2 > i1:
            pieces.append(Piece("equal" if op == "equal" else "delete", tuple(old[i1:i2])))
        if op in ("insert", "replace") and j2 > j1:
            pieces.append(Piece("insert", tuple(new[j1:j2])))
    return pieces


def diff_text(old: str, new: str) -> list[Piece]:
    return diff_tokens(_TOKEN.findall(old or ""), _TOKEN.findall(new or ""))


def diff_version(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Piece]]:
    """Title, description and tags of two metadata_versions rows."""
    return {
        "title": diff_text(old["title"], new["title"]),
        "description": diff_text(old["description"], new["description"]),
        "tags": diff_tokens(list(old["tags"] or []), list(new["tags"] or [])),
    }
