"""RQ job: optimize the videos of one run (one video or a batch).

The run's videos are worked on by a thread pool; the number of Claude calls
in flight across every worker is capped by a Redis semaphore
(LLM_MAX_CONCURRENCY). Each video's suggestion is committed as soon as it
is ready, so a killed worker loses at most the videos in flight, and the
retried job (another worker) skips what is done.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar

import redis

from jobs.runtime import current_settings
from jobs.sync import youtube_client_factory
from optimizer.claude import ClaudeCall, ClaudeEngine, counts_as_failure
from optimizer.paid_answers import PaidAnswers
from optimizer.pipeline import RunContext, Services, optimize_video
from optimizer.pricing import SERPAPI_PER_SEARCH, cost_usd
from optimizer.prompts import ChannelContext
from optimizer.research import KeywordResearch
from optimizer.youtube import quota
from optimizer.youtube.oauth import GoogleOAuthConfig
from reliability.breaker import CircuitBreaker
from reliability.db import transaction
from reliability.errors import DatabaseError
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
            cur.execute("UPDATE optimization_run_videos SET status = 'failed', error = %s WHERE run_id = %s AND video_id = %s",
                        (f"{type(exc).__name__}: this video could not be optimized; try it again.", ctx.run_id, video_id))
    finally:
        _current_video.reset(token)


def _claim(run_id: int) -> RunContext | None:
    with transaction() as cur:
        cur.execute(
            """UPDATE optimization_runs SET status = 'running', started_at = coalesce(started_at, now())
               WHERE id = %s AND status IN ('queued', 'running') RETURNING channel_id, requested_by, without_transcripts""",
            (run_id,),
        )
        run_row = cur.fetchone()
        if run_row is None:
            return None
        cur.execute("SELECT * FROM channels WHERE id = %s", (run_row["channel_id"],))
        channel = cur.fetchone()
        cur.execute(
            """SELECT title FROM videos WHERE channel_id = %s AND removed_at IS NULL
               ORDER BY view_count DESC LIMIT 20""",
            (channel["id"],),
        )
        best = [r["title"] for r in cur.fetchall()]
    context = ChannelContext(name=channel["title"], description=channel["description"], best_titles=best)
    return RunContext(run_id=run_id, channel=channel, channel_context=context, user_id=run_row["requested_by"],
                      without_transcripts=run_row["without_transcripts"])


def _pending_videos(run_id: int) -> list[int]:
    with transaction() as cur:
        cur.execute(
            """SELECT rv.video_id FROM optimization_run_videos rv
               WHERE rv.run_id = %s AND NOT EXISTS (SELECT 1 FROM suggestions s WHERE s.run_id = rv.run_id AND s.video_id = rv.video_id)
               ORDER BY rv.position""",
            (run_id,),
        )
        return [r["video_id"] for r in cur.fetchall()]


def _finish(run_id: int) -> str:
    with transaction() as cur:
        cur.execute(
            """SELECT count(*) FILTER (WHERE status = 'done') AS done, count(*) FILTER (WHERE status = 'failed') AS failed,
                      count(*) AS total FROM optimization_run_videos WHERE run_id = %s""",
            (run_id,),
        )
        counts = cur.fetchone()
        status = "succeeded" if counts["done"] == counts["total"] else ("failed" if counts["done"] == 0 else "partial")
        cur.execute("UPDATE optimization_runs SET status = %s, finished_at = now() WHERE id = %s", (status, run_id))
        quota.release(cur, run_id=run_id)  # what the run did not spend is free again
    return status


# -- the services, with their ledgers ----------------------------------------


def build_services(settings, ctx: RunContext) -> Services:
    cache = redis.Redis.from_url(settings["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)
    return Services(
        claude=_claude(settings, cache, ctx),
        research=KeywordResearch(
            api_key=settings["SERPAPI_API_KEY"], base_url=settings["SERPAPI_BASE_URL"], cache=cache,
            breaker=CircuitBreaker(cache, "serpapi", min_calls=5, reset_timeout_s=60),
            on_call=lambda engine, outcome: _ledger_serpapi(ctx, engine, outcome),
        ),
        youtube_for=_youtube_for(settings, ctx),
        transcript_max_chars=settings["TRANSCRIPT_MAX_CHARS"],
        paid=PaidAnswers(cache),
    )


def anthropic_breaker(cache: redis.Redis) -> CircuitBreaker:
    return CircuitBreaker(cache, "anthropic", window_s=60, min_calls=5, failure_rate=0.5, reset_timeout_s=30,
                          half_open_permits=2, lease_ttl_s=120, counts_as_failure=counts_as_failure)


def _claude(settings, cache, ctx: RunContext) -> ClaudeEngine | None:
    if not settings["ANTHROPIC_API_KEY"]:
        return None
    return ClaudeEngine(
        api_key=settings["ANTHROPIC_API_KEY"], base_url=settings["ANTHROPIC_BASE_URL"],
        models=[settings["ANTHROPIC_MODEL"], *settings["ANTHROPIC_FALLBACK_MODELS"]],
        timeout_s=settings["ANTHROPIC_TIMEOUT_S"], breaker=anthropic_breaker(cache),
        on_send=lambda model: _ledger_claude_sent(ctx, model),
        on_call=lambda call: _ledger_claude(ctx, call),
        slots=RedisSemaphore(cache, "anthropic", settings["LLM_MAX_CONCURRENCY"],
                             lease_ttl_s=settings["ANTHROPIC_TIMEOUT_S"] + 30),
    )


def _youtube_for(settings, ctx: RunContext):
    if GoogleOAuthConfig.from_config(settings) is None or not settings["TOKEN_ENCRYPTION_KEY"]:
        return None
    make = youtube_client_factory(settings)
    with transaction() as cur:
        reservation_id = quota.open_reservation(cur, run_id=ctx.run_id)

    def client_for(channel_id: int):
        return make(channel_id, lambda call: _ledger_youtube(ctx, call, reservation_id))

    return client_for


def _ledger_claude_sent(ctx: RunContext, model: str) -> int:
    """The line of a request about to be sent (outcome 'sent' until it is
    settled): a worker killed mid-call still leaves it in the ledger."""
    with transaction() as cur:
        cur.execute(
            """INSERT INTO usage_ledger (service, model, outcome, user_id, channel_id, run_id, video_id)
               VALUES ('anthropic', %s, 'sent', %s, %s, %s, %s) RETURNING id""",
            (model, ctx.user_id, ctx.channel["id"], ctx.run_id, _current_video.get()),
        )
        return cur.fetchone()["id"]


def _ledger_claude(ctx: RunContext, call: ClaudeCall) -> None:
    """Settle the line written before the request; idempotent (a kept
    answer's calls are settled again when it is used)."""
    u = call.usage
    with transaction() as cur:
        cur.execute(
            """UPDATE usage_ledger SET outcome = %s, input_tokens = %s, output_tokens = %s, cache_read_tokens = %s,
                                       cache_write_tokens = %s, cost_usd = %s
               WHERE id = %s AND service = 'anthropic'""",
            (call.outcome, u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens,
             cost_usd(call.model, u), call.ticket),
        )


def _ledger_serpapi(ctx: RunContext, engine: str, outcome: str) -> None:
    with transaction() as cur:
        cur.execute(
            """INSERT INTO usage_ledger (service, model, outcome, cost_usd, user_id, channel_id, run_id, video_id)
               VALUES ('serpapi', %s, %s, %s, %s, %s, %s, %s)""",
            (engine, outcome, SERPAPI_PER_SEARCH, ctx.user_id, ctx.channel["id"], ctx.run_id, _current_video.get()),
        )


def _ledger_youtube(ctx: RunContext, call, reservation_id: int | None) -> None:
    with transaction() as cur:
        quota.record(cur, call.method, channel_id=ctx.channel["id"], user_id=ctx.user_id, units=call.units,
                     reservation_id=reservation_id)
