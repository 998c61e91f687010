"""An SEO score for a video's metadata: 0 to 100, with a reason for every
point given or withheld, so a creator sees what to change and the list of
videos can be sorted by what needs attention.

It scores what a creator controls in the title, description and tags, by
rules that search guides and YouTube's own help agree on. It does not
predict views; the experiments judge whether a change helped.

Weights (they sum to 100):

| criterion | points | full marks when |
| --- | --- | --- |
| title length | 15 | 40-70 characters (shows in full in search) |
| keyword in title | 20 | the keyword ends within the first 40 characters |
| description length | 15 | at least 250 words (100 is "ok") |
| opening has keyword | 10 | the keyword is in the first 150 characters |
| opening is prose | 5 | the first 150 characters are a sentence, not links or hashtags |
| tag count | 8 | 5 to 15 tags |
| tag budget | 6 | at least 150 of YouTube's 500 tag characters used, none over |
| keyword among tags | 6 | a tag is, or contains, the keyword |
| chapters | 15 | chapters YouTube will show (3+, first at 0:00, ascending, 10 s apart) |

A score below ``ATTENTION_THRESHOLD`` (60) flags the video as needing
attention. 60 is where the basics are in place: a good title with the
keyword early (35) and a description that opens on the keyword (15) need
only a few tags or a 100-word description to pass it, while a video with a
good title and nothing else (35, or 50 with chapters) stays flagged. From
``GOOD_THRESHOLD`` (80) a score shows as good; ``seo_band`` names the band.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from optimizer import limits
from optimizer.text import chapter_problem, chapters_in, find_phrase, phrase_ends_within, rank_phrases, urls, words

TITLE_BEST_CHARS = (40, 70)
KEYWORD_EARLY_CHARS = 40
DESCRIPTION_GOOD_WORDS = 250
DESCRIPTION_OK_WORDS = 100
OPENING_CHARS = 150
OPENING_MIN_WORDS = 8
TAG_COUNT_BEST = (5, 15)
TAG_BUDGET_GOOD = 150
ATTENTION_THRESHOLD = 60
GOOD_THRESHOLD = 80

_HASHTAG = re.compile(r"(?<!\w)#\w+")
_HANDLE = re.compile(r"(?<!\w)@\w+")


@dataclass(frozen=True)
class Reason:
    """One criterion: the points earned out of its maximum and a sentence to act on."""

    points: int
    max_points: int
    message: str
    ok: bool
    criterion: str = ""


@dataclass(frozen=True)
class SeoScore:
    score: int
    reasons: list[Reason] = field(default_factory=list)
    keyword: str | None = None


def _reason(criterion: str, points: int, max_points: int, message: str) -> Reason:
    return Reason(points, max_points, message, points == max_points, criterion)


def derive_keyword(title: str, tags: list[str]) -> str | None:
    """The keyword the creator seems to aim at: the first tag named in the
    title, else the first tag, else the title's strongest phrase."""
    usable = [tag.strip() for tag in tags if tag and tag.strip()]
    for tag in usable:
        if find_phrase(title, tag) >= 0:
            return tag
    if usable:
        return usable[0]
    ranked = rank_phrases([(title, 1.0)])
    return ranked[0].text if ranked else None


def _title_length(title: str) -> Reason:
    n, (low, high) = len(title.strip()), TITLE_BEST_CHARS
    if low <= n <= high:
        return _reason(
            "title_length", 15, 15, f"The title is {n} characters, in the {low}-{high} range that shows in full."
        )
    if n < low:
        points = 9 if n >= 30 else 4 if n >= 20 else 0
        return _reason(
            "title_length", points, 15, f"The title is {n} characters; add descriptive words to reach {low}-{high}."
        )
    points = 9 if n <= 85 else 4
    return _reason(
        "title_length",
        points,
        15,
        f"The title is {n} characters; search cuts it near {high}, so shorten it.",
    )


def _keyword_in_title(title: str, keyword: str | None) -> Reason:
    if not keyword:
        return _reason("keyword_in_title", 0, 20, "No clear keyword: add tags or name the topic in the title.")
    if phrase_ends_within(title, keyword, KEYWORD_EARLY_CHARS):
        return _reason(
            "keyword_in_title", 20, 20, f"“{keyword}” is in the first {KEYWORD_EARLY_CHARS} characters of the title."
        )
    if find_phrase(title, keyword) >= 0:
        return _reason(
            "keyword_in_title",
            10,
            20,
            f"“{keyword}” is in the title but late; move it into the first {KEYWORD_EARLY_CHARS} characters.",
        )
    return _reason(
        "keyword_in_title",
        0,
        20,
        f"The title does not say “{keyword}”; put it in the first {KEYWORD_EARLY_CHARS} characters.",
    )


def _prose_words(text: str) -> list[str]:
    text = _HANDLE.sub(" ", _HASHTAG.sub(" ", re.sub(r"(?:https?://|www\.)\S+", " ", text)))
    return [word for word in words(text) if not word.replace(":", "").isdigit()]


def _description_length(description: str) -> Reason:
    n = len(_prose_words(description))
    if n >= DESCRIPTION_GOOD_WORDS:
        return _reason(
            "description_length", 15, 15, f"The description has {n} words, enough for search to understand it."
        )
    points = 9 if n >= DESCRIPTION_OK_WORDS else 4 if n >= 30 else 0
    return _reason(
        "description_length",
        points,
        15,
        f"The description has {n} words; write at least {DESCRIPTION_GOOD_WORDS} about what the video covers.",
    )


