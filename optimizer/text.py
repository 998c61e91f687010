"""Text helpers shared by the limits, the SEO score and the heuristic engine.

Why our own: the jobs here are small and YouTube-specific (its chapter
rules, its timestamp format, the ``[h:mm:ss] text`` transcript lines that
``optimizer.youtube.transcripts`` writes). An NLP library (nltk, spaCy) would
bring models and data files for what a few regular expressions do
deterministically, and determinism is what the heuristic engine promises.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being below between both
    but by can could did do does doing don't down during each even ever every everything few for from further get
    gets getting go goes going gonna got had has have having he her here here's hers him his how i i'd i'll i'm i've
    if in into is it it's its itself just let let's like lot lots made make makes making maybe me more most much my
    need needs no nor not now of off ok okay on once one only or other our ours out over own really right same see
    she should so some something still such than that that's the their theirs them then there there's these they
    thing things think this those through to today too um uh under until up us very want was way we we'll we're
    we've well were what what's when where which while who why will with would yeah yes you you'd you'll you're
    you've your yours""".split()
) | frozenset(
    # Spoken filler and all-purpose verbs: frequent in transcripts, never a topic.
    """actually ahead almost already always anything around away back basically bit call called change came come
    definitely else end enough everyone feel find found give gave guys honestly instead keep keeps kept kind
    literally little look looks looking mean means never nothing often pretty probably put said say says show
    shows someone sometimes sort start started stuff sure take takes took tell told together try tried use used
    using usually wanna whatever whole yet two three four five six seven eight nine ten first second
    aren't can't couldn't didn't doesn't don't hadn't hasn't haven't isn't shouldn't wasn't weren't won't
    wouldn't day days time times week weeks minute minutes hour hours year years seconds""".split()
)
# Hype words that make a poor keyword on their own or at the start of one.
WEAK_WORDS = frozenset(
    "amazing awesome best complete crazy easy epic full great guide insane new official perfect quick simple "
    "super top ultimate video videos episode part recipe tutorial".split()
)
# Allowed inside a three-word phrase ("cooking for beginners").
CONNECTORS = frozenset({"of", "for", "and", "with", "in", "on", "to"})

_WORD = re.compile(r"[\w'’-]+")
_SEGMENT_BREAK = re.compile(r"[.!?;:,|()\[\]{}\"“”/\\–—•]+|\s-\s|\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_CUE = re.compile(r"^\s*\[(\d{1,2}(?::\d{1,2}){1,2})(?:[.,]\d+)?\]\s*(.*)$")
_CHAPTER_LINE = re.compile(r"^\s*[(\[]?((?:\d{1,2}:)?\d{1,2}:\d{2})[)\]]?\s*[-–—:|.)]?\s*(.*)$")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EPISODE = re.compile(r"\s*[|:\-–—•]?\s*\b(?:episode|ep)\.?\s*#?\s*\d+\b|\s*#\d+\b", re.IGNORECASE)
_BRACKET = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]")
# What tells one video of a series from the next: "Episode 124", "Ep. 12",
# "#132", "Part 3", "Day 5", "S2E5", "Vol. 2"; a title that drops it makes
# every episode's title the same.
_SERIAL = re.compile(
    r"\b(?:episode|ep|part|pt|day|week|vol|volume|chapter|ch|season|lesson|round|level|game|session|no)\.?\s*#?\s*\d+\b"
    r"|\bs\d{1,2}\s*e\d{1,3}\b|(?<![\w&])#\d+\b",
    re.IGNORECASE,
)
TITLE_SEPARATORS = " |-–—:•,;/"
_TRAILING_JUNK = " \t\n,;:|-–—/\\&+([{\"'“‘"


@dataclass(frozen=True)
class Cue:
    """One transcript line: when it starts (None without a timestamp) and what is said."""

    start: int | None
    text: str


@dataclass(frozen=True)
class Chapter:
    """A chapter as YouTube reads it from a description line like ``1:05 Prep``."""

    seconds: int
    title: str

    @property
    def start(self) -> str:
        return format_timestamp(self.seconds)


def squash_spaces(text: str) -> str:
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """Lower-cased word tokens; hyphenated words and contractions stay whole."""
    tokens = (token.strip("'’-").casefold().replace("’", "'") for token in _WORD.findall(text))
    return [token for token in tokens if token]


def is_meaningful(word: str) -> bool:
    """A word worth searching for: not a stopword, not a number, not a stray letter."""
    return word not in STOPWORDS and not word.replace("-", "").isdigit() and (len(word) >= 3 or not word.isascii())


def urls(text: str) -> list[str]:
    return _URL.findall(text)


def has_url(text: str) -> bool:
    return bool(_URL.search(text))


def _phrase_pattern(phrase: str) -> str | None:
    parts = phrase.split()
    if not parts:
        return None
    return r"(?<![\w'’-])" + r"\s+".join(re.escape(part) for part in parts) + r"(?![\w'’-])"


def _phrase_match(text: str, phrase: str) -> re.Match[str] | None:
    pattern = _phrase_pattern(phrase)
    return re.search(pattern, text, re.IGNORECASE) if pattern else None


