"""Chapters from a transcript's timed cues, for the rule-based engine
(optimizer/heuristic.py): the first at 0:00, a short title from what is
said at each, spread over the video, as YouTube shows them (at least 3,
each at least 10 seconds long: optimizer/text.py's chapter_problem)."""

from __future__ import annotations

import re

from optimizer.limits import clean_phrase
from optimizer.text import Chapter, Cue, chapter_problem, first_clause, is_meaningful, truncate_words, words

MAX_CHAPTERS, CHAPTER_TITLE_WORDS = 10, 6

# What a greeting or a goodbye sounds like: such a cue is "Intro" or "Wrap-up"
# (and the engine's summary leaves such sentences out).
GREETING = re.compile(
    r"^(hi|hey|hello|yo|welcome|what's up|whats up|good (morning|afternoon|evening)|let's get started|"
    r"let's go|let's dive|alright|okay so|so yeah)\b",
    re.IGNORECASE,
)
OUTRO = re.compile(
    r"^(and )?(that's it|that's all|thanks for watching|thank you for watching|see you|bye|let me know|"
    r"don't forget|make sure to|like and subscribe|hit the)\b",
    re.IGNORECASE,
)
_LEAD_FILLER = re.compile(
    r"^((so|okay|ok|now|and|alright|well|um|uh|right|but|then|also|next)\b[\s,]*)+", re.IGNORECASE
)


def _ends_meaningfully(token: str) -> bool:
    found = words(token)
    return bool(found) and is_meaningful(found[-1])


def _chapter_title(cue: Cue) -> str | None:
    """A short title from what is said: the first clause, filler and trailing
    small words dropped; "Intro" and "Wrap-up" for greetings and goodbyes."""
    if GREETING.match(cue.text):
        return "Intro"
    if OUTRO.match(cue.text):
        return "Wrap-up"
    tokens = _LEAD_FILLER.sub("", first_clause(cue.text)).split()[:CHAPTER_TITLE_WORDS]
    while tokens and not _ends_meaningfully(tokens[-1]):
        tokens.pop()
    title = truncate_words(clean_phrase(" ".join(tokens)), 60)
    return title[:1].upper() + title[1:] if title else None


def _pick_chapters(cues: list[Cue], end: int, gap: int) -> list[Chapter]:
    chapters: list[Chapter] = [Chapter(0, _chapter_title(cues[0]) or "Intro")]
    for cue in cues[1:]:
        start = cue.start or 0
        if start - chapters[-1].seconds < gap or start > end - 10 or len(chapters) == MAX_CHAPTERS:
            continue
        title = _chapter_title(cue)
        if title and title.casefold() not in {c.title.casefold() for c in chapters}:
            chapters.append(Chapter(start, title))
    return chapters


def build_chapters(cues: list[Cue], duration: int | None) -> list[Chapter]:
    """Chapters from timestamped cues: the first at 0:00, spread over the video,
    each at least 10 seconds long (the last one too, so the end is the video's
    length or, unknown, the last cue). Empty when fewer than 3 would result."""
    timed = [cue for cue in cues if cue.start is not None]
    if not timed:
        return []
    end = duration if duration and duration > 0 else max(cue.start or 0 for cue in timed)
    for gap in (max(10, end // MAX_CHAPTERS), 10):
        chapters = _pick_chapters(timed, end, gap)
        if chapter_problem(chapters) is None:
            return chapters
    return []
