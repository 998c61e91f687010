"""The bundled demo channel: a realistic cooking channel with 48 videos,
transcripts with timestamps, 150 days of daily analytics and one past
metadata change whose effect shows in the numbers.

It is generated from a fixed seed, so every import is the same channel and
tests can rely on its shape. Dates are relative to the day of the import.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

CHANNEL_TITLE = "Kitchen Basics with Maya"
CHANNEL_DESCRIPTION = (
    "Weeknight cooking without the fuss. New recipes every Tuesday and Friday: "
    "one-pan dinners, bread for beginners, and the techniques that make everything else easier."
)
VIDEO_COUNT = 48
ANALYTICS_DAYS = 150
CHANGED_VIDEO_INDEX = 4  # the video whose title was improved in the past
CHANGE_DAYS_AGO = 60
CHANGE_LIFT = 1.3

_DISHES = [
    ("One-Pan Lemon Garlic Chicken", "chicken"), ("No-Knead Bread", "bread"), ("Creamy Tomato Pasta", "pasta"),
    ("Crispy Smashed Potatoes", "potatoes"), ("Weeknight Chicken Curry", "curry"), ("Fluffy Buttermilk Pancakes", "pancakes"),
    ("Perfect Fried Rice", "rice"), ("Roasted Vegetable Tray Bake", "vegetables"), ("Classic Beef Chili", "chili"),
    ("Easy Focaccia", "focaccia"), ("Garlic Butter Salmon", "salmon"), ("Homemade Pizza Dough", "pizza"),
    ("Chickpea Coconut Stew", "stew"), ("Banana Bread", "banana bread"), ("Sheet Pan Fajitas", "fajitas"),
    ("French Onion Soup", "soup"), ("Chocolate Chip Cookies", "cookies"), ("Mushroom Risotto", "risotto"),
    ("Thai Peanut Noodles", "noodles"), ("Shakshuka", "eggs"), ("Lentil Bolognese", "lentils"),
    ("Chicken Noodle Soup", "soup"), ("Sourdough Starter from Scratch", "sourdough"), ("Crispy Tofu Stir Fry", "tofu"),
]
_FORMATS = ["{dish} (Easy Recipe)", "How to Make {dish}", "{dish} | 30 Minute Dinner", "The Best {dish} I've Made",
            "{dish} for Beginners", "My Go-To {dish}"]
_TIPS = [
    "Start with a hot pan so the {key} sears instead of steaming.",
    "Season in layers: a little salt now, a little more at the end.",
    "If you only change one thing, let the {key} rest before you serve it.",
    "You can make this ahead; it keeps for three days in the fridge.",
    "Don't crowd the pan, cook in two batches if you need to.",
    "Taste as you go, that's the whole secret.",
    "A squeeze of lemon at the end wakes everything up.",
    "Swap in whatever vegetables you have, this is a forgiving recipe.",
]


@dataclass
class DemoVideo:
    youtube_video_id: str
    title: str
    description: str
    tags: list[str]
    published_at: datetime
    duration_seconds: int
    transcript: str
    daily: list[tuple[date, int, int, int, int, int, int, int]] = field(default_factory=list)
    previous_title: str | None = None
    previous_description: str | None = None
    changed_on: date | None = None

    @property
    def view_count(self) -> int:
        return sum(d[1] for d in self.daily) + self.views_before_window

    views_before_window: int = 0


def _video_id(index: int) -> str:
    return "demo" + hashlib.sha256(f"demo-{index}".encode()).hexdigest()[:7]


def _timestamp(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _transcript(rng: random.Random, dish: str, key: str, duration: int) -> str:
    lines, second = [], 0
    opening = f"Hi, I'm Maya, and today we're making {dish.lower()}. It's easier than you think."
    steps = [opening, f"Here's everything you need for the {key}.", "Let's get started with the prep."]
    steps += [rng.choice(_TIPS).format(key=key) for _ in range(max(6, duration // 60))]
    steps += ["And that's it. Let me know in the comments how yours turned out.", "See you on Friday!"]
    for sentence in steps:
        lines.append(f"[{_timestamp(second)}] {sentence}")
        second = min(duration - 1, second + rng.randint(12, 45))
    return "\n".join(lines)


def _description(dish: str, key: str, duration: int) -> str:
    chapters = [(0, "Intro"), (35, "Ingredients"), (duration // 3, f"Making the {key}"), (duration * 2 // 3, "Finishing touches"),
                (duration - 40, "Tasting")]
    chapter_lines = "\n".join(f"{_timestamp(s).removeprefix('0:')} {name}" for s, name in chapters)
    return (f"{dish}, step by step. Full recipe and shopping list below.\n\n"
            f"CHAPTERS\n{chapter_lines}\n\nNew videos every Tuesday and Friday. Subscribe so you don't miss one!")


def _daily_views(rng: random.Random, published: date, today: date, base: float, lift_from: date | None) -> tuple[list, int]:
    """Decay after publication, weekly rhythm, Poisson-like noise."""
    rows, before = [], 0
    start = today - timedelta(days=ANALYTICS_DAYS + 2)
    for offset in range((today - published).days):
        day = published + timedelta(days=offset)
        age = offset + 1
        expected = base * (3.0 / math.sqrt(age) + 0.35) * (1.15 if day.weekday() >= 5 else 1.0)
        if lift_from and day >= lift_from:
            expected *= CHANGE_LIFT
        views = max(0, int(rng.gauss(expected, math.sqrt(expected + 1))))
        if day < start or day > today - timedelta(days=3):  # analytics lag 2-3 days
            before += views
            continue
        engaged = int(views * 0.82)
        minutes = int(views * rng.uniform(2.5, 4.5))
        rows.append((day, views, engaged, minutes, int(views * 0.045), int(views * 0.006), int(views * 0.004), int(views * 0.002)))
    return rows, before


def generate(today: date | None = None) -> list[DemoVideo]:
    today = today or date.today()
    rng = random.Random(20261128)
    videos = []
    for index in range(VIDEO_COUNT):
        dish, key = _DISHES[index % len(_DISHES)]
        title = rng.choice(_FORMATS).format(dish=dish)
        duration = rng.randint(6, 18) * 60 + rng.randint(0, 59)
        published = today - timedelta(days=4 + index * 14 + rng.randint(0, 5))
        tags = [key, dish.lower(), "easy recipe", "weeknight dinner", "cooking for beginners", "home cooking"]
        video = DemoVideo(
            youtube_video_id=_video_id(index), title=title, description=_description(dish, key, duration),
            tags=tags, published_at=datetime.combine(published, time(15, 0), tzinfo=UTC),
            duration_seconds=duration, transcript=_transcript(rng, dish, key, duration),
        )
        lift_from = None
        if index == CHANGED_VIDEO_INDEX:
            video.previous_title = f"{key} video"
            video.previous_description = f"made some {key} today"
            video.changed_on = today - timedelta(days=CHANGE_DAYS_AGO)
            lift_from = video.changed_on
        video.daily, video.views_before_window = _daily_views(rng, published, today, rng.uniform(40, 400), lift_from)
        videos.append(video)
    return videos