def _opening_keyword(description: str, keyword: str | None) -> Reason:
    if keyword and phrase_ends_within(description, keyword, OPENING_CHARS):
        return _reason(
            "opening_keyword", 10, 10, f"The description's first {OPENING_CHARS} characters mention “{keyword}”."
        )
    if keyword and find_phrase(description, keyword) >= 0:
        return _reason(
            "opening_keyword",
            4,
            10,
            f"Move “{keyword}” into the description's first {OPENING_CHARS} characters.",
        )
    subject = f"“{keyword}”" if keyword else "the video's topic"
    return _reason("opening_keyword", 0, 10, f"Open the description with a sentence that says {subject}.")


def _opening_clean(description: str) -> Reason:
    opening = description.strip()[:OPENING_CHARS]
    clutter = len(urls(opening)) + len(_HASHTAG.findall(opening))
    if not opening:
        return _reason("opening_clean", 0, 5, "The description is empty; its first lines show in search.")
    if clutter > 1 or urls(opening[:30]) or opening.startswith("#"):
        return _reason(
            "opening_clean",
            0,
            5,
            "The description opens with links or hashtags; open with a sentence about the video.",
        )
    if len(_prose_words(opening)) < OPENING_MIN_WORDS:
        return _reason("opening_clean", 2, 5, "Open the description with a full sentence; its start shows in search.")
    return _reason("opening_clean", 5, 5, "The description opens with a readable sentence.")


def _tag_count(tags: list[str]) -> Reason:
    n, (low, high) = len(tags), TAG_COUNT_BEST
    if low <= n <= high:
        return _reason("tag_count", 8, 8, f"{n} tags, in the useful range of {low}-{high}.")
    if n == 0:
        return _reason("tag_count", 0, 8, f"There are no tags; add {low}-{high} that describe the video.")
    if n < low:
        return _reason("tag_count", 4, 8, f"Only {n} tags; add related phrases to reach {low}-{high}.")
    return _reason("tag_count", 4 if n <= 30 else 2, 8, f"{n} tags dilute each other; keep the {high} most relevant.")


def _tag_budget(tags: list[str]) -> Reason:
    total = limits.tags_length(tags)
    if total > limits.TAGS_MAX_CHARS:
        return _reason(
            "tag_budget",
            0,
            6,
            f"The tags use {total} of {limits.TAGS_MAX_CHARS} characters; YouTube will refuse them.",
        )
    if total >= TAG_BUDGET_GOOD:
        return _reason("tag_budget", 6, 6, f"The tags use {total} of the {limits.TAGS_MAX_CHARS} characters available.")
    return _reason(
        "tag_budget",
        3 if total >= 60 else 0,
        6,
        f"The tags use {total} of {limits.TAGS_MAX_CHARS} characters; add specific phrases viewers search for.",
    )


def _tag_keyword(tags: list[str], keyword: str | None) -> Reason:
    if keyword and any(find_phrase(tag, keyword) >= 0 for tag in tags):
        return _reason("tag_keyword", 6, 6, f"“{keyword}” is among the tags.")
    if not keyword:
        return _reason("tag_keyword", 0, 6, "No clear keyword to look for among the tags.")
    return _reason("tag_keyword", 0, 6, f"Add “{keyword}” as a tag.")


def _chapters(description: str, has_transcript_chapters: bool) -> Reason:
    chapters = chapters_in(description)
    if not chapters:
        source = " The transcript has timestamps to build them from." if has_transcript_chapters else ""
        return _reason(
            "chapters",
            0,
            15,
            "Add chapters: lines starting 0:00, at least 3, 10+ seconds apart, so viewers can jump ahead." + source,
        )
    problem = chapter_problem(chapters)
    if problem:
        return _reason("chapters", 5, 15, f"{problem} Fix it so YouTube shows the chapters.")
    return _reason("chapters", 15, 15, f"{len(chapters)} chapters that YouTube will show.")


def score(
    title: str,
    description: str,
    tags: list[str],
    *,
    primary_keyword: str | None = None,
    has_transcript_chapters: bool = False,
) -> SeoScore:
    """Score the metadata. ``has_transcript_chapters`` says the transcript has
    timestamps, so a missing-chapters reason can say they can be built."""
    title, description = title or "", description or ""
    tags = [tag for tag in tags or [] if tag and tag.strip()]
    keyword = (primary_keyword or "").strip() or derive_keyword(title, tags)
    reasons = [
        _title_length(title),
        _keyword_in_title(title, keyword),
        _description_length(description),
        _opening_keyword(description, keyword),
        _opening_clean(description),
        _tag_count(tags),
        _tag_budget(tags),
        _tag_keyword(tags, keyword),
        _chapters(description, has_transcript_chapters),
    ]
    total = max(0, min(100, sum(reason.points for reason in reasons)))
    return SeoScore(score=total, reasons=reasons, keyword=keyword)


def needs_attention(seo: SeoScore | int) -> bool:
    """Below the threshold a video is worth optimizing first."""
    value = seo.score if isinstance(seo, SeoScore) else int(seo)
    return value < ATTENTION_THRESHOLD


def seo_band(score: int) -> str:
    """The band a score is shown in (the ``seo-low|mid|high`` CSS classes):
    low needs attention, high is good, mid is in between."""
    if score < ATTENTION_THRESHOLD:
        return "low"
    return "mid" if score < GOOD_THRESHOLD else "high"
