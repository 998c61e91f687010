"""RQ job: optimize the videos of one run (one video or a batch).

The run's videos are worked on by a thread pool; the number of Claude calls
in flight across every worker is capped by a Redis semaphore
(LLM_MAX_CONCURRENCY). Each video's suggestion is committed as soon as it
is ready, so a killed worker loses at most the videos in flight, and the
retried job (another worker) skips what is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any

import redis

from jobs.runtime import current_settings
from optimizer import channel_store, runs, usage_ledger, video_store
from optimizer.claude import ClaudeCall, ClaudeEngine, counts_as_failure
from optimizer.paid_answers import PaidAnswers
from optimizer.pipeline import RunContext, Services, optimize_video
from optimizer.pricing import SERPAPI_PER_SEARCH, cost_usd
from optimizer.prompts import ChannelContext
from optimizer.research import KeywordResearch
from optimizer.usage_ledger import LedgerOwner
from optimizer.youtube import quota
from optimizer.youtube.client import Call, YouTubeClient
from optimizer.youtube.factory import youtube_client_factory
from optimizer.youtube.oauth import GoogleOAuthConfig
from reliability import metrics
from reliability.breaker import CircuitBreaker
from reliability.db import transaction
from reliability.errors import DatabaseError
from reliability.redis_clients import job_client
from reliability.semaphore import RedisSemaphore

log = logging.getLogger(__name__)

# The video this thread is optimizing: the engines are shared by the run's
# threads, so their ledger callbacks learn the video from here. Each ledger
# row then belongs to one video, and a run's total is the sum of its rows.
_current_video: ContextVar[int | None] = ContextVar("optimizing_video", default=None)


def run(run_id: int) -> str:
    settings = current_settings()
    ctx = _claim(run_id)
    if ctx is None:
        return "skipped"
    metrics.optimization_event("started")
    services = build_services(settings, ctx)
    pending = _pending_videos(run_id)
    with ThreadPoolExecutor(max_workers=max(1, min(settings["LLM_MAX_CONCURRENCY"], len(pending)))) as pool:
        # _one never raises for a video; result() re-raises only what must reach RQ.
        for future in [pool.submit(_one, ctx, v, services) for v in pending]:
            future.result()
    return _finish(run_id)


def _one(ctx: RunContext, video_id: int, services: Services) -> None:
    token = _current_video.set(video_id)
    try:
        optimize_video(ctx, video_id, services)
    except DatabaseError:
        # PostgreSQL went away: not this video's fault. The job fails, RQ
        # retries it later, and the retry finds the video still pending
        # (and Claude's answer, if it came, kept: see optimizer/paid_answers.py).
        raise
    except Exception as exc:  # one video's failure must not sink the batch
        log.exception("optimizing a video failed", extra={"run_id": ctx.run_id, "video_id": video_id})
        with transaction() as cur:
            runs.fail_video(
                cur, ctx.run_id, video_id, f"{type(exc).__name__}: this video could not be optimized; try it again."
            )
    finally:
        _current_video.reset(token)


def _claim(run_id: int) -> RunContext | None:
    with transaction() as cur:
        run_row = runs.claim(cur, run_id)
        if run_row is None:
            return None
        channel = channel_store.get(cur, run_row["channel_id"])
        assert channel is not None  # a run's channel_id references its channel
        best = video_store.best_titles(cur, channel["id"])
    context = ChannelContext(name=channel["title"], description=channel["description"], best_titles=best)
    return RunContext(
        run_id=run_id,
        channel=channel,
        channel_context=context,
        user_id=run_row["requested_by"],
        without_transcripts=run_row["without_transcripts"],
    )


def _pending_videos(run_id: int) -> list[int]:
    with transaction() as cur:
        return runs.pending_videos(cur, run_id)


def _finish(run_id: int) -> str:
    with transaction() as cur:
        status = runs.finish(cur, run_id)
        quota.release(cur, run_id=run_id)  # what the run did not spend is free again
    if status is not None:  # committed: succeeded, partial or failed
        metrics.optimization_event(status)
    return status or "skipped"


# -- the services, with their ledgers ----------------------------------------


def build_services(settings: Mapping[str, Any], ctx: RunContext) -> Services:
    cache = job_client(settings["REDIS_URL"])
    return Services(
        claude=_claude(settings, cache, ctx),
        research=KeywordResearch(
            api_key=settings["SERPAPI_API_KEY"],
            base_url=settings["SERPAPI_BASE_URL"],
            cache=cache,
            breaker=CircuitBreaker(cache, "serpapi", min_calls=5, reset_timeout_s=60),
            on_call=lambda engine, outcome: _ledger_serpapi(ctx, engine, outcome),
        ),
        youtube_for=_youtube_for(settings, ctx),
        transcript_max_chars=settings["TRANSCRIPT_MAX_CHARS"],
        paid=PaidAnswers(cache),
    )


def anthropic_breaker(cache: redis.Redis) -> CircuitBreaker:
    return CircuitBreaker(
        cache,
        "anthropic",
        window_s=60,
        min_calls=5,
        failure_rate=0.5,
        reset_timeout_s=30,
        half_open_permits=2,
        lease_ttl_s=120,
        counts_as_failure=counts_as_failure,
    )


def _claude(settings: Mapping[str, Any], cache: redis.Redis, ctx: RunContext) -> ClaudeEngine | None:
    if not settings["ANTHROPIC_API_KEY"]:
        return None
    return ClaudeEngine(
        api_key=settings["ANTHROPIC_API_KEY"],
        base_url=settings["ANTHROPIC_BASE_URL"],
        models=[settings["ANTHROPIC_MODEL"], *settings["ANTHROPIC_FALLBACK_MODELS"]],
        timeout_s=settings["ANTHROPIC_TIMEOUT_S"],
        breaker=anthropic_breaker(cache),
        on_send=lambda model: _ledger_claude_sent(ctx, model),
        on_call=lambda call: _ledger_claude(ctx, call),
        slots=RedisSemaphore(
            cache, "anthropic", settings["LLM_MAX_CONCURRENCY"], lease_ttl_s=settings["ANTHROPIC_TIMEOUT_S"] + 30
        ),
    )


def _youtube_for(settings: Mapping[str, Any], ctx: RunContext) -> Callable[[int], YouTubeClient] | None:
    if GoogleOAuthConfig.from_config(settings) is None or not settings["TOKEN_ENCRYPTION_KEY"]:
        return None
    make = youtube_client_factory(settings)
    with transaction() as cur:
        reservation_id = quota.open_reservation(cur, run_id=ctx.run_id)

    def client_for(channel_id: int) -> YouTubeClient:
        return make(channel_id, lambda call: _ledger_youtube(ctx, call, reservation_id))

    return client_for


def _owner(ctx: RunContext) -> LedgerOwner:
    return LedgerOwner(
        user_id=ctx.user_id, channel_id=ctx.channel["id"], run_id=ctx.run_id, video_id=_current_video.get()
    )


def _ledger_claude_sent(ctx: RunContext, model: str) -> int:
    """The line of a request about to be sent (outcome 'sent' until it is
    settled): a worker killed mid-call still leaves it in the ledger."""
    with transaction() as cur:
        return usage_ledger.open_claude_line(cur, model, _owner(ctx))


def _ledger_claude(ctx: RunContext, call: ClaudeCall) -> None:
    """Settle the line written before the request; idempotent (a kept
    answer's calls are settled again when it is used)."""
    with transaction() as cur:
        usage_ledger.settle_claude_line(
            cur, call.ticket, outcome=call.outcome, usage=call.usage, cost_usd=cost_usd(call.model, call.usage)
        )


def _ledger_serpapi(ctx: RunContext, engine: str, outcome: str) -> None:
    with transaction() as cur:
        usage_ledger.record_search(cur, engine, outcome, SERPAPI_PER_SEARCH, _owner(ctx))


def _ledger_youtube(ctx: RunContext, call: Call, reservation_id: int | None) -> None:
    with transaction() as cur:
        quota.record(
            cur,
            call.method,
            channel_id=ctx.channel["id"],
            user_id=ctx.user_id,
            units=call.units,
            reservation_id=reservation_id,
        )
