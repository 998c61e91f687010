"""The SEO score (optimizer.seo): a better title, description and tags score
higher, every criterion moves the score on its own, and each reason tells
the creator what to do."""

from __future__ import annotations

import pytest

from optimizer import seo

KEYWORD = "crispy smashed potatoes"
GOOD_TITLE = "Crispy Smashed Potatoes: The Easiest Side Dish for Weeknights"
OPENING = "Crispy smashed potatoes with golden edges and a fluffy middle, made on one sheet pan in forty minutes."
BODY = " ".join(
    [
        "Boil the potatoes in salted water until a knife slides in without resistance.",
        "Drain them well and let the steam escape so the skins dry out before roasting.",
        "Press each potato flat with the bottom of a glass until it cracks around the edges.",
        "Brush generously with olive oil or melted butter and season with flaky salt.",
        "Roast on the top shelf of a very hot oven until the edges turn deep golden brown.",
        "Finish with garlic, parmesan and fresh herbs, then serve straight from the tray.",
    ]
    * 5
)
CHAPTERS = "0:00 Intro\n0:45 Boiling the potatoes\n3:10 Smashing\n6:00 Roasting\n8:30 Serving"
GOOD_DESCRIPTION = f"{OPENING}\n\n{BODY}\n\nChapters\n{CHAPTERS}"
GOOD_TAGS = [
    "crispy smashed potatoes",
    "smashed potatoes",
    "roast potatoes",
    "potato side dish",
    "easy side dish",
    "weeknight dinner",
    "sheet pan recipe",
    "crispy potatoes",
]


def scored(title=GOOD_TITLE, description=GOOD_DESCRIPTION, tags=GOOD_TAGS, **kwargs) -> seo.SeoScore:
    return seo.score(title, description, tags, primary_keyword=kwargs.pop("keyword", KEYWORD), **kwargs)


def reason(result: seo.SeoScore, criterion: str) -> seo.Reason:
    return next(r for r in result.reasons if r.criterion == criterion)


def test_good_metadata_scores_full_marks():
    result = scored()
    assert result.score == 100, [r.message for r in result.reasons if not r.ok]
    assert all(r.ok for r in result.reasons)
    assert not seo.needs_attention(result)


def test_a_poor_video_scores_far_lower_and_needs_attention():
    poor = seo.score("vlog", "https://example.com #food #vlog", [])
    assert poor.score <= 30 < scored().score
    assert seo.needs_attention(poor)


def test_weights_sum_to_100_and_points_add_up():
    for result in (scored(), seo.score("", "", []), seo.score("x", "y", ["z"], has_transcript_chapters=True)):
        assert sum(r.max_points for r in result.reasons) == 100
        assert result.score == sum(r.points for r in result.reasons)
        assert all(0 <= r.points <= r.max_points and r.ok == (r.points == r.max_points) for r in result.reasons)


_BAD_CHAPTERS_DESCRIPTION = f"{OPENING}\n\n{BODY}\n\nChapters\n"
_LATE_TITLE = "The Easiest Weeknight Side Dish Ever Made: Crispy Smashed Potatoes"
_LONG_OPENING = (
    "Golden edges and a fluffy middle, made on one sheet pan in forty minutes, with a garlic butter finish "
    "that everyone at the table will want seconds of. Today: crispy smashed potatoes."
)

DEGRADATIONS = {
    "title_length": {"title": "Crispy Smashed Potatoes"},
    "keyword_in_title": {"title": _LATE_TITLE},
    "description_length": {"description": f"{OPENING}\n\nChapters\n{CHAPTERS}"},
    "opening_keyword": {"description": f"{_LONG_OPENING}\n\n{BODY}\n\nChapters\n{CHAPTERS}"},
    "opening_clean": {"description": f"https://a.example https://b.example #potatoes\n{GOOD_DESCRIPTION}"},
    "tag_count": {"tags": ["crispy smashed potatoes", "smashed potato recipe for a crowd", "roast potato side dish"]},
    "tag_budget": {"tags": ["crispy smashed potatoes", "potato", "side", "dish", "easy", "roast", "oven", "dinner"]},
    "tag_keyword": {"tags": ["golden roasted potato recipe", *GOOD_TAGS[1:]]},
    "chapters": {"description": f"{OPENING}\n\n{BODY}"},
}


