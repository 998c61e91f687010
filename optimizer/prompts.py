"""The optimization prompt, versioned.

Layout (order matters for prompt caching): the instructions and the
channel's context come first as system blocks, the last of them marked with
``cache_control`` so every video of a batch (and of the next five minutes)
reads them from Anthropic's cache; then the video itself — metadata,
transcript cut at a sentence boundary, keyword evidence — as the user
message. Everything that came from YouTube or the creator is scrubbed of
emails, phone numbers and secret-bearing links first.

Change PROMPT_VERSION whenever the wording or the schema changes: stored
suggestions are reused only for the same video version, prompt version and
model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from anthropic.types import MessageParam, TextBlockParam, ToolParam

from optimizer.privacy import scrub

PROMPT_VERSION = "2026-11-28.1"
TOOL_NAME = "submit_optimization"

INSTRUCTIONS = """You are an expert YouTube strategist who rewrites video metadata so that the right viewers find
and click a video, without misleading anyone. You answer only by calling the submit_optimization tool.

What good YouTube metadata does, in order of importance:
1. The title earns the click from the people the video is for. It promises exactly what the video delivers.
   Put the primary keyword (the phrase a viewer would actually type or recognise) in the first 40 characters,
   because titles are truncated in search results, suggested videos and on phones. Aim for 40 to 70 characters;
   YouTube allows 100 but the end is rarely seen. Use natural language with one clear hook: a specific
   outcome, a number, a time frame, a contrast or a question. Avoid clickbait the video does not pay off,
   ALL CAPS words (one short emphasised word at most), emoji walls, hashtags in the title, and filler such as
   "Episode 12", "| Official Video" or the channel name when it adds nothing.
2. The description's first 150 characters show in search and under the player before "more": open with a
   sentence that contains the primary keyword and tells the viewer what they will get. Then two or three
   sentences summarising the video in plain words, drawn from the transcript. Then chapters when the
   transcript has timestamps: a line per chapter as "m:ss Title" (or "h:mm:ss Title"), the first at 0:00, at
   least three, in ascending order, each at least 10 seconds long, with short descriptive titles. Then keep the
   creator's own links, sponsor disclosures, credits and calls to action from the old description exactly, unless
   they are broken. Never invent links, products, prices, guests or facts that are not in the video.
3. Tags matter least but help with misspellings and related searches: 8 to 15 tags, the primary keyword
   first, then close variants and related phrases viewers search for, taken from the keyword evidence when it is
   relevant. No repeated tags, no tags unrelated to the video, no competitor channel names.

YouTube's hard limits, which your answer must respect or it will be rejected:
- Title: at most 100 characters. Neither title nor description may contain the characters < or >.
- Description: at most 5,000 bytes of UTF-8 (non-Latin text uses 2 to 4 bytes per character).
- Tags: the total counts each tag's characters, plus 2 for a tag containing a space (it is quoted), plus one
  comma between tags, and must be at most 500. Tags may not contain commas, < or >.

How to work:
- Read the current metadata first. Keep what already works; a change must have a reason you can state.
- Use the transcript as the source of truth for what the video contains. It may be cut short: do not assume
  the end. Timestamps in the transcript look like [h:mm:ss].
- Use the keyword evidence (what viewers search for and what ranks for those searches) to pick the primary
  keyword and phrasing, but only when it fits the video; evidence may be missing, then rely on the transcript.
- Match the channel's voice, taken from its best-performing titles below, and the video's language: write in
  the language of the current title and transcript.
- Offer three titles, ranked: the first is your recommendation, the others take a different angle (for
  example outcome-led versus curiosity-led), each with a one-sentence rationale a creator can judge.
- Give a one-sentence rationale for the description and for the tags.
- Placeholders like [email removed] or [link with credentials removed] mark private data that was removed
  before you saw the text; keep the placeholder's line out of your description.

Examples of weak titles and better ones, with why:
- "My trip vlog #7" -> "3 Days in Lisbon on a Budget: What We Spent and Where We Ate". The keyword (Lisbon on a budget)
  comes early and the promise is concrete; the episode number helped nobody find or choose the video.
- "AMAZING!!! You WON'T BELIEVE this bread" -> "No-Knead Bread in 5 Minutes of Work (Crusty, Bakery-Style)". The
  caps and exclamation marks read as spam; the better title says what makes this recipe different.
- "Tutorial" -> "Excel Pivot Tables for Beginners: Summarise 10,000 Rows in 2 Minutes". One word cannot rank or
  persuade; the better title names the tool, the audience and the payoff.
- "Why I quit my job (emotional)" -> keep it if the channel is personal and the audience comes for the story;
  improve only the description and tags. Not every title should become a keyword phrase: respect the format.
- "Minecraft but every block is TNT" -> keep the "X but Y" format that the audience expects on such channels;
  a good change adds the missing hook, not a keyword list: "Minecraft, But Every Block Is TNT (Can We Survive?)".
- "Best budget camera 2019" on a video that is still relevant -> do not silently change facts such as the year;
  if the content is dated, say so in the rationale and keep the year.

