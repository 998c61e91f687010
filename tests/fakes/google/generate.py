"""Deterministic, realistic-looking YouTube data for the fake world.

Why generated and not fixtures on disk: sync tests need channels of 120 or
5,000 videos, and the same seed must give the same ids, titles and counts on
every run so that a failing test can be replayed. Everything is drawn from one
`random.Random` per channel; 5,000 videos take well under a second.

The shapes follow the real API: 11-character url-safe video ids (8 random bytes
in base64url, as YouTube's are), "UC" + 22 characters for channels, ISO 8601
durations, RFC 3339 timestamps, tags within YouTube's 500-character count.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

# Categories a creator may assign in the US (videoCategories.list assignable=true).
ASSIGNABLE_CATEGORIES = frozenset(
    {"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"}
)

# The generated catalogue ends here so that it does not depend on today's date.
CATALOGUE_END = datetime(2025, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Topic:
    category_id: str
    subjects: tuple[str, ...]
    angles: tuple[str, ...]
    tags: tuple[str, ...]


TOPICS = {
    "cooking": Topic(
        "26",
        (
            "sourdough bread",
            "ramen",
            "chicken curry",
            "tacos",
            "dumplings",
            "pancakes",
            "risotto",
            "brisket",
            "crème brûlée",
        ),
        ("for beginners", "in 15 minutes", "the easy way", "like a pro", "on a budget", "without an oven"),
        ("recipe", "cooking", "easy recipe", "home cooking", "dinner ideas", "meal prep", "baking", "food"),
    ),
    "tech": Topic(
        "28",
        ("mechanical keyboards", "home server", "Raspberry Pi", "Linux laptop", "NAS build", "mesh wifi", "USB-C hub"),
        ("explained", "in 2025", "review", "setup guide", "vs the competition", "after one year"),
        ("tech", "review", "unboxing", "homelab", "linux", "gadgets", "how to", "diy electronics"),
    ),
    "travel": Topic(
        "19",
        ("Lisbon", "Kyoto", "Patagonia", "Iceland ring road", "Oaxaca", "the Dolomites", "São Paulo"),
        ("on a budget", "in 3 days", "travel guide", "hidden gems", "by train", "solo"),
        ("travel", "travel vlog", "travel guide", "backpacking", "things to do", "itinerary", "budget travel"),
    ),
    "fitness": Topic(
        "17",
        ("kettlebell swings", "pull-ups", "mobility routine", "5k training", "home workout", "deadlifts"),
        ("for beginners", "in 20 minutes", "no equipment", "common mistakes", "30 day challenge", "form check"),
        ("fitness", "workout", "home workout", "strength training", "running", "exercise", "health"),
    ),
}

TITLE_PATTERNS = (
    "{Subject} {angle}: step by step",
    "{Subject} {angle}",
    "I tried {subject} for 30 days",
    "{n} {subject} mistakes everyone makes",
    "The truth about {subject}",
    "{Subject}: everything you need to know",
    "Why {subject} is harder than it looks 🔥",
    "{Subject} {angle} (part {n})",
)

WORDS = (
    "so today we are going to look at",
    "the first thing you want to do",
    "this is the part most people skip",
    "let me show you what I mean",
    "and that makes a huge difference",
    "if you only remember one thing",
    "here is the trick",
    "now watch what happens",
    "thanks for watching",
)


def b64id(rng: random.Random, n_bytes: int) -> str:
    return base64.urlsafe_b64encode(rng.randbytes(n_bytes)).decode().rstrip("=")


def video_id(rng: random.Random) -> str:
    return b64id(rng, 8)


def channel_id(rng: random.Random) -> str:
    return "UC" + b64id(rng, 16)


def caption_id(rng: random.Random) -> str:
    return "AUieDa" + b64id(rng, 30)


def handle(rng: random.Random, title: str) -> str:
    stem = "".join(ch for ch in title.lower() if ch.isalnum())[:20] or "channel"
    return "@" + stem + "".join(rng.choice("0123456789") for _ in range(3))


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_duration(seconds: int) -> str:
    """ISO 8601 as YouTube writes it: PT1H2M3S, zero components left out, P0D for nothing."""
    if seconds <= 0:
        return "P0D"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = "PT"
    for value, unit in ((hours, "H"), (minutes, "M"), (secs, "S")):
        if value:
            out += f"{value}{unit}"
    return out


def youtube_tag_length(tags: list[str]) -> int:
    """YouTube's count for the 500-character tag limit: a tag with a space counts
    as if quoted (2 more), and each comma between tags counts (FACTS.md)."""
    if not tags:
        return 0
    return sum(len(tag) + (2 if " " in tag else 0) for tag in tags) + len(tags) - 1


def pick_topic(rng: random.Random, topic: str | None) -> tuple[str, Topic]:
    name = topic or rng.choice(sorted(TOPICS))
    return name, TOPICS[name]


def title(rng: random.Random, topic: Topic) -> str:
    subject = rng.choice(topic.subjects)
    text = rng.choice(TITLE_PATTERNS).format(
        subject=subject, Subject=subject[0].upper() + subject[1:], angle=rng.choice(topic.angles), n=rng.randint(2, 12)
    )
    return text[:100]


def description(rng: random.Random, topic: Topic, video_title: str, channel_handle: str) -> str:
    lines = [f"{video_title}.", "", " ".join(rng.sample(WORDS, 3)).capitalize() + "."]
    if rng.random() < 0.6:
        lines += ["", "Chapters:", "00:00 Intro"]
        lines += [f"0{i}:{rng.randint(10, 59)} {rng.choice(topic.subjects)}" for i in range(1, rng.randint(3, 6))]
    lines += ["", f"Subscribe: https://www.youtube.com/{channel_handle}"]
    if rng.random() < 0.5:
        lines.append(" ".join("#" + tag.replace(" ", "") for tag in rng.sample(topic.tags, 3)))
    return "\n".join(lines)


def tags(rng: random.Random, topic: Topic) -> list[str] | None:
    if rng.random() < 0.15:
        return None  # many real videos have no tags; the key is then absent
    chosen = rng.sample(topic.tags, rng.randint(2, len(topic.tags)))
    chosen += [subject.lower() for subject in rng.sample(topic.subjects, 2)]
    while youtube_tag_length(chosen) > 500:
        chosen.pop()
    return chosen


def languages(rng: random.Random) -> tuple[str | None, str | None]:
    """(defaultLanguage, defaultAudioLanguage); either is often missing in real data."""
    default = rng.choices(["en", None, "es", "de"], weights=[50, 40, 5, 5])[0]
    audio = rng.choices(["en", "en-US", None, "es"], weights=[45, 20, 30, 5])[0]
    return default, audio


def duration_seconds(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.2:
        return rng.randint(15, 59)  # a Short
    if roll < 0.95:
        return rng.randint(120, 2400)
    return rng.randint(3600, 3 * 3600)


def statistics(rng: random.Random) -> tuple[int, int, int]:
    views = int(rng.lognormvariate(8, 1.8))
    return views, int(views * rng.uniform(0.01, 0.06)), int(views * rng.uniform(0.0005, 0.01))


def privacy(rng: random.Random) -> str:
    return rng.choices(["public", "unlisted", "private"], weights=[90, 6, 4])[0]


def upload_times(rng: random.Random, start: datetime, count: int, end: datetime = CATALOGUE_END) -> list[datetime]:
    """`count` distinct upload times between start and end, oldest first."""
    span = max(int((end - start).total_seconds()), count * 60)
    offsets = sorted(rng.sample(range(span), count)) if count else []
    return [start + timedelta(seconds=offset) for offset in offsets]


def caption_cues(seed: str, video_title: str, seconds: int) -> list[tuple[float, float, str]]:
    """Cues (start, end, text) for a caption track, the same for the same seed."""
    rng = random.Random(seed)
    cues, at = [], 0.0
    limit = min(max(seconds, 10), 600)
    sentences = [video_title, *WORDS]
    while at < limit and len(cues) < 40:
        length = rng.uniform(1.5, 5.0)
        cues.append((at, at + length, rng.choice(sentences)))
        at += length + rng.uniform(0.0, 0.8)
    return cues


@dataclass(frozen=True)
class DailyNumbers:
    """One video's analytics for one day, in the Analytics API's metric names' order."""

    views: int
    engaged_views: int
    minutes_watched: int
    average_view_duration: int  # seconds
    average_view_percentage: float
    likes: int
    comments: int
    shares: int
    subscribers_gained: int


def daily_numbers(key: str, published: datetime, day: date, lifetime_views: int) -> DailyNumbers:
    """A video's numbers for `day`: decaying with age, a weekend bump,
    Poisson-like noise; the same for the same key and day on every call,
    so a re-fetch of a day answers what the first fetch did."""
    rng = random.Random(f"{key}:{day.isoformat()}")
    age = (day - published.date()).days + 1
    expected = max(1.0, lifetime_views / 400) * (3.0 / age**0.5 + 0.35) * (1.15 if day.weekday() >= 5 else 1.0)
    views = max(0, round(rng.gauss(expected, (expected + 1) ** 0.5)))
    minutes = round(views * rng.uniform(2.0, 4.0))
    return DailyNumbers(
        views=views,
        engaged_views=round(views * 0.8),
        minutes_watched=minutes,
        average_view_duration=round(minutes * 60 / views) if views else 0,
        average_view_percentage=round(rng.uniform(25.0, 60.0), 1),
        likes=round(views * 0.04),
        comments=round(views * 0.005),
        shares=round(views * 0.003),
        subscribers_gained=round(views * 0.002),
    )
