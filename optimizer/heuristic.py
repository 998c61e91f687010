"""The rule-based engine: a suggestion for a video's title, description and
tags when Claude cannot answer (every model failed, or the breaker is open).

It is deliberately plain and deterministic: the same video, transcript and
keywords give the same suggestion, so a retried job stores the same row and
tests can pin its behaviour. It follows the rules the SEO score rewards:
the primary keyword early in a 40-70 character title, a description that
opens with the keyword, summarises the video and lists chapters YouTube will
show, and tags within YouTube's budget. Whatever it builds passes through
``limits.fit``, so it always passes ``limits.validate``.

The output has the same shape as the Claude engine's (``Suggestion.to_dict``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from optimizer import limits, screening
from optimizer.chapters import GREETING, OUTRO, build_chapters
from optimizer.limits import clean_phrase
from optimizer.text import (
    TITLE_SEPARATORS,
    Chapter,
    RankedPhrase,
    chapter_line,
    chapter_problem,
    chapters_in,
    clean_title,
    count_phrase,
    find_phrase,
    has_url,
    is_meaningful,
    matched_phrase,
    parse_transcript,
    phrase_ends_within,
    rank_phrases,
    sentences,
    serial_marker,
    squash_spaces,
    strip_fragment,
    title_case,
    transcript_text,
    truncate_words,
    words,
)

ENGINE = "heuristic"
TITLE_MIN, TITLE_MAX, KEYWORD_EARLY = 40, 70, 40
KEYWORD_MAX_CHARS = 40
SUMMARY_SENTENCES, SENTENCE_MAX_CHARS = 3, 220
MAX_TAGS, TRANSCRIPT_TAGS = 15, 8

_CTA = re.compile(
    r"\b(subscribe|follow|patreon|merch|instagram|twitter|tiktok|facebook|discord|newsletter|sponsor|affiliate|"
    r"donate|membership|join|shop|website|podcast|discount|promo code|support the channel|comments?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TitleOption:
    title: str
    rationale: str


@dataclass
class Suggestion:
    """One suggestion for a video; ``to_dict`` is the JSON both engines produce."""

    titles: list[TitleOption]
    description: str
    description_rationale: str
    tags: list[str]
    tags_rationale: str
    primary_keyword: str
    chapters: list[Chapter] = field(default_factory=list)
    engine: str = ENGINE

    def to_dict(self) -> dict[str, Any]:
        return {
            "titles": [{"title": option.title, "rationale": option.rationale} for option in self.titles],
            "description": self.description,
            "description_rationale": self.description_rationale,
            "tags": list(self.tags),
            "tags_rationale": self.tags_rationale,
            "primary_keyword": self.primary_keyword,
            "chapters": [{"start": chapter.start, "title": chapter.title} for chapter in self.chapters],
            "engine": self.engine,
        }


# -- keyword -----------------------------------------------------------------


def _research_keyword(keywords: list[str], title: str, spoken: str) -> str | None:
    """The research keyword the video is most about: named in the title counts
    3, each mention in the transcript 1 (up to 10), times its words (up to 3,
    as in ``rank_phrases``: the specific phrase over the broad word); ties
    keep research order."""
    best, best_score = None, 0
    for keyword in keywords:
        if len(keyword) > KEYWORD_MAX_CHARS:
            continue
        found = 3 * (find_phrase(title, keyword) >= 0) + min(count_phrase(spoken, keyword), 10)
        found *= min(len(keyword.split()), 3)
        if found > best_score:
            best, best_score = keyword, found
    return best


def choose_keyword(title: str, spoken: str, keywords: list[str], tags: list[str]) -> str:
    """The research keyword found in the title or transcript; else the
    strongest phrase of the title (weighted 3) and transcript, taken from the
    title when the transcript backs it up (a clickbait title is not a topic);
    else the first tag."""
    research = _research_keyword([k for k in map(clean_phrase, keywords) if k], title, spoken)
    if research:
        return research
    ranked = [p.text for p in rank_phrases([(title, 3.0), (spoken, 1.0)]) if len(p.text) <= KEYWORD_MAX_CHARS]
    in_title = [phrase for phrase in ranked if find_phrase(title, phrase) >= 0]
    backed = [phrase for phrase in in_title if count_phrase(spoken, phrase)]
    said = [p.text for p in rank_phrases([(spoken, 1.0)]) if len(p.text) <= KEYWORD_MAX_CHARS]
    for choice in (backed, said, in_title):
        if choice:
            return choice[0]
    return next((tag for tag in map(clean_phrase, tags) if tag and len(tag) <= KEYWORD_MAX_CHARS), "")


# -- titles ------------------------------------------------------------------


def _display(keyword: str, title: str) -> str:
    """The keyword as the title writes it, unless the title is all lower case."""
    found = matched_phrase(title, keyword)
    return found if found and found != found.lower() else title_case(keyword)


def _without_keyword(title: str, keyword: str) -> str:
    start = find_phrase(title, keyword)
    if start < 0:
        return title
    found = matched_phrase(title, keyword) or keyword
    rest = title[:start] + " " + title[start + len(found) :]
    rest = re.sub(r"\(\s*\)|\[\s*\]", " ", rest)
    return strip_fragment(squash_spaces(rest).strip(TITLE_SEPARATORS))


def _within_range(title: str, pads: list[str], brand: str = "", always_brand: bool = False) -> str:
    """Pad a short title with informative endings and, last, the channel name
    (always, or only when short); cut a long one at a word."""
    suffix = brand if brand and (always_brand or len(title) < TITLE_MIN) else ""
    if suffix.strip(TITLE_SEPARATORS).casefold() in title.casefold():
        suffix = ""
    for pad in pads:
        if len(title + suffix) >= TITLE_MIN:
            break
        if pad.strip(TITLE_SEPARATORS).casefold() not in title.casefold() and len(title + pad + suffix) <= TITLE_MAX:
            title += pad
    if len(title + suffix) <= TITLE_MAX:
        title += suffix
    return limits.fit_title(truncate_words(title[:1].upper() + title[1:], TITLE_MAX))


def _secondary_topics(keyword: str, research: list[str], existing: list[str], spoken: list[RankedPhrase]) -> list[str]:
    """Two more topics to name in a title: research keywords first, then the
    creator's tags, then phrases the transcript repeats; none sharing a word
    with the primary keyword."""
    taken, found = set(words(keyword)), []
    repeated = [p.text for p in spoken if p.count >= 2 and " " in p.text]
    for phrase in [*research, *map(clean_phrase, existing), *repeated]:
        if phrase and len(phrase) <= 25 and not taken & set(words(phrase)):
            found.append(phrase)
            taken |= set(words(phrase))
        if len(found) == 2:
            break
    return found


def _title_options(clean: str, keyword: str, topics: list[str], channel: str) -> list[TitleOption]:
    shown = _display(keyword, clean) if keyword else ""
    subject = shown or clean or channel or "New video"
    rest = _without_keyword(clean, keyword) if keyword else clean
    brand = f" | {channel}" if channel else ""
    topic_pads = [f" – {title_case(t)}" for t in topics]
    generic = [" – Step by Step Guide", " (Full Walkthrough)"]
    if not keyword or phrase_ends_within(clean, keyword, KEYWORD_EARLY):
        first = clean or subject
        why = "Keeps your wording, with filler removed" + (
            ", and the keyword already in the first 40 characters." if keyword else "."
        )
    else:
        meaningful_rest = sum(is_meaningful(w) for w in words(rest)) >= 2
        first = f"{shown}: {rest}" if meaningful_rest else shown
        why = f"Moves “{keyword}” to the front, where search and cut-off mobile titles still show it."
    topics_title = f"{subject}: {' and '.join(title_case(t) for t in topics)}" if topics else ""
    candidates = [
        (_within_range(first, topic_pads + generic, brand), why),
        (
            _within_range(topics_title or f"{subject}: What You Need to Know", generic, brand),
            "Leads with the keyword and names what else the video covers, for related searches.",
        ),
        (
            _within_range(subject, topic_pads + generic, brand, always_brand=True),
            "Keyword first and your channel name after it, so returning viewers recognise the video.",
        ),
        (
            _within_range(f"{subject} – Step by Step Guide", [], brand),
            "A plain, descriptive alternative that keeps the keyword first.",
        ),
        (
            _within_range(f"{subject}: Everything You Need to Know", [], brand),
            "A broader alternative that keeps the keyword first.",
        ),
    ]
    return _three_distinct(candidates, subject)


def _with_serial(options: list[TitleOption], serial: str, channel: str) -> list[TitleOption]:
    """Every option keeps the series number of the current title, before the
    channel name, so the videos of a series do not all get the same title."""
    if not serial:
        return options
    brand = f" | {channel}" if channel else ""
    kept: list[TitleOption] = []
    for option in options:
        title = option.title
        if serial.casefold() not in title.casefold():
            body = title[: -len(brand)] if brand and title.endswith(brand) else title
            suffix = (f" {serial}" if serial.startswith("#") else f" – {serial}") + (brand if body != title else "")
            room = limits.TITLE_MAX_CHARS - limits.utf16_length(suffix)
            title = limits.fit_title(truncate_words(body, room, limits.utf16_length).rstrip(TITLE_SEPARATORS) + suffix)
        if title.casefold() not in {k.title.casefold() for k in kept}:
            kept.append(TitleOption(title, option.rationale))
    return kept


def _three_distinct(candidates: list[tuple[str, str]], subject: str) -> list[TitleOption]:
    """The first three different titles, numbered variants if the rules ran out."""
    options: list[TitleOption] = []
    numbered = ((limits.fit_title(f"{truncate_words(subject, 60)} ({n})"), "A numbered variant.") for n in range(2, 9))
    for title, why in [*candidates, *numbered]:
        if title.casefold() not in {option.title.casefold() for option in options}:
            options.append(TitleOption(title, why))
        if len(options) == 3:
            break
    return options


# -- description ---------------------------------------------------------------


def _informative(sentence: str) -> bool:
    if GREETING.match(sentence) or OUTRO.match(sentence) or _CTA.search(sentence) or has_url(sentence):
        return False
    tokens = words(sentence)
    return len(tokens) >= 5 and sum(is_meaningful(t) for t in tokens) >= 3


def _summary(text: str) -> list[str]:
    """The first informative sentences, each cut to a readable length."""
    chosen: list[str] = []
    for sentence in sentences(text):
        if (
            _informative(sentence)
            and not chapter_line(sentence)
            and sentence.casefold() not in map(str.casefold, chosen)
        ):
            short = truncate_words(sentence, SENTENCE_MAX_CHARS)
            chosen.append(short if short == sentence else short + "…")
        if len(chosen) == SUMMARY_SENTENCES:
            break
    return chosen


def _is_kept_line(line: str) -> bool:
    stripped = line.strip()
    if not stripped or chapter_line(stripped):
        return False
    return has_url(stripped) or bool(re.match(r"^[@#]\w", stripped)) or bool(_CTA.search(stripped))


def kept_lines(description: str) -> list[str]:
    """The creator's links, contact and credit lines and calls to action, in
    their order, with a label line such as "My gear:" when it introduces a
    kept line."""
    lines = [line.rstrip() for line in (description or "").splitlines()]
    contact = set(screening.creator_lines(description))
    kept = []
    for i, line in enumerate(lines):
        label = line.strip().endswith(":") and i + 1 < len(lines) and _is_kept_line(lines[i + 1])
        if (_is_kept_line(line) or label or line.strip() in contact) and line.strip() not in kept:
            kept.append(line.strip())
    return kept


def _prose_of(description: str) -> str:
    lines = (line for line in (description or "").splitlines() if not _is_kept_line(line) and not chapter_line(line))
    return " ".join(line.strip() for line in lines if line.strip() and not line.strip().endswith(":"))


def _opening(clean: str, keyword: str) -> str:
    """A first sentence naming the video and its keyword, the part search shows."""
    subject = re.sub(r"\s+[|•]\s+", " – ", re.sub(r"[(\[][^()\[\]]*[)\]]", " ", clean))
    subject = strip_fragment(squash_spaces(subject)).strip(TITLE_SEPARATORS) or clean
    stop = "" if subject[-1:] in ".!?…" else "."
    if not keyword:
        return f"In this video: {subject}{stop}" if subject else ""
    if find_phrase(subject, keyword) >= 0:
        return f"In this video: {subject}{stop}"
    return (
        f"In this video, all about {keyword}: {subject}{stop}" if subject else f"In this video: {title_case(keyword)}."
    )


def _description(opening: str, summary: list[str], chapters: list[Chapter], kept: list[str]) -> str:
    blocks = [opening, " ".join(summary)]
    if chapters:
        blocks.append("Chapters\n" + "\n".join(f"{c.start} {c.title}" for c in chapters))
    blocks.append("\n".join(kept))
    return "\n\n".join(block for block in blocks if block.strip())


# -- tags ----------------------------------------------------------------------


def _tags(
    keyword: str, research: list[str], spoken: list[RankedPhrase], existing: list[str], channel: str
) -> list[str]:
    """Priority order, so the budget drops the least useful last: the keyword,
    research keywords, phrases of two or three words the title and transcript
    repeat (single words are too broad to rank for), the creator's tags, the channel."""
    repeated = [p.text for p in spoken if p.count >= 2 and " " in p.text and p.text.casefold() != keyword.casefold()]
    candidates = [keyword, *research, *repeated[:TRANSCRIPT_TAGS], *existing, channel]
    return limits.fit_tags([c for c in candidates if c])[:MAX_TAGS]


