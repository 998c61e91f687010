"""Property test: hostile transcripts, keyword research and Claude answers
never reach a stored suggestion in a form YouTube would refuse, nor with
markup, links, personal data or instructions to a model that the creator
did not write.

Each example is a fresh video (with its transcript row) and run, optimized
in-process by the real pipeline (``optimizer.pipeline.optimize_video`` with
``Services`` built by the job's own ``build_services``), talking over HTTP to
the SerpAPI and Anthropic fakes; the assertions read the stored
``suggestions`` row. The hostile corpus and the detectors are
``tests.fakes.hostile``, written apart from the filter's own word lists.
"""

from __future__ import annotations

import uuid

import pytest
import redis
from hypothesis import HealthCheck, given, settings

from jobs.optimize import build_services
from optimizer import limits
from optimizer.pipeline import RunContext, optimize_video
from optimizer.prompts import ChannelContext
from reliability.config import load_settings
from reliability.db import transaction
from tests.fakes import hostile
from tests.fakes.anthropic import fake_anthropic_fixture, hostile_answer
from tests.fakes.google import fake_google_fixture
from tests.fakes.serpapi import fake_serpapi_fixture
from tests.helpers import register
from tests.integration.optimize_helpers import burst, optimize, query
from tests.integration.youtube_helpers import channel_pk, connect_channel, youtube_app_config

fake_anthropic = fake_anthropic_fixture()
fake_google = fake_google_fixture()
fake_serpapi = fake_serpapi_fixture()

EXAMPLES = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


# -- one channel per test, one video and run per example ------------------------------


@pytest.fixture
def channel(clean_state):
    with transaction() as cur:
        cur.execute("INSERT INTO users (email, password_hash) VALUES ('creator@example.com', 'x') RETURNING id")
        user = cur.fetchone()["id"]
        cur.execute(
            """INSERT INTO channels (youtube_channel_id, title, description, created_by)
                       VALUES ('UChostile', 'Maya Makes', 'Weekly videos.', %s) RETURNING *""",
            (user,),
        )
        row = dict(cur.fetchone())
    return row


def _settings(clean_state, **overrides) -> dict:
    database_url, redis_url = clean_state
    return load_settings(
        environ={}, overrides={"ENVIRONMENT": "test", "DATABASE_URL": database_url, "REDIS_URL": redis_url, **overrides}
    )


def _new_video_and_run(channel: dict, creator: dict, transcript: str) -> tuple[int, int]:
    """A video as a sync stores it (with a version and a transcript) and a run for it."""
    with transaction() as cur:
        cur.execute(
            """INSERT INTO videos (channel_id, youtube_video_id, title, description, tags, default_language,
                                           duration_seconds, view_count)
                       VALUES (%s, %s, %s, %s, %s, 'en', 600, 1234) RETURNING id""",
            (channel["id"], uuid.uuid4().hex[:11], creator["title"], creator["description"], creator["tags"]),
        )
        video = cur.fetchone()["id"]
        cur.execute(
            """INSERT INTO metadata_versions (video_id, source, title, description, tags, content_hash)
                       VALUES (%s, 'sync', %s, %s, %s, %s)""",
            (video, creator["title"], creator["description"], creator["tags"], uuid.uuid4().hex),
        )
        cur.execute(
            "INSERT INTO transcripts (video_id, language, source, text) VALUES (%s, 'en', 'manual', %s)",
            (video, transcript),
        )
        cur.execute(
            """INSERT INTO optimization_runs (channel_id, requested_by, idempotency_key, video_count, status)
                       VALUES (%s, %s, %s, 1, 'running') RETURNING id""",
            (channel["id"], channel["created_by"], uuid.uuid4().hex),
        )
        run = cur.fetchone()["id"]
        cur.execute("INSERT INTO optimization_run_videos (run_id, video_id, position) VALUES (%s, %s, 0)", (run, video))
    return video, run


def _optimize(config: dict, channel: dict, case: dict) -> dict:
    """Run the real pipeline for the case's video; the stored suggestion."""
    redis.Redis.from_url(config["REDIS_URL"]).flushdb()  # no research answer cached from an earlier example
    video, run = _new_video_and_run(channel, case["creator"], case["transcript"])
    ctx = RunContext(
        run_id=run,
        channel=channel,
        user_id=channel["created_by"],
        channel_context=ChannelContext(name=channel["title"], description=channel["description"]),
    )
    suggestion_id = optimize_video(ctx, video, build_services(config, ctx))
    with transaction() as cur:
        cur.execute("SELECT * FROM suggestions WHERE id = %s", (suggestion_id,))
        return dict(cur.fetchone())