def find_phrase(text: str, phrase: str) -> int:
    """Where ``phrase`` starts in ``text`` as whole words, ignoring case and
    spacing; -1 when absent. Whole words, so "pan" is not found in "pancakes"."""
    match = _phrase_match(text, phrase)
    return match.start() if match else -1


def matched_phrase(text: str, phrase: str) -> str | None:
    """The phrase as ``text`` writes it (its casing), or None."""
    match = _phrase_match(text, phrase)
    return match.group(0) if match else None


def count_phrase(text: str, phrase: str) -> int:
    pattern = _phrase_pattern(phrase)
    return len(re.findall(pattern, text, re.IGNORECASE)) if pattern else 0


def phrase_ends_within(text: str, phrase: str, limit: int) -> bool:
    """True when the phrase's first appearance ends inside the first ``limit`` characters."""
    match = _phrase_match(text, phrase)
    return match is not None and match.end() <= limit


def segments(text: str) -> list[list[str]]:
    """Word runs between punctuation, so a phrase never spans two sentences or a bracket."""
    return [found for part in _SEGMENT_BREAK.split(text) if (found := words(part))]


def _phrase_spans(tokens: list[str], max_words: int) -> Iterable[tuple[int, int]]:
    """(start, size) of each phrase worth counting: meaningful first and last
    words, no hype word first, only connectors ("for", "of") in between."""
    for size in range(1, max_words + 1):
        for i in range(len(tokens) - size + 1):
            gram = tokens[i : i + size]
            first, last, middle = gram[0], gram[-1], gram[1:-1]
            if not (is_meaningful(first) and is_meaningful(last)) or first in WEAK_WORDS:
                continue
            if all(is_meaningful(w) or w in CONNECTORS for w in middle):
                yield i, size


@dataclass(frozen=True)
class RankedPhrase:
    text: str
    score: float
    count: int  # how often it was seen, unweighted


def _last_meaningful(tokens: list[str]) -> int:
    return max((i for i, token in enumerate(tokens) if is_meaningful(token)), default=-1)


def rank_phrases(weighted_texts: Iterable[tuple[str, float]], max_words: int = 3) -> list[RankedPhrase]:
    """Meaningful 1-3 word phrases, best first: weighted frequency times the
    number of words (a longer phrase seen as often is more specific), a tenth
    more when the phrase ends a run of words, to break ties the English way
    (the head noun comes last: "lemon garlic chicken" over "one-pan lemon
    garlic"). Remaining ties go to the phrase seen first: deterministic."""
    scores: defaultdict[str, float] = defaultdict(float)
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for text, weight in weighted_texts:
        for tokens in segments(text):
            head = _last_meaningful(tokens)
            for start, size in _phrase_spans(tokens, max_words):
                phrase = " ".join(tokens[start : start + size])
                scores[phrase] += weight * (1.1 if start + size - 1 == head else 1.0)
                counts[phrase] += 1
                first_seen.setdefault(phrase, len(first_seen))
    ranked = [RankedPhrase(p, total * len(p.split()), counts[p]) for p, total in scores.items()]
    return sorted(ranked, key=lambda item: (-item.score, first_seen[item.text]))


def sentences(text: str) -> list[str]:
    return [s for part in _SENTENCE_END.split(text) if (s := squash_spaces(part))]


def first_clause(text: str) -> str:
    return squash_spaces(re.split(r"[.!?;,:…]", text, maxsplit=1)[0])


def is_hard_boundary(char: str) -> bool:
    """Characters that must not start the cut-off part: combining marks, joiners,
    variation selectors, skin-tone modifiers and flag tags belong to the
    character before them."""
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or char in "\u200d\ufe0e\ufe0f"
        or "\U0001f3fb" <= char <= "\U0001f3ff"
        or "\U000e0020" <= char <= "\U000e007f"
    )


def safe_cut(text: str, end: int) -> str:
    """``text[:end]`` without leaving a base letter cut from its accent or an emoji half-joined."""
    end = max(0, min(end, len(text)))
    while 0 < end < len(text) and (is_hard_boundary(text[end]) or text[end - 1] == "\u200d"):
        end -= 1
    return text[:end]


def strip_fragment(text: str) -> str:
    """Drop what a cut leaves dangling: separators, open brackets, a trailing comma."""
    text = text.rstrip(_TRAILING_JUNK)
    for opener, closer in ("()", "[]", "{}"):
        if text.count(opener) > text.count(closer):
            text = text[: text.rfind(opener)].rstrip(_TRAILING_JUNK)
    return text


def truncate_words(text: str, limit: int, length: Callable[[str], int] = len) -> str:
    """The longest start of ``text`` within ``limit`` (as measured by ``length``)
    that ends at a word boundary and not on a separator. One over-long word
    is cut hard, at a character boundary."""
    if length(text) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:  # longest prefix that fits the measure
        mid = (low + high + 1) // 2
        low, high = (mid, high) if length(text[:mid]) <= limit else (low, mid - 1)
    prefix = text[:low]
    space = max(prefix.rfind(" "), prefix.rfind("\n"), prefix.rfind("\t"))
    if text[low : low + 1].isspace():
        space = low
    cut = strip_fragment(prefix[:space]) if space > 0 else ""
    return cut or strip_fragment(safe_cut(text, low)) or safe_cut(text, low)


