"""Optimize one video of a run: transcript, research, Claude (or the
heuristic engine), then one transaction that stores the suggestion.

Idempotent: a suggestion is keyed by (run, video), so a retried or resumed
job skips videos already done; and the same video version, prompt version
and model reuse a stored answer without a new call.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from optimizer import heuristic, runs, screening, suggestion_store, video_store
from optimizer.claude import AllModelsFailed, ClaudeAnswer, ClaudeEngine
from optimizer.paid_answers import PaidAnswers
from optimizer.pricing import Usage, cost_usd
from optimizer.prompts import PROMPT_VERSION, ChannelContext, VideoInput, build
from optimizer.research import Evidence, KeywordResearch
from optimizer.run_progress import NO_KEY_NOTE, fallback_note, set_stage
from optimizer.youtube.client import YouTubeClient, YouTubeError
from optimizer.youtube.transcripts import RECHECK_AFTER, Transcript, fetch_transcript, store_transcript
from reliability import metrics
from reliability.db import transaction

# What a video's suggestion comes from: Claude's checked answer, or the heuristic engine's dict.
Answer = ClaudeAnswer | dict[str, Any]

log = logging.getLogger(__name__)

KEPT_NOTE = "Claude's answer from an interrupted attempt was used: no new call was made."


@dataclass
class Services:
    """What the pipeline talks to; built once per job."""

    claude: ClaudeEngine | None
    research: KeywordResearch
    youtube_for: Callable[[int], YouTubeClient] | None  # channel id -> client (None: no Google config)
    transcript_max_chars: int
    paid: PaidAnswers | None = None  # answers paid for but not stored yet (a retry uses them)


@dataclass
class RunContext:
    run_id: int
    channel: dict[str, Any]
    channel_context: ChannelContext
    user_id: int | None
    without_transcripts: bool = False  # the creator chose not to spend captions units on this run


def cache_key(content_hash: str, models: list[str] | None, has_transcript: bool) -> str:
    engine = models[0] if models else "heuristic"
    raw = f"{content_hash}|{PROMPT_VERSION}|{engine}|{int(has_transcript)}"
    return hashlib.sha256(raw.encode()).hexdigest()


def optimize_video(ctx: RunContext, video_id: int, services: Services) -> int | None:
    """Returns the suggestion id (None if the video vanished)."""
    video = _load_video(ctx.run_id, video_id)
    if video is None:
        return None
    if video["suggestion_id"]:
        return video["suggestion_id"]  # done by an earlier attempt
    if not video["transcript"]:
        set_stage(ctx.run_id, video_id, "transcript")
    transcript = video["transcript"] or _fetch_transcript(ctx, video, services)
    key = cache_key(video["content_hash"] or "", services.claude.models if services.claude else None, bool(transcript))
    reused = _reuse(ctx.run_id, video_id, key)
    if reused:
        return reused
    set_stage(ctx.run_id, video_id, "research")
    evidence = services.research.research(video["title"], transcript)
    answer, engine_notes = _ask(ctx, video, transcript, evidence, services, key)
    if isinstance(answer, ClaudeAnswer) and services.claude is not None:
        for call in answer.unsettled:  # raises while the database is away: the retry uses the kept answer
            services.claude.settle(call)
    suggestion_id = _store(ctx, video, key, evidence, answer, engine_notes)
    if services.paid is not None and isinstance(answer, ClaudeAnswer):
        services.paid.forget(video_id, key)
    return suggestion_id


def _load_video(run_id: int, video_id: int) -> dict[str, Any] | None:
    with transaction() as cur:
        return video_store.for_optimizing(cur, run_id, video_id)


def _fetch_transcript(ctx: RunContext, video: dict[str, Any], services: Services) -> str | None:
    """Captions cost 250 units: only for a connected channel, once per video."""
    if (
        ctx.without_transcripts
        or ctx.channel["is_demo"]
        or ctx.channel["status"] != "connected"
        or services.youtube_for is None
    ):
        return None  # (a transcript already stored is still used: it costs nothing)
    if video["transcript_source"] == "none" and video["transcript_checked_at"] > _recheck_after():
        return None  # looked for recently and there was none
    try:
        transcript = fetch_transcript(
            services.youtube_for(ctx.channel["id"]),
            video["youtube_video_id"],
            video["default_audio_language"] or video["default_language"],
        )
    except YouTubeError as exc:
        log.warning("transcript unavailable", extra={"video_id": video["id"], "reason": exc.reason})
        return None
    with transaction() as cur:
        store_transcript(cur, video["id"], transcript or Transcript(language=None, source="none", text=""))
    return transcript.text if transcript else None


def _recheck_after() -> datetime:
    """A video without captions may get some: look again after a week."""
    return datetime.now(tz=UTC) - RECHECK_AFTER


def _reuse(run_id: int, video_id: int, key: str) -> int | None:
    """Copy an earlier answer for exactly the same inputs into this run."""
    with transaction() as cur:
        suggestion_id = suggestion_store.copy_earlier_answer(cur, run_id, video_id, key)
        if suggestion_id is not None:
            runs.video_done(cur, run_id, video_id)
        return suggestion_id


def _ask(
    ctx: RunContext, video: dict[str, Any], transcript: str | None, evidence: Evidence, services: Services, key: str
) -> tuple[Answer, list[str]]:
    notes = [evidence.note] if evidence.note else []
    kept = services.paid.get(video["id"], key) if services.paid is not None and services.claude is not None else None
    if kept is not None:
        return kept, [*notes, KEPT_NOTE]
    if services.claude is not None:
        prompt = build(
            ctx.channel_context,
            VideoInput(
                title=video["title"],
                description=video["description"],
                tags=list(video["tags"]),
                transcript=transcript,
                language=video["default_language"],
                duration_seconds=video["duration_seconds"],
                views=video["view_count"],
            ),
            evidence.to_dict(),
            services.transcript_max_chars,
        )

        def on_model(model: str, attempt: int) -> None:
            set_stage(ctx.run_id, video["id"], "claude" if attempt == 1 else "next_model", model)

        try:
            answer = services.claude.suggest(prompt, on_model=on_model)
            if services.paid is not None:
                services.paid.keep(video["id"], key, answer)  # paid for now, whatever happens to the database
            return answer, notes
        except AllModelsFailed as exc:
            notes.append(fallback_note(exc.reasons))
    else:
        notes.append(NO_KEY_NOTE)
    set_stage(ctx.run_id, video["id"], "heuristic")
    suggestion = heuristic.suggest(
        dict(video), transcript=transcript, keywords=evidence.keywords, channel_name=ctx.channel["title"]
    )
    return suggestion.to_dict(), notes


def _store(
    ctx: RunContext, video: dict[str, Any], key: str, evidence: Evidence, answer: Answer, notes: list[str]
) -> int | None:
    if isinstance(answer, ClaudeAnswer):
        data, engine, model, usage = answer.answer, "claude", answer.model, answer.usage
        cost = cost_usd(model, usage)
        notes = [*notes, *answer.mended]
    else:
        data, engine, model, usage, cost = answer, "heuristic", None, Usage(), Decimal(0)
    # Every engine's answer passes the one filter before it can be stored.
    data, removed = screening.screen(data, title=video["title"] or "", description=video["description"] or "")
    rationale = {"description": data.get("description_rationale", ""), "tags": data.get("tags_rationale", "")}
    new = suggestion_store.NewSuggestion(
        run_id=ctx.run_id,
        video_id=video["id"],
        base_version_id=video["version_id"],
        engine=engine,
        model=model,
        prompt_version=PROMPT_VERSION,
        titles=data["titles"],
        description=data["description"],
        tags=data["tags"],
        primary_keyword=data.get("primary_keyword"),
        chapters=data.get("chapters") or [],
        rationale=rationale,
        keyword_evidence=evidence.to_dict(),
        notes=notes,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cost_usd=cost,
        cache_key=key,
        removed=screening.removals_json(removed),
    )
    with transaction() as cur:
        suggestion_id = suggestion_store.create_pending(cur, new)
        runs.video_done(cur, ctx.run_id, video["id"])
    metrics.suggestion_made(engine)
    return suggestion_id
