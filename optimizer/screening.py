"""The one filter between untrusted text and a video's public fields.

Suggestions are built from text nobody here wrote: transcripts (anyone who
speaks in a video), keyword research (search autocomplete, other channels'
titles) and Claude's answers (which can repeat what a transcript told it).
Before a suggestion is stored, whatever engine made it, ``screen`` removes
from its public fields (titles, description, tags, primary keyword,
chapter titles) anything that should never be published on the creator's
behalf:

- markup: HTML tags, event-handler attributes, script URLs, entities;
- URLs the creator's own title and description did not already hold;
- instructions addressed to a model ("ignore previous instructions",
  "as an AI", "system prompt" and their kin), unless the creator's own
  text already says the same words (a video *about* prompt injection);
- personal data (email addresses, phone numbers) the creator's own text
  did not already hold.

And it keeps, word for word, the lines of the creator's description that
hold their contact details, links and credits, appending any the engine
dropped. Every removal is returned with its reason, so the review can say
what was taken out and why.

Tags and the keyword are judged strictly (a tag holding a URL, markup or
odd punctuation is dropped whole); titles are dropped whole when tainted;
descriptions lose only the sentences that are tainted.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from optimizer import limits
from optimizer.text import chapter_line, chapter_problem, chapters_in, squash_spaces, truncate_words
from optimizer.untrusted import EMAIL, INSTRUCTION, MARKUP, SPLIT_INSTRUCTION, URL, normalise, phones, readings

FIELDS = {
    "title": "A title",
    "description": "From the description",
    "tags": "A tag",
    "primary_keyword": "The keyword",
    "chapters": "A chapter title",
}
REASONS = {
    "markup": "it held markup (HTML or script), which YouTube would show as raw text",
    "url": "it held a link that your title and description do not already have",
    "instruction": "it reads like an instruction to an AI, not text for viewers",
    "personal_data": "it held an email address or phone number that your description does not already have",
}

# Besides letters, digits, marks and spaces, the punctuation real topics
# use in a tag or keyword ("c++", "q&a", "rock 'n' roll", "node.js").
_TAG_PUNCTUATION = frozenset("'’&+#.-!?:")
_CREDIT = re.compile(
    r"\b(?:credits?|music|song|track|beat|footage|thumbnail|edited|filmed|shot|produced|directed|animation|"
    r"licensed?|licence|copyright|sponsor(?:ed)?|featuring|feat\.|thanks to|courtesy|contact|business|"
    r"inquiries|enquiries|e-?mail|booking|instagram|twitter|tiktok|patreon|discord)\b|©|®",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True)
class Removal:
    """One thing the filter took out of a suggestion, and why."""

    field: str  # title, description, tags, primary_keyword, chapters
    text: str
    reason: str  # a key of REASONS

    @property
    def explanation(self) -> str:
        return REASONS[self.reason]


@dataclass(frozen=True)
class Known:
    """What the creator's video already says in public: the baseline that
    decides whether a URL, an email or an instruction-like phrase is new."""

    text: str
    description: str

    @classmethod
    def of(cls, title: str | None, description: str | None) -> Known:
        return cls(text=normalise(f"{title or ''}\n{description or ''}"), description=description or "")

    @functools.cached_property
    def words(self) -> str:
        """``text`` with whatever stands between words read as one space."""
        return _words_only(self.text)

    def urls(self) -> set[str]:
        return {_url_key(m.group(0)) for m in URL.finditer(EMAIL.sub(" ", self.text))}

    def emails(self) -> set[str]:
        return {m.group(0).casefold() for m in EMAIL.finditer(self.text)}

    def phones(self) -> set[str]:
        return {_digits(number) for number in phones(self.text)}


def _url_key(url: str) -> str:
    key = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip().casefold())
    key = key.removeprefix("www.")
    return key.rstrip(".,;:!?)]}'\"/")


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _odd_character(text: str) -> bool:
    return any(not (unicodedata.category(ch)[0] in "LMN" or ch.isspace() or ch in _TAG_PUNCTUATION) for ch in text)


def problem(text: str, known: Known, *, strict: bool = False) -> str | None:
    """Why ``text`` must not be published (a key of REASONS), or None.
    ``strict`` is for tags and keywords: never a link or an address, even
    the creator's own, and any odd punctuation counts as markup."""
    for reading in readings(text):
        if reason := _problem(reading, known, strict):
            return reason
    return None


def _problem(text: str, known: Known, strict: bool) -> str | None:
    if any(strict or m.group(0).casefold() not in known.emails() for m in EMAIL.finditer(text)):
        return "personal_data"
    without_emails = EMAIL.sub(" ", text)
    if any(strict or _url_key(m.group(0)) not in known.urls() for m in URL.finditer(without_emails)):
        return "url"
    if any(strict or _digits(number) not in known.phones() for number in phones(without_emails)):
        return "personal_data"
    if MARKUP.search(text) or (strict and _odd_character(text)):
        return "markup"
    for pattern, reading, creators in (
        (INSTRUCTION, text, known.text),
        (SPLIT_INSTRUCTION, _words_only(text), known.words),
    ):
        for match in pattern.finditer(reading):
            if squash_spaces(match.group(0)).casefold() not in squash_spaces(creators).casefold():
                return "instruction"
    return None


_BETWEEN_WORDS = re.compile(r"[\W_]+")


