"""YouTube's limits on a video's title, description and tags: the one place
they are written down, used to check a suggestion (from Claude, from the
heuristic engine, or typed by the creator) and to repair it before it is
stored or sent, because ``videos.update`` refuses the whole snippet when
one field is out of bounds.

The limits (YouTube Data API v3, ``videos`` resource, and FACTS.md):

- title: 1 to 100 characters, no ``<`` or ``>``;
- description: at most 5,000 bytes of UTF-8, no ``<`` or ``>``;
- tags: at most 500 characters in all, where each comma between two tags
  counts and a tag containing a space counts as if quoted (2 more):
  ``Σ(len(tag) + 2 if ' ' in tag) + (number of tags - 1)``.

Choices where the documentation is silent (each one the safe side):

- Characters are counted in UTF-16 code units (``utf16_length``): an emoji
  outside the Basic Multilingual Plane counts 2, not 1 as in ``len()``. The
  API reference says "characters" without defining them, and we could not
  check which count YouTube applies; a UTF-16 count is never smaller than a
  code-point count, so text within ours is within either reading. The cost:
  an emoji-heavy title may be cut a few characters early.
- A single tag is at most 100 characters. This is not in the API reference;
  third-party guides report it (unverified), and no useful tag is longer.
- A tag must not contain ``,`` (it would be read as two tags) or ``"`` (the
  server wraps tags with spaces in quotes), nor control characters.
  Duplicates are refused case-insensitively, as YouTube keeps one of them.
- Control characters (and lone surrogates, which UTF-8 cannot encode) are
  refused everywhere except line breaks and tabs in the description; a title
  is one line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from optimizer.text import safe_cut, squash_spaces, truncate_words

TITLE_MAX_CHARS = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX_CHARS = 500
TAG_MAX_CHARS = 100
FORBIDDEN = "<>"
TAG_FORBIDDEN = '<>,"'
FALLBACK_TITLE = "Untitled video"


@dataclass(frozen=True)
class Problem:
    """One reason YouTube would refuse the metadata, worded for the creator."""

    field: str  # 'title', 'description' or 'tags'
    code: str
    message: str


def utf16_length(text: str) -> int:
    """Length as YouTube counts it (see the module docstring)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf8_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def tag_length(tag: str) -> int:
    """One tag's share of the budget; any whitespace (not only U+0020) is
    taken to trigger the quotes, the safe reading."""
    return utf16_length(tag) + (2 if any(char.isspace() for char in tag) else 0)


def tags_length(tags: list[str]) -> int:
    """YouTube's count for the 500-character budget: quotes around a tag with a
    space, plus one comma between each two tags."""
    if not tags:
        return 0
    return sum(tag_length(tag) for tag in tags) + len(tags) - 1


def _is_control(char: str, allowed: str = "") -> bool:
    return char not in allowed and unicodedata.category(char) in ("Cc", "Cs")


def _has_control(text: str, allowed: str = "") -> bool:
    return any(_is_control(char, allowed) for char in text)


def _quoted(text: str, limit: int = 40) -> str:
    return "“" + (text if len(text) <= limit else text[: limit - 1] + "…") + "”"


def _title_problems(title: str) -> list[Problem]:
    problems = []
    if not title.strip():
        problems.append(Problem("title", "title_empty", "The title is empty; YouTube needs one."))
    if (length := utf16_length(title)) > TITLE_MAX_CHARS:
        problems.append(
            Problem(
                "title",
                "title_too_long",
                f"The title is {length} characters; YouTube allows {TITLE_MAX_CHARS} (an emoji counts as 2).",
            )
        )
    if any(char in title for char in FORBIDDEN):
        problems.append(
            Problem("title", "title_angle_brackets", "Remove < and > from the title; YouTube refuses them.")
        )
    if _has_control(title):
        problems.append(
            Problem(
                "title",
                "title_control_characters",
                "The title must be one line without invisible control characters.",
            )
        )
    return problems


def description_problems(description: str) -> list[Problem]:
    problems = []
    if (size := utf8_length(description)) > DESCRIPTION_MAX_BYTES:
        problems.append(
            Problem(
                "description",
                "description_too_long",
                f"The description is {size:,} bytes; YouTube allows {DESCRIPTION_MAX_BYTES:,} "
                "(accented letters take 2 bytes, emoji 4).",
            )
        )
    if any(char in description for char in FORBIDDEN):
        problems.append(
            Problem(
                "description",
                "description_angle_brackets",
                "Remove < and > from the description; YouTube refuses them.",
            )
        )
    if _has_control(description, "\n\r\t"):
        problems.append(
            Problem(
                "description",
                "description_control_characters",
                "The description contains invisible control characters; remove them.",
            )
        )
    return problems


