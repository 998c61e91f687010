"""YouTube's metadata limits (optimizer.limits): what YouTube would refuse is
reported in words a creator understands, and whatever ``fit`` returns is
accepted, for any text at all, so a suggestion never fails at apply time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer import limits
from tests.fakes.google.generate import youtube_tag_length

EMOJI = "🍕"  # outside the BMP: 1 Python character, 2 UTF-16 units, 4 UTF-8 bytes
FAMILY = "👩\u200d👩\u200d👧"  # a ZWJ sequence
E_ACUTE = "e\u0301"  # e + combining acute accent


def codes(problems: list[limits.Problem]) -> set[str]:
    return {problem.code for problem in problems}


# -- the tag count -------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([], 0),
        (["foo"], 3),
        (["Foo-Baz"], 7),  # the API reference's own example
        (["Foo Baz"], 9),  # ... with a space: counted as if quoted
        (["a", "b c", "def"], 1 + (3 + 2) + 3 + 2),  # 2 commas between 3 tags
        (["cooking", "home cooking"], 7 + (12 + 2) + 1),
        ([EMOJI], 2),
    ],
)
def test_tags_length_matches_hand_counts(tags, expected):
    assert limits.tags_length(tags) == expected


@given(st.lists(st.text(alphabet="abc xyz-", min_size=1, max_size=20), max_size=30))
def test_tags_length_agrees_with_the_fake_youtube_for_ascii(tags):
    assert limits.tags_length(tags) == youtube_tag_length(tags)


# -- validate ------------------------------------------------------------------


def test_good_metadata_has_no_problems():
    assert limits.validate("Crispy Smashed Potatoes", "Hot pan, then salt.", ["potatoes", "side dish"]) == []


def test_title_limit_is_100_and_emoji_count_twice():
    assert limits.validate("a" * 100, "", []) == []
    assert codes(limits.validate("a" * 101, "", [])) == {"title_too_long"}
    assert limits.validate(EMOJI * 50, "", []) == []
    problems = limits.validate(EMOJI * 51, "", [])  # 51 Python characters, 102 UTF-16 units
    assert codes(problems) == {"title_too_long"}
    assert "102 characters" in problems[0].message and "emoji" in problems[0].message


@pytest.mark.parametrize(
    ("title", "code"),
    [
        ("", "title_empty"),
        ("   ", "title_empty"),
        ("I <3 bread", "title_angle_brackets"),
        ("two\nlines", "title_control_characters"),
        ("bad \ud800 half", "title_control_characters"),
    ],
)
def test_title_problems(title, code):
    problems = limits.validate(title, "", [])
    assert code in codes(problems)
    assert all(p.field == "title" for p in problems)


def test_description_limit_is_5000_utf8_bytes_not_characters():
    assert limits.validate("t", "é" * 2500, []) == []  # 2,500 characters, 5,000 bytes
    problems = limits.validate("t", "é" * 2500 + "a", [])
    assert codes(problems) == {"description_too_long"}
    assert "5,001 bytes" in problems[0].message


def test_description_refuses_angle_brackets_and_controls_but_keeps_line_breaks():
    assert limits.validate("t", "line one\n\nline\ttwo\r\n", []) == []
    assert codes(limits.validate("t", "a <b> tag", [])) == {"description_angle_brackets"}
    assert codes(limits.validate("t", "bell \x07", [])) == {"description_control_characters"}


@pytest.mark.parametrize(
    ("tags", "code"),
    [
        (["ok", ""], "tag_empty"),
        (["ok", "  "], "tag_empty"),
        (["a" * 101], "tag_too_long"),
        (["salt, pepper"], "tag_forbidden_characters"),
        (["<b>"], "tag_forbidden_characters"),
        (['say "hi"'], "tag_forbidden_characters"),
        (["Bread", "bread"], "tag_duplicate"),
        (["ok", 3], "tag_not_text"),
        ([f"tag number {i:03d}" for i in range(30)], "tags_too_long"),  # 30 * (14 + 2) + 29 = 509
    ],
)
def test_tag_problems(tags, code):
    problems = limits.validate("t", "", tags)
    assert code in codes(problems)
    assert all(p.field == "tags" and p.message for p in problems)


def test_tags_budget_boundary():
    just_under = [f"{i:04d}" for i in range(100)]  # 100 * 4 + 99 commas
    assert limits.tags_length(just_under) == 499
    assert limits.validate("t", "", just_under) == []
    at_limit = just_under[:-1] + ["12345"]
    assert limits.tags_length(at_limit) == 500
    assert limits.validate("t", "", at_limit) == []
    over = just_under + ["x"]  # one more character and one more comma
    assert limits.tags_length(over) == 501
    assert codes(limits.validate("t", "", over)) == {"tags_too_long"}


# -- fit, by example -------------------------------------------------------------


def test_fit_title_cuts_at_a_word_and_leaves_no_dangling_separator():
    long_title = "Crispy Smashed Potatoes, the Easiest Side Dish | " + "Kitchen Basics with Maya " * 4
    fitted = limits.fit_title(long_title)
    assert len(fitted) <= 100 and long_title.startswith(fitted)
    assert not fitted.endswith((" ", "|", ",", "-", "("))
    assert fitted.split()[-1] in long_title.split()


def test_fit_title_drops_a_half_open_bracket():
    title = "Crispy Smashed Potatoes for a Crowd " + "a" * 40 + " (Official Video With Extra Words Added)"
    fitted = limits.fit_title(title)
    assert "(" not in fitted and len(fitted) <= 100


def test_fit_title_strips_angle_brackets_and_joins_lines():
    assert limits.fit_title("I <3 bread\nand >butter<") == "I 3 bread and butter"
    assert limits.fit_title("<<>>") == limits.FALLBACK_TITLE


def test_fit_title_never_splits_an_accent_from_its_letter():
    fitted = limits.fit_title("x" + E_ACUTE * 60)  # one 121-character "word"; character 100 is an accent
    assert len(fitted) == 99 and fitted.endswith(E_ACUTE)  # not a bare "e" cut from its accent


def test_fit_description_cuts_at_a_paragraph():
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 180 for i in range(8))  # about 915 bytes each
    fitted = limits.fit_description(text)
    assert limits.utf8_length(fitted) <= 5000
    assert fitted.endswith("word") and fitted.count("Paragraph") == 5
    assert text.startswith(fitted) and text[len(fitted) :].startswith(" \n\nParagraph 5.")


def test_fit_description_cuts_at_a_sentence_when_there_is_one_paragraph():
    text = " ".join(f"Sentence number {i} is here." for i in range(400))
    fitted = limits.fit_description(text)
    assert limits.utf8_length(fitted) <= 5000 and fitted.endswith("is here.")


def test_fit_description_never_splits_a_multibyte_character():
    fitted = limits.fit_description(EMOJI * 1300)  # 5,200 bytes, no spaces
    assert fitted == EMOJI * 1250


def test_fit_tags_dedupes_keeps_order_and_drops_the_last_first():
    tags = ["Bread", "sour, dough", "bread", "<b>rye</b>", "", "  "] + [f"extra tag {i:03d}" for i in range(40)]
    fitted = limits.fit_tags(tags)
    assert fitted[:3] == ["Bread", "sour dough", "brye/b"]
    assert limits.tags_length(fitted) <= 500
    kept_extras = [t for t in fitted if t.startswith("extra")]
    assert kept_extras == [f"extra tag {i:03d}" for i in range(len(kept_extras))]  # a prefix: the last went first
    assert limits.tags_length(fitted + [f"extra tag {len(kept_extras):03d}"]) > 500


# -- fit, for any input ------------------------------------------------------------

_TRICKY = list('<>," \n\t\r') + [EMOJI, FAMILY, E_ACUTE, "\u0301", "\u200d", "\ufe0f", "é", "中", "\x00", "\x07"]
_PIECES = st.one_of(
    st.characters(),  # any code point but surrogates
    st.characters(codec=None, categories=["Cs"]),  # lone surrogates, which UTF-8 cannot encode
    st.sampled_from(_TRICKY),  # some are several code points: emoji sequences, letter + accent
)


def _joined(pieces, max_size: int):
    return st.lists(pieces, max_size=max_size).map("".join)


_TEXT = _joined(_PIECES, 300)
_LONG_TEXT = st.one_of(_TEXT, st.builds(lambda text, times: text * times, _TEXT, st.integers(1, 200)))
_TAGS = st.lists(st.one_of(_TEXT, st.text(alphabet="ab ,", max_size=120)), max_size=80)


@settings(max_examples=300, deadline=None)
@given(title=_LONG_TEXT, description=_LONG_TEXT, tags=_TAGS)
def test_fit_output_always_passes_validate(title, description, tags):
    fitted_title, fitted_description, fitted_tags = limits.fit(title, description, tags)
    assert limits.validate(fitted_title, fitted_description, fitted_tags) == []
    assert len(fitted_description.encode("utf-8")) <= limits.DESCRIPTION_MAX_BYTES
    assert fitted_title.strip()


@settings(max_examples=200, deadline=None)
@given(title=_LONG_TEXT, description=_LONG_TEXT, tags=_TAGS)
def test_fit_is_idempotent(title, description, tags):
    once = limits.fit(title, description, tags)
    assert limits.fit(*once) == once


@settings(max_examples=200, deadline=None)
@given(description=_joined(st.sampled_from(["a", " ", ".", "\n", "é", EMOJI, E_ACUTE]), 4000))
def test_fit_description_is_a_prefix_of_the_cleaned_text(description):
    fitted = limits.fit_description(description)
    assert description.strip().startswith(fitted)
    assert limits.utf8_length(fitted) <= 5000