# -- what must hold of every stored suggestion ------------------------------------------


def _limit_problems(row: dict) -> list[str]:
    problems = [
        f"title option {t['title']!r}: {p.message}" for t in row["titles"] for p in limits.validate(t["title"], "", [])
    ]
    problems += [p.message for p in limits.validate(row["titles"][0]["title"], row["description"], row["tags"])]
    keyword = row["primary_keyword"] or ""
    if any(char in keyword for char in limits.FORBIDDEN):
        problems.append(f"primary keyword {keyword!r} holds < or >")
    return problems


def _tag_and_keyword_problems(row: dict) -> list[str]:
    problems = []
    for field, text in [("tag", t) for t in row["tags"]] + [("primary keyword", row["primary_keyword"] or "")]:
        found = {
            "markup": hostile.markup_hits(text),
            "URL": hostile.url_hits(text),
            "email": hostile.email_hits(text),
            "phone": hostile.phone_hits(text),
            "instruction": hostile.instruction_hits(text),
        }
        problems += [f"{field} {text!r} holds {kind} {hits}" for kind, hits in found.items() if hits]
    return problems


def _public_lines(row: dict) -> list[tuple[str, str]]:
    """(field, text) of every title option and chapter title."""
    return [("title", t["title"]) for t in row["titles"]] + [("chapter", c.get("title", "")) for c in row["chapters"]]


def _title_and_chapter_problems(row: dict, creator: dict) -> list[str]:
    own = f"{creator['title']}\n{creator['description']}"
    problems = []
    for field, text in _public_lines(row):
        problems += [f"{field} {text!r} holds the instruction {hit!r}" for hit in hostile.instruction_hits(text)]
        if hostile.markup_hits(text) and not hostile.markup_hits(own):
            problems.append(f"{field} {text!r} holds markup {hostile.markup_hits(text)}")
        problems += [
            f"{field} {text!r} adds {kind} {sorted(keys)}"
            for kind, keys in hostile.added_personal_data(text, own).items()
        ]
    return problems


def _description_problems(row: dict, creator: dict) -> list[str]:
    description = row["description"]
    problems = [
        f"description adds {kind} {sorted(keys)}"
        for kind, keys in hostile.added_personal_data(description, creator["description"]).items()
    ]
    if markup := hostile.markup_hits(description):
        problems.append(f"description holds markup {markup}")
    if creator["contact_line"] not in description.splitlines():
        problems.append(f"the creator's own line {creator['contact_line']!r} is gone")
    return problems


def assert_screened(row: dict, case: dict) -> None:
    creator = case["creator"]
    problems = (
        _limit_problems(row)
        + _tag_and_keyword_problems(row)
        + _title_and_chapter_problems(row, creator)
        + _description_problems(row, creator)
    )
    assert not problems, "\n".join(
        [
            f"engine={row['engine']}",
            *problems,
            "stored titles: " + repr(row["titles"]),
            "stored description: " + repr(row["description"]),
            "stored tags: " + repr(row["tags"]),
            "stored keyword: " + repr(row["primary_keyword"]),
            "stored chapters: " + repr(row["chapters"]),
        ]
    )


# -- the engines ------------------------------------------------------------------------


def test_detectors_see_the_corpus_and_spare_ordinary_text():
    """The test's own detectors must catch every corpus entry (else the
    property below could pass by being blind) and pass ordinary words."""
    assert all(hostile.instruction_hits(p) for p in hostile.INSTRUCTIONS)
    assert all(hostile.markup_hits(p) for p in hostile.MARKUP)
    assert all(hostile.url_hits(p) for p in hostile.URLS)
    assert all(hostile.email_hits(p) for p in hostile.EMAILS)
    assert all(hostile.phone_hits(p) for p in hostile.PHONES)
    ordinary = [*hostile.BENIGN, *(line for lines in hostile.TOPICS.values() for line in lines)]
    for text in ordinary:
        assert not (
            hostile.url_hits(text)
            or hostile.email_hits(text)
            or hostile.phone_hits(text)
            or hostile.instruction_hits(text)
        ), text
    assert not any(hostile.markup_hits(text) for text in ordinary if text not in ("<3", "2 < 3"))