Examples of description openings:
- Weak: "Hey guys!! Don't forget to like and subscribe!!! Links below" (no keyword, no promise, wastes the preview).
- Better: "Learn how to make no-knead bread with four ingredients and five minutes of hands-on time. In this video
  I show the overnight rise, the shaping, and how to bake it in a Dutch oven for a crackly crust."

Examples of chapter lists (from transcript timestamps):
0:00 Why this method works
0:42 Ingredients
2:15 Mixing and the overnight rise
6:30 Shaping
9:05 Baking in a Dutch oven
12:40 The crumb test

Examples of tag sets for that video: no knead bread, no knead bread recipe, easy bread recipe, dutch oven bread,
artisan bread at home, crusty bread, beginner bread baking, overnight bread, 4 ingredient bread.

When the evidence shows what viewers search for, prefer their words over jargon: "how to fix a leaky faucet" beats
"faucet cartridge replacement procedure" for a general audience, while a channel for plumbers may prefer the latter.
When two phrasings are close, choose the one that appears in the titles of videos that rank well in the evidence,
unless the channel's own voice clearly differs. When the evidence is about a different topic (a name clash, a
different meaning of the word), ignore it and say so in the rationale.
"""


def tool_schema() -> ToolParam:
    """The answer's JSON schema, forced through tool use."""
    title = {
        "type": "object",
        "properties": {"title": {"type": "string", "maxLength": 100}, "rationale": {"type": "string"}},
        "required": ["title", "rationale"],
    }
    chapter = {
        "type": "object",
        "properties": {"start": {"type": "string"}, "title": {"type": "string"}},
        "required": ["start", "title"],
    }
    return {
        "name": TOOL_NAME,
        "description": "Submit the optimized title options, description and tags for the video.",
        "input_schema": {
            "type": "object",
            "properties": {
                "titles": {"type": "array", "items": title, "minItems": 3, "maxItems": 3},
                "description": {"type": "string"},
                "description_rationale": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "tags_rationale": {"type": "string"},
                "primary_keyword": {"type": "string"},
                "chapters": {"type": "array", "items": chapter},
            },
            "required": ["titles", "description", "description_rationale", "tags", "tags_rationale", "primary_keyword"],
        },
    }


@dataclass
class ChannelContext:
    name: str
    description: str = ""
    best_titles: list[str] = field(default_factory=list)


@dataclass
class VideoInput:
    title: str
    description: str
    tags: list[str]
    transcript: str | None
    language: str | None = None
    duration_seconds: int | None = None
    views: int | None = None


@dataclass
class Prompt:
    system: list[TextBlockParam]
    messages: list[MessageParam]
    version: str = PROMPT_VERSION


_SENTENCE_END = re.compile(r"[.!?…。！？](?=\s|$)")


def cut_at_sentence(text: str, max_chars: int) -> str:
    """At most ``max_chars``, ending at the last sentence (or line) end."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    cut = max(ends[-1] if ends else 0, head.rfind("\n"))
    return head[:cut].rstrip() if cut > max_chars // 2 else head.rsplit(" ", 1)[0]


def build(channel: ChannelContext, video: VideoInput, evidence: dict[str, Any], transcript_max_chars: int) -> Prompt:
    channel_block = "\n".join(
        [
            f"Channel: {scrub(channel.name)}",
            f"About the channel: {scrub(channel.description)[:1500]}",
            "Its best-performing titles (its voice):",
            *[f"- {scrub(t)}" for t in channel.best_titles[:25]],
        ]
    )
    system: list[TextBlockParam] = [
        {"type": "text", "text": INSTRUCTIONS},
        {"type": "text", "text": channel_block, "cache_control": {"type": "ephemeral"}},
    ]
    return Prompt(
        system=system, messages=[{"role": "user", "content": _video_message(video, evidence, transcript_max_chars)}]
    )


def _video_message(video: VideoInput, evidence: dict[str, Any], transcript_max_chars: int) -> str:
    transcript = cut_at_sentence(scrub(video.transcript), transcript_max_chars) if video.transcript else ""
    parts = [
        "Optimize this video.",
        f"Current title: {scrub(video.title)}",
        f"Current tags: {json.dumps([scrub(t) for t in video.tags], ensure_ascii=False)}",
        f"Language: {video.language or 'unknown'}; duration: {video.duration_seconds or 'unknown'} s; "
        f"views: {video.views or 0}",
        "Current description:\n" + (scrub(video.description) or "(empty)"),
        "Transcript"
        + (" (cut)" if video.transcript and len(transcript) < len(video.transcript) else "")
        + ":\n"
        + (transcript or "(no transcript available)"),
        "Keyword evidence:\n"
        + (json.dumps(evidence, ensure_ascii=False)[:3000] if evidence else "(none: research was skipped)"),
    ]
    return "\n\n".join(parts)


def repair_message(problems: list[str]) -> str:
    return (
        "Your answer broke these rules: "
        + "; ".join(problems)
        + ". Call submit_optimization again with every rule respected."
    )