def format_timestamp(seconds: int) -> str:
    """YouTube's chapter format: 0:00, 12:05, 1:02:03."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def parse_timestamp(stamp: str) -> int:
    seconds = 0
    for part in stamp.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def parse_transcript(transcript: str | None) -> list[Cue]:
    """Cues from ``[h:mm:ss] text`` lines. Lines without a stamp continue the
    cue before them; a transcript with no stamps at all is one cue with no start."""
    parts: list[tuple[int | None, list[str]]] = []
    for raw in (transcript or "").splitlines():
        match = _CUE.match(raw)
        if match:
            parts.append((parse_timestamp(match.group(1)), [match.group(2)]))
        elif raw.strip():
            if not parts:
                parts.append((None, []))
            parts[-1][1].append(raw)
    cues = (Cue(start, squash_spaces(" ".join(texts))) for start, texts in parts)
    return [cue for cue in cues if cue.text]


def transcript_text(cues: list[Cue]) -> str:
    return " ".join(cue.text for cue in cues)


def chapter_line(line: str) -> Chapter | None:
    match = _CHAPTER_LINE.match(line)
    if not match:
        return None
    return Chapter(parse_timestamp(match.group(1)), squash_spaces(match.group(2)))


def chapters_in(description: str) -> list[Chapter]:
    """Every line that starts with a timestamp, in order, as YouTube would read it."""
    return [chapter for line in (description or "").splitlines() if (chapter := chapter_line(line))]


MIN_CHAPTERS = 3
MIN_CHAPTER_SECONDS = 10


def chapter_problem(chapters: list[Chapter]) -> str | None:
    """Why YouTube would not show these chapters, or None when it will: at least
    three, the first at 0:00, ascending, each at least 10 seconds long."""
    if not chapters:
        return "There are no chapter timestamps."
    if chapters[0].seconds != 0:
        return f"The first chapter starts at {chapters[0].start}; YouTube needs it at 0:00."
    if len(chapters) < MIN_CHAPTERS:
        return f"There are {len(chapters)} chapters; YouTube needs at least {MIN_CHAPTERS}."
    for before, after in zip(chapters, chapters[1:], strict=False):
        if after.seconds <= before.seconds:
            return f"Chapter {after.start} comes after {before.start}; timestamps must go up."
        if after.seconds - before.seconds < MIN_CHAPTER_SECONDS:
            return f"Chapter {after.start} is less than {MIN_CHAPTER_SECONDS} seconds after {before.start}."
    return None


def _capitalised(word: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in word.split("-"))


def title_case(phrase: str) -> str:
    """Capitalise a keyword for a title ("no-knead bread" -> "No-Knead Bread"),
    leaving small words and acronyms alone."""
    small = {"a", "an", "and", "as", "at", "for", "in", "of", "on", "or", "the", "to", "vs", "with"}
    out = []
    for i, word in enumerate(phrase.split()):
        keep = word.isupper() or (i and word.casefold() in small)
        out.append(word if keep else _capitalised(word))
    return " ".join(out)


def _drop_repeated_brackets(title: str) -> str:
    seen: set[str] = set()

    def keep_first(match: re.Match[str]) -> str:
        key = squash_spaces(match.group(1)).casefold()
        if key in seen or not key:
            return ""
        seen.add(key)
        return match.group(0)

    return _BRACKET.sub(keep_first, title)


def _soften_caps(title: str) -> str:
    """ALL-CAPS shouting becomes Title Case; a lone acronym (NASA, DIY) stays."""
    shouting = [w for w in re.findall(r"[^\W\d_]{4,}", title) if w.isupper()]
    letters = [c for c in title if c.isalpha()]
    mostly_upper = len(letters) >= 8 and sum(c.isupper() for c in letters) > 0.6 * len(letters)
    if len(shouting) < 2 and not mostly_upper:
        return title

    def soften(match: re.Match[str]) -> str:
        word = match.group(0)
        loud = word.isupper() and (len(word) >= 4 or word.casefold() in STOPWORDS)
        return word.capitalize() if loud else word

    return re.sub(r"[^\W\d_]{2,}", soften, title)


def serial_marker(title: str) -> str:
    """The part of a title that numbers it within a series ("Episode 124",
    "#132", "Part 3"), as the creator wrote it; "" when there is none."""
    return " ".join(squash_spaces(found.group(0)) for found in _SERIAL.finditer(title or ""))


def clean_title(title: str) -> str:
    """The creator's title without filler: episode numbers, repeated bracket
    tags, runs of !!! and ???, and shouting."""
    text = squash_spaces(re.sub(r"[<>]", " ", title or ""))
    text = _drop_repeated_brackets(_EPISODE.sub("", text))
    text = re.sub(r"([!?])[!?]+", r"\1", text)
    text = re.sub(r"\.{4,}", "...", text)
    return squash_spaces(_soften_caps(text)).strip(TITLE_SEPARATORS)
