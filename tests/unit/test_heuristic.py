"""The heuristic engine (optimizer.heuristic) on the demo channel and on
arbitrary input: every suggestion is accepted by YouTube, puts the keyword
early, builds chapters YouTube will show, keeps the creator's links, and is
the same every time."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer import demo, heuristic, limits, seo
from optimizer.text import chapter_problem, chapters_in, clean_title, parse_timestamp

LINKS = "My knives: https://example.com/knives\nInstagram: @kitchenbasics\n#cooking #recipes"
DEMO = demo.generate()


def video_of(demo_video: demo.DemoVideo, extra_description: str = "") -> dict:
    return {
        "title": demo_video.title,
        "description": demo_video.description + extra_description,
        "tags": demo_video.tags,
        "duration_seconds": demo_video.duration_seconds,
    }


def research_for(demo_video: demo.DemoVideo) -> list[str]:
    """What keyword research plausibly returns: the dish as searched, then broader."""
    dish, key = demo_video.tags[1], demo_video.tags[0]
    return [f"{dish} recipe", dish, key, "easy dinner ideas"]


def suggest_demo(demo_video: demo.DemoVideo, keywords: list[str]) -> heuristic.Suggestion:
    return heuristic.suggest(
        video_of(demo_video, "\n\n" + LINKS),
        transcript=demo_video.transcript,
        keywords=keywords,
        channel_name=demo.CHANNEL_TITLE,
    )


def all_demo_suggestions():
    for demo_video in DEMO:
        for keywords in ([], research_for(demo_video)):
            yield demo_video, suggest_demo(demo_video, keywords)


SUGGESTIONS = list(all_demo_suggestions())


def test_every_demo_suggestion_passes_youtubes_limits():
    for _, suggestion in SUGGESTIONS:
        assert len(suggestion.titles) == 3
        assert len({option.title.casefold() for option in suggestion.titles}) == 3
        for option in suggestion.titles:
            assert limits.validate(option.title, suggestion.description, suggestion.tags) == []
            assert option.rationale


def test_top_title_has_the_keyword_in_its_first_40_characters():
    for demo_video, suggestion in SUGGESTIONS:
        keyword = suggestion.primary_keyword
        assert keyword, demo_video.title
        assert keyword.casefold() in suggestion.titles[0].title[:40].casefold(), (demo_video.title, keyword)
        assert all(40 <= len(option.title) <= 70 for option in suggestion.titles), suggestion.titles


def test_research_keyword_found_in_the_video_is_preferred():
    for demo_video, suggestion in SUGGESTIONS[1::2]:
        assert suggestion.primary_keyword in research_for(demo_video)
        assert suggestion.primary_keyword != "easy dinner ideas"  # never said, never in the title


def test_chapters_are_valid_for_youtube_and_are_in_the_description():
    for demo_video, suggestion in SUGGESTIONS:
        chapters = suggestion.chapters
        assert chapter_problem(chapters) is None, (demo_video.title, chapters)
        assert chapters[0].start == "0:00"
        assert chapters[-1].seconds <= demo_video.duration_seconds - 10  # the last chapter is 10 s long too
        assert chapters_in(suggestion.description) == chapters
        said = {parse_timestamp(line[1 : line.index("]")]) for line in demo_video.transcript.splitlines()}
        assert {c.seconds for c in chapters[1:]} <= said  # each starts where something is said


def test_links_and_calls_to_action_are_kept():
    for demo_video, suggestion in SUGGESTIONS:
        for line in LINKS.splitlines() + ["New videos every Tuesday and Friday. Subscribe so you don't miss one!"]:
            assert line in suggestion.description.splitlines(), (demo_video.title, line)


def test_description_opens_with_the_keyword_and_summarises_the_transcript():
    for demo_video, suggestion in SUGGESTIONS:
        first_line = suggestion.description.splitlines()[0]
        assert suggestion.primary_keyword.casefold() in first_line.casefold()
        summary = suggestion.description.split("\n\n")[1]
        assert "Hi, I'm Maya" not in summary and "Let me know" not in summary  # greetings and outros left out
        assert summary.split(". ")[0] in demo_video.transcript


def test_tags_lead_with_the_keyword_and_fit():
    for _, suggestion in SUGGESTIONS:
        tags = suggestion.tags
        assert tags[0] == suggestion.primary_keyword
        assert 5 <= len(tags) <= 15
        assert limits.tags_length(tags) <= limits.TAGS_MAX_CHARS
        assert len({t.casefold() for t in tags}) == len(tags)


def test_suggestion_scores_at_least_as_well_as_the_original():
    for demo_video, suggestion in SUGGESTIONS:
        keyword = suggestion.primary_keyword
        before = seo.score(demo_video.title, demo_video.description, demo_video.tags, primary_keyword=keyword)
        after = seo.score(suggestion.titles[0].title, suggestion.description, suggestion.tags, primary_keyword=keyword)
        assert after.score >= before.score, (demo_video.title, after.reasons)


def test_to_dict_has_the_shared_json_shape():
    data = SUGGESTIONS[0][1].to_dict()
    assert set(data) == {
        "titles",
        "description",
        "description_rationale",
        "tags",
        "tags_rationale",
        "primary_keyword",
        "chapters",
        "engine",
    }
    assert data["engine"] == "heuristic"
    assert [set(t) for t in data["titles"]] == [{"title", "rationale"}] * 3
    assert all(set(c) == {"start", "title"} for c in data["chapters"]) and data["chapters"][0]["start"] == "0:00"
    assert json.loads(json.dumps(data)) == data


def test_deterministic():
    demo_video = DEMO[7]
    first = suggest_demo(demo_video, research_for(demo_video)).to_dict()
    assert suggest_demo(demo_video, research_for(demo_video)).to_dict() == first


@pytest.mark.parametrize(
    ("title", "cleaned"),
    [
        (
            "MY BEST SOURDOUGH EVER!!! (OFFICIAL VIDEO) (Official Video) | Episode 12",
            "My Best Sourdough Ever! (Official Video)",
        ),
        ("NASA Moon Landing Explained", "NASA Moon Landing Explained"),  # a lone acronym is not shouting
        ("Knife Skills ep. 3 ???", "Knife Skills ?"),
    ],
)
def test_clean_title_trims_filler(title, cleaned):
    assert clean_title(title) == cleaned


def test_filler_title_is_rewritten_with_the_keyword_first():
    video = {
        "title": "WOW!!! you will NOT BELIEVE this | Episode 12 (OFFICIAL VIDEO) (official video)",
        "description": "",
        "tags": [],
    }
    transcript = "\n".join(
        [
            "[0:00:00] Hey everyone, welcome back!",
            "[0:00:20] Today: my sourdough starter, from flour and water.",
            "[0:01:10] Feed the sourdough starter twice a day at first.",
            "[0:02:30] A healthy sourdough starter doubles.",
        ]
    )
    suggestion = heuristic.suggest(video, transcript=transcript, keywords=[], channel_name="Bread Lab")
    top = suggestion.titles[0].title
    assert suggestion.primary_keyword == "sourdough starter"
    assert top.startswith("Sourdough Starter")
    assert "!!!" not in top and top.count("Video") <= 1 and "BELIEVE" not in top
    assert top.count("Episode 12") == 1 and top.endswith("Episode 12"), top  # the series number, kept last


def test_without_timestamps_there_are_no_new_chapters_but_valid_old_ones_stay():
    demo_video = DEMO[3]
    plain = " ".join(line.split("] ", 1)[1] for line in demo_video.transcript.splitlines())
    video = video_of(demo_video)
    suggestion = heuristic.suggest(video, transcript=plain, keywords=[], channel_name=demo.CHANNEL_TITLE)
    assert suggestion.chapters == chapters_in(demo_video.description)  # the creator's own, still valid
    video["description"] = "Just potatoes."
    bare = heuristic.suggest(video, transcript=plain, keywords=[], channel_name=demo.CHANNEL_TITLE)
    assert bare.chapters == [] and not chapters_in(bare.description)


def test_chapters_need_ten_seconds_each_and_the_last_one_too():
    video = {"title": "Quick Knife Skills for Onions", "description": "", "tags": [], "duration_seconds": 40}
    transcript = "\n".join(
        [
            "[0:00:00] Hello and welcome.",
            "[0:00:05] Hold the onion firmly.",
            "[0:00:12] Slice the onion thin.",
            "[0:00:18] Dice the onion small.",
            "[0:00:25] Mince the garlic.",
            "[0:00:35] Sweep it all into the pan.",
        ]
    )
    chapters = heuristic.suggest(video, transcript=transcript, keywords=[], channel_name="").chapters
    # 0:05 and 0:18 come too soon after a chapter; 0:35 would leave the last chapter 5 seconds long.
    assert [(c.start, c.title) for c in chapters] == [
        ("0:00", "Intro"),
        ("0:12", "Slice the onion thin"),
        ("0:25", "Mince the garlic"),
    ]


# -- any input ---------------------------------------------------------------------

_PIECES = st.one_of(st.characters(), st.sampled_from(list('<>,"|!?()[]#@:.\n ') + ["🍕", "e\u0301", "https://x.io"]))
_TEXT = st.lists(_PIECES, max_size=120).map("".join)
_CUE_LINE = st.builds(
    lambda s, text: f"[{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}] {text}", st.integers(0, 7200), _TEXT
)
_TRANSCRIPT = st.one_of(st.none(), _TEXT, st.lists(_CUE_LINE, max_size=60).map("\n".join))


@settings(max_examples=150, deadline=None)
@given(
    title=_TEXT,
    description=_TEXT,
    tags=st.one_of(st.none(), st.lists(_TEXT, max_size=20)),
    transcript=_TRANSCRIPT,
    keywords=st.lists(_TEXT, max_size=8),
    channel=_TEXT,
    duration=st.one_of(st.none(), st.integers(0, 10000)),
)
def test_suggest_never_raises_and_always_fits(title, description, tags, transcript, keywords, channel, duration):
    video = {"title": title, "description": description, "tags": tags, "duration_seconds": duration}
    suggestion = heuristic.suggest(video, transcript=transcript, keywords=keywords, channel_name=channel)
    assert len(suggestion.titles) == 3
    for option in suggestion.titles:
        assert limits.validate(option.title, suggestion.description, suggestion.tags) == []
    if suggestion.chapters:
        assert chapter_problem(suggestion.chapters) is None
        assert chapters_in(suggestion.description) == suggestion.chapters
    json.dumps(suggestion.to_dict())