def _words_only(text: str) -> str:
    """The words of ``text`` with whatever stands between them read as one
    space, for SPLIT_INSTRUCTION: "Developer – Mode" or
    "ignore | previous_instructions" as a model would read them."""
    return _BETWEEN_WORDS.sub(" ", text)


def is_publishable(text: str, known: Known, *, strict: bool = False) -> bool:
    """For engines that choose among candidates: skip what ``screen`` would remove."""
    return problem(text, known, strict=strict) is None


def _short(text: str, limit: int = 80) -> str:
    return truncate_words(squash_spaces(text), limit) + ("…" if len(squash_spaces(text)) > limit else "")


def _screen_titles(
    titles: list[dict[str, Any]], known: Known, current_title: str, removed: list[Removal]
) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    for option in titles:
        raw = str(option.get("title", ""))
        if reason := problem(raw, known):
            removed.append(Removal("title", _short(raw), reason))
        elif title := limits.fit_title(raw, fallback=""):
            kept.append({**option, "title": title})
    if not kept:
        kept.append(
            {
                "title": limits.fit_title(current_title),
                "rationale": "Your current title: every suggested title was removed (see below).",
            }
        )
    return kept


def _screen_tags(tags: list[str], known: Known, removed: list[Removal]) -> list[str]:
    kept = []
    for tag in tags:
        if reason := problem(str(tag), known, strict=True):
            removed.append(Removal("tags", _short(str(tag), 60), reason))
        else:
            kept.append(tag)
    return kept


def _screen_keyword(keyword: str, known: Known, removed: list[Removal]) -> str:
    if keyword and (reason := problem(keyword, known, strict=True)):
        removed.append(Removal("primary_keyword", _short(keyword, 60), reason))
        return ""
    return keyword


def _screen_chapter_line(line: str, index: int, known: Known, removed: list[Removal]) -> str:
    chapter = chapter_line(line)
    if chapter is None:
        return line
    if reason := problem(chapter.title, known):
        removed.append(Removal("chapters", _short(chapter.title, 60), reason))
        return f"{chapter.start} {'Intro' if chapter.seconds == 0 else f'Part {index + 1}'}"
    return line


def _screen_prose_line(line: str, known: Known, removed: list[Removal]) -> str:
    if not problem(line, known):
        return line
    kept = []
    for sentence in _SENTENCE.split(line):
        if reason := problem(sentence, known):
            removed.append(Removal("description", _short(sentence), reason))
        else:
            kept.append(sentence)
    return " ".join(kept)


def creator_lines(description: str) -> list[str]:
    """The lines of the creator's description that hold contact details,
    links and credits: kept word for word in any suggestion."""
    lines = []
    for line in (description or "").splitlines():
        text = line.strip()
        plain = normalise(text)
        if text and (
            URL.search(plain)
            or EMAIL.search(plain)
            or phones(plain)
            or re.match(r"^[@#]\w", text)
            or _CREDIT.search(text)
        ):
            lines.append(text)
    return lines


def _screen_description(description: str, known: Known, removed: list[Removal]) -> str:
    own = {line.strip() for line in known.description.splitlines() if line.strip()}
    out, chapter_index = [], 0
    for line in description.splitlines():
        chapter = chapter_line(line)
        if line.strip() in own:
            out.append(line)  # the creator's own line, as it was
        elif chapter is not None and chapter.title:
            out.append(_screen_chapter_line(line, chapter_index, known, removed))
            chapter_index += 1
        else:
            out.append(_screen_prose_line(line, known, removed))
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
    return _with_creator_lines(text, creator_lines(known.description))


def _with_creator_lines(text: str, lines: list[str]) -> str:
    """Append the creator's contact, link and credit lines the engine left
    out, cutting the suggested part (never those lines) to fit 5,000 bytes."""
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in lines if line not in present]
    if not missing:
        return limits.fit_description(text)
    block = "\n".join(missing)
    room = limits.DESCRIPTION_MAX_BYTES - limits.utf8_length(block) - 2
    body = limits.fit_description(text)
    if limits.utf8_length(body) > room:
        cut = body.encode("utf-8")[: max(room, 0)].decode("utf-8", "ignore")
        body = cut[: max(cut.rfind("\n"), cut.rfind(" "), 0)].rstrip()
    return limits.fit_description(f"{body}\n\n{block}" if body else block)


def screen(answer: dict[str, Any], *, title: str, description: str) -> tuple[dict[str, Any], list[Removal]]:
    """``answer`` (either engine's JSON) with every public field filtered
    against the creator's current ``title`` and ``description``, and what
    was removed. Run on every suggestion before it is stored."""
    known = Known.of(title, description)
    removed: list[Removal] = []
    screened = dict(answer)
    screened["titles"] = _screen_titles(list(answer.get("titles") or []), known, title, removed)
    screened["tags"] = _screen_tags(list(answer.get("tags") or []), known, removed)
    screened["primary_keyword"] = _screen_keyword(str(answer.get("primary_keyword") or ""), known, removed)
    screened["description"] = _screen_description(str(answer.get("description") or ""), known, removed)
    chapters = chapters_in(screened["description"])
    screened["chapters"] = (
        [{"start": c.start, "title": c.title} for c in chapters]
        if chapters and chapter_problem(chapters) is None
        else []
    )
    return screened, removed


def removals_json(removed: list[Removal]) -> list[dict[str, str]]:
    return [asdict(item) for item in removed]