def _tag_problem(tag: str, seen: set[str]) -> Problem | None:
    if not isinstance(tag, str):
        return Problem("tags", "tag_not_text", f"The tag {tag!r} is not text.")
    if not tag.strip():
        return Problem("tags", "tag_empty", "Remove the empty tag.")
    if utf16_length(tag) > TAG_MAX_CHARS:
        return Problem("tags", "tag_too_long", f"The tag {_quoted(tag)} is longer than {TAG_MAX_CHARS} characters.")
    if any(char in tag for char in TAG_FORBIDDEN) or _has_control(tag):
        return Problem(
            "tags",
            "tag_forbidden_characters",
            f"The tag {_quoted(tag)} contains a comma, quote, < or >; split it or remove them.",
        )
    key = tag.strip().casefold()
    if key in seen:
        return Problem("tags", "tag_duplicate", f"The tag {_quoted(tag)} is listed twice; keep one.")
    seen.add(key)
    return None


def _tags_problems(tags: list[str]) -> list[Problem]:
    seen: set[str] = set()
    problems = [problem for tag in tags if (problem := _tag_problem(tag, seen))]
    if (total := tags_length([str(tag) for tag in tags])) > TAGS_MAX_CHARS:
        problems.append(
            Problem(
                "tags",
                "tags_too_long",
                f"The tags use {total} of YouTube's {TAGS_MAX_CHARS} characters (each comma between tags counts, "
                "and a tag with a space counts 2 more); remove the least useful ones.",
            )
        )
    return problems


def validate(title: str, description: str, tags: list[str]) -> list[Problem]:
    """Every reason YouTube would refuse this metadata; empty when it is fine."""
    return _title_problems(title or "") + description_problems(description or "") + _tags_problems(list(tags or []))


def _without(text: str, chars: str) -> str:
    return "".join(char for char in text if char not in chars)


def clean_line(text: str) -> str:
    """One line: control characters become spaces, angle brackets go, spacing is even."""
    text = "".join(" " if _is_control(char) else char for char in text)
    return squash_spaces(_without(text, FORBIDDEN))


def clean_phrase(phrase: str) -> str:
    """A keyword or tag as one clean line: no commas, quotes, brackets or controls."""
    return clean_line(re.sub(r"[,\"]", " ", str(phrase)))


def fit_title(title: str, fallback: str = FALLBACK_TITLE) -> str:
    """A title YouTube accepts: one line, no angle brackets, at most 100
    characters cut at a word boundary without a dangling separator."""
    fitted = truncate_words(clean_line(title or ""), TITLE_MAX_CHARS, utf16_length).strip()
    return fitted or truncate_words(clean_line(fallback), TITLE_MAX_CHARS, utf16_length).strip() or FALLBACK_TITLE


def _clean_description(description: str) -> str:
    text = (description or "").replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(char for char in text if not _is_control(char, "\n\t"))
    return _without(text, FORBIDDEN).strip()


def _last_boundary(prefix: str) -> int:
    """Where to cut a too-long description: the last paragraph break, else the
    last sentence end, else the last space, as long as it keeps at least half."""
    half = len(prefix) // 2
    paragraph = prefix.rfind("\n\n")
    if paragraph >= half:
        return paragraph
    ends = [i + 1 for i, char in enumerate(prefix) if char in ".!?…\n" and prefix[i + 1 : i + 2] in (" ", "\n", "")]
    if ends and ends[-1] >= half:
        return ends[-1]
    space = max(prefix.rfind(" "), prefix.rfind("\n"))
    return space if space >= half else len(prefix)


def fit_description(description: str) -> str:
    """A description within 5,000 bytes of UTF-8, cut at a paragraph or sentence
    and never inside a multibyte character or between a letter and its accent."""
    text = _clean_description(description)
    if utf8_length(text) <= DESCRIPTION_MAX_BYTES:
        return text
    whole_chars = text.encode("utf-8")[:DESCRIPTION_MAX_BYTES].decode("utf-8", "ignore")
    prefix = safe_cut(text, len(whole_chars))
    return prefix[: _last_boundary(prefix)].rstrip()


def _clean_tag(tag: str) -> str:
    return clean_line(_without(str(tag), TAG_FORBIDDEN))


def fit_tags(tags: list[str]) -> list[str]:
    """Clean tags in their order of priority: forbidden characters removed,
    empty, over-long and repeated tags dropped, then the last tags dropped
    until the whole list fits YouTube's 500-character count."""
    kept, seen = [], set()
    for tag in tags or []:
        cleaned = _clean_tag(tag)
        key = cleaned.casefold()
        if cleaned and utf16_length(cleaned) <= TAG_MAX_CHARS and key not in seen:
            kept.append(cleaned)
            seen.add(key)
    while tags_length(kept) > TAGS_MAX_CHARS:
        kept.pop()
    return kept


def fit(title: str, description: str, tags: list[str]) -> tuple[str, str, list[str]]:
    """Repair a suggestion so that ``validate`` finds nothing wrong with it."""
    return fit_title(title), fit_description(description), fit_tags(tags)