@pytest.mark.parametrize("criterion", sorted(DEGRADATIONS))
def test_each_criterion_moves_the_score(criterion):
    good, worse = scored(), scored(**DEGRADATIONS[criterion])
    assert worse.score < good.score
    failed = reason(worse, criterion)
    assert not failed.ok and failed.points < failed.max_points
    assert good.score - worse.score >= failed.max_points - failed.points


@pytest.mark.parametrize(
    ("lines", "explains"),
    [
        ("0:05 Intro\n1:00 Boil\n2:00 Roast", "0:00"),
        ("0:00 Intro\n1:00 Boil", "at least 3"),
        ("0:00 Intro\n0:05 Boil\n2:00 Roast", "10 seconds"),
        ("0:00 Intro\n2:00 Boil\n1:00 Roast", "go up"),
    ],
)
def test_chapters_follow_youtubes_rules(lines, explains):
    result = scored(description=_BAD_CHAPTERS_DESCRIPTION + lines)
    chapters = reason(result, "chapters")
    assert chapters.points == 5 and explains in chapters.message
    assert reason(scored(description=_BAD_CHAPTERS_DESCRIPTION + "00:00 Intro\n00:35 Boil\n01:10 Roast"), "chapters").ok


def test_title_length_scores_the_40_to_70_range_best():
    points = {
        n: reason(scored(title="Crispy Smashed Potatoes " + "x" * (n - 24)), "title_length").points
        for n in (25, 35, 40, 70, 80, 95)
    }
    assert points[40] == points[70] == 15
    assert points[35] > points[25] and points[80] > points[95]


def test_keyword_early_beats_keyword_late_beats_no_keyword():
    early = reason(scored(), "keyword_in_title").points
    late = reason(scored(title=_LATE_TITLE), "keyword_in_title").points
    missing = reason(scored(title="The Easiest Weeknight Side Dish, Golden and Fluffy"), "keyword_in_title").points
    assert early > late > missing == 0


def test_description_word_bands():
    words_in = {
        n: reason(scored(description=OPENING + " " + "potato " * n), "description_length").points
        for n in (10, 120, 300)
    }
    assert words_in[300] == 15 > words_in[120] > words_in[10]


def test_reasons_are_sentences_a_creator_can_act_on():
    result = seo.score("vlog", "", [], primary_keyword="sourdough starter", has_transcript_chapters=True)
    failing = [r for r in result.reasons if not r.ok]
    assert len(failing) == len(result.reasons)
    for r in failing:
        assert r.message[:1].isupper() and r.message.endswith(".")
    assert "“sourdough starter”" in reason(result, "keyword_in_title").message
    assert "Add “sourdough starter” as a tag." == reason(result, "tag_keyword").message
    assert "transcript" in reason(result, "chapters").message
    assert "transcript" not in reason(seo.score("vlog", "", []), "chapters").message


def test_keyword_is_derived_from_tags_and_title_when_not_given():
    assert (
        seo.score(GOOD_TITLE, GOOD_DESCRIPTION, ["weeknight dinner", "smashed potatoes"]).keyword == "smashed potatoes"
    )
    assert seo.score("Weeknight Side Dish Ideas", "", ["crispy smashed potatoes"]).keyword == "crispy smashed potatoes"
    assert seo.score("Homemade Sourdough Starter", "", []).keyword == "homemade sourdough starter"
    assert seo.score("", "", []).keyword is None


def test_needs_attention_threshold():
    assert seo.needs_attention(seo.ATTENTION_THRESHOLD - 1)
    assert not seo.needs_attention(seo.ATTENTION_THRESHOLD)
    assert seo.ATTENTION_THRESHOLD == 60


def test_seo_band_edges() -> None:
    assert seo.seo_band(seo.ATTENTION_THRESHOLD - 1) == "low"
    assert seo.seo_band(seo.ATTENTION_THRESHOLD) == "mid"
    assert seo.seo_band(seo.GOOD_THRESHOLD - 1) == "mid"
    assert seo.seo_band(seo.GOOD_THRESHOLD) == "high"