# -- the engine ------------------------------------------------------------------


def suggest(video: dict[str, Any], *, transcript: str | None, keywords: list[str], channel_name: str) -> Suggestion:
    """A suggestion for ``video`` (a dict with title, description, tags and,
    when known, duration_seconds) from its transcript and research keywords."""
    title = str(video.get("title") or "")
    old_description = str(video.get("description") or "")
    existing = [str(t) for t in (video.get("tags") or [])]
    channel = truncate_words(clean_phrase(channel_name or ""), 50)
    # Untrusted text (research, what anyone says in the video) is left out
    # before it can become a keyword, a sentence or a chapter; the pipeline's
    # screening of the result is the guarantee, this keeps the result useful.
    known = screening.Known.of(title, old_description)
    research = [k for k in map(clean_phrase, keywords or []) if k and screening.is_publishable(k, known, strict=True)]
    cues = [cue for cue in parse_transcript(transcript) if screening.is_publishable(cue.text, known)]
    spoken = transcript_text(cues)

    clean = clean_title(title)
    keyword = choose_keyword(clean, spoken, research, existing)
    ranked = rank_phrases([(clean, 3.0), (spoken, 1.0)])
    topics = _secondary_topics(keyword, research, existing, ranked) if keyword else []
    titles = _with_serial(_title_options(clean, keyword, topics, channel), serial_marker(title), channel)

    chapters = build_chapters(cues, video.get("duration_seconds"))
    if not chapters and chapter_problem(old := chapters_in(old_description)) is None:
        chapters = old
    summary = _summary(spoken or _prose_of(old_description))
    kept = kept_lines(old_description)
    description = limits.fit_description(_description(_opening(clean, keyword), summary, chapters, kept))
    final_chapters = chapters_in(description)
    tags = _tags(keyword, research, ranked, existing, channel)

    return Suggestion(
        titles=titles,
        description=description,
        description_rationale=_description_rationale(keyword, summary, final_chapters, kept, bool(spoken)),
        tags=tags,
        tags_rationale=_tags_rationale(keyword, research, bool(spoken)),
        primary_keyword=keyword,
        chapters=final_chapters if chapter_problem(final_chapters) is None else [],
    )


def _description_rationale(
    keyword: str, summary: list[str], chapters: list[Chapter], kept: list[str], spoken: bool
) -> str:
    parts = [
        f"Opens with “{keyword}” in the first sentence, the part search shows."
        if keyword
        else "Opens with what the video is about, the part search shows."
    ]
    if summary:
        count = f"{len(summary)} sentence{'s' if len(summary) > 1 else ''}"
        parts.append(f"Summarises the video in {count} from the {'transcript' if spoken else 'old description'}.")
    if chapters:
        parts.append(f"Adds {len(chapters)} chapters YouTube will show (first at 0:00, each 10+ seconds).")
    if kept:
        parts.append(f"Keeps your {len(kept)} link and call-to-action lines.")
    return " ".join(parts)


def _tags_rationale(keyword: str, research: list[str], spoken: bool) -> str:
    sources = ["keyword research"] if research else []
    sources += ["the transcript"] if spoken else []
    sources += ["your existing tags"]
    lead = f"Starts with “{keyword}”, then" if keyword else "Built from"
    return (
        f"{lead} phrases from {', '.join(sources)}; duplicates removed and trimmed to YouTube's 500-character budget."
    )