def test_rule_based_suggestions_from_hostile_inputs_are_screened(clean_state, channel, fake_serpapi):
    config = _settings(clean_state, **fake_serpapi.settings(), ANTHROPIC_API_KEY="")

    @EXAMPLES
    @given(case=hostile.heuristic_case())
    def check(case):
        fake_serpapi.answer_any_query(suggestions=case["autocomplete"], video_titles=case["result_titles"])
        row = _optimize(config, channel, case)
        assert row["engine"] == "heuristic"
        assert_screened(row, case)

    check()


def test_claude_suggestions_from_hostile_answers_are_screened(clean_state, channel, fake_anthropic):
    config = _settings(clean_state, **fake_anthropic.settings(), ANTHROPIC_TIMEOUT_S="20", SERPAPI_API_KEY="")

    @EXAMPLES
    @given(case=hostile.claude_case())
    def check(case):
        fake_anthropic.respond_with(lambda body: case["answer"])
        row = _optimize(config, channel, case)
        assert row["engine"] == "claude", row["notes"]
        assert_screened(row, case)

    check()


# -- the fakes' named hostile cases -------------------------------------------------------

CREATOR = {
    "title": "Sourdough for beginners | Episode 124",
    "description": "Bake along with me.\n\nBusiness enquiries: hello@maya-bakes.com | https://maya-bakes.com/shop",
    "tags": ["sourdough", "baking"],
    "contact_line": "Business enquiries: hello@maya-bakes.com | https://maya-bakes.com/shop",
}


def test_claude_tags_repeated_in_case_and_past_the_budget_are_screened(clean_state, channel, fake_anthropic):
    config = _settings(clean_state, **fake_anthropic.settings(), ANTHROPIC_TIMEOUT_S="20", SERPAPI_API_KEY="")
    fake_anthropic.respond_with(hostile_answer)
    case = {"creator": CREATOR, "transcript": "[0:00] Bake along with me.\n[0:30] Feed the starter first."}
    row = _optimize(config, channel, case)
    assert row["engine"] == "claude"
    assert_screened(row, case)
    keys = [tag.casefold() for tag in row["tags"]]
    assert len(keys) == len(set(keys)) and row["primary_keyword"].casefold() in keys  # one of the four casings kept


def test_hostile_captions_of_a_serial_channel_reach_no_public_field(app_config, fake_google):
    """Through YouTube (captions downloaded by a real worker) and the rule-based
    engine: the injected line and the spoken email stay out; the episode
    number, which tells the videos apart, stays in the recommended title."""
    from webapp import create_app

    config = {**youtube_app_config(app_config, fake_google), "SERPAPI_API_KEY": ""}
    client = create_app(config).test_client()
    register(client)
    world = fake_google.world
    channel = world.add_serial_channel("maya", "Maya Makes", n_videos=2)
    for video_id in channel.video_ids:
        world.add_hostile_caption(video_id)
    assert connect_channel(client, fake_google, "maya").status_code == 302
    burst(config)  # the first sync, queued by connecting
    pk = channel_pk(config, channel.id)
    videos = [r["id"] for r in query(config["DATABASE_URL"], "SELECT id FROM videos WHERE channel_id = %s", (pk,))]
    assert optimize(client, pk, videos).status_code == 303
    burst(config)
    assert fake_google.calls["captions.download"] == 2  # the hostile captions were read, not skipped
    assert all("jane.doe@gmail.com" in r["text"] for r in query(config["DATABASE_URL"], "SELECT text FROM transcripts"))
    rows = query(
        config["DATABASE_URL"],
        """SELECT s.*, v.title AS current_title, v.description AS current_description
                                          FROM suggestions s JOIN videos v ON v.id = s.video_id""",
    )
    assert len(rows) == 2
    for row in rows:
        serial = row["current_title"].rsplit(" | ", 1)[1]
        assert serial in row["titles"][0]["title"], row["titles"]
        creator = {"title": row["current_title"], "description": row["current_description"], "contact_line": ""}
        problems = _limit_problems(row) + _tag_and_keyword_problems(row) + _title_and_chapter_problems(row, creator)
        problems += [
            f"description adds {kind}"
            for kind in hostile.added_personal_data(row["description"], row["current_description"])
        ]
        assert not problems and "jane.doe" not in row["description"], (problems, row["description"])
