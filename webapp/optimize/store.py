"""Queries for optimization runs, suggestions and usage."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg2.extras import execute_values

from optimizer import run_progress, runs, suggestions
from optimizer.youtube import quota
from optimizer.youtube.transcripts import count_to_fetch
from reliability import audit
from reliability.db import Cursor
from reliability.errors import AppError, ValidationError


class LimitReached(AppError):
    """A monthly limit of the user: its numbers in ``details`` and, as
    Retry-After, the seconds until the month (UTC) ends."""

    code = "monthly_limit_reached"
    status = 429

    def __init__(self, message: str, details: dict[str, Any]):
        now = datetime.now(UTC)
        next_month = (now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)).replace(day=1)
        super().__init__(message, details={**details, "resets_at": next_month.isoformat()})
        self.retry_after = max(1, int((next_month - now).total_seconds()))


def user_limits(cur: Cursor, user_id: int, config: Mapping[str, Any]) -> dict[str, Any]:
    cur.execute("SELECT monthly_optimization_quota, monthly_cost_cap_usd FROM users WHERE id = %s", (user_id,))
    row = cur.fetchone() or {}
    quota = row.get("monthly_optimization_quota")
    cap = row.get("monthly_cost_cap_usd")
    return {
        "optimizations": quota if quota is not None else config["MONTHLY_OPTIMIZATIONS_PER_USER"],
        "cost_usd": Decimal(str(cap if cap is not None else config["MONTHLY_COST_CAP_USD"])),
    }


def monthly_usage(cur: Cursor, user_id: int) -> dict[str, Any]:
    """This calendar month (UTC): videos optimized, calls and dollars."""
    cur.execute(
        """SELECT count(*) AS videos FROM optimization_run_videos rv JOIN optimization_runs r ON r.id = rv.run_id
           WHERE r.requested_by = %s
             AND r.created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'""",
        (user_id,),
    )
    videos = cur.fetchone()["videos"]
    cur.execute(
        """SELECT service, count(*) AS calls, coalesce(sum(cost_usd), 0) AS cost,
                  coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
                  coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens,
                  coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens
           FROM usage_ledger WHERE user_id = %s
             AND occurred_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
           GROUP BY service ORDER BY service""",
        (user_id,),
    )
    services = cur.fetchall()
    return {"videos": videos, "services": services, "cost_usd": sum((s["cost"] for s in services), Decimal(0))}


def check_user_limits(cur: Cursor, user_id: int, new_videos: int, config: Mapping[str, Any]) -> None:
    limits = user_limits(cur, user_id, config)
    used = monthly_usage(cur, user_id)
    if used["videos"] + new_videos > limits["optimizations"]:
        left = max(0, limits["optimizations"] - used["videos"])
        raise LimitReached(
            f"Your monthly optimization quota is {limits['optimizations']} videos and {left} are left. "
            "It resets on the 1st; an admin can raise it.",
            {
                "limit": "monthly_optimizations",
                "allowed": limits["optimizations"],
                "used": used["videos"],
                "requested": new_videos,
                "left": left,
            },
        )
    if used["cost_usd"] >= limits["cost_usd"]:
        raise LimitReached(
            f"This month's AI spending cap of ${limits['cost_usd']:.2f} is reached "
            f"(${used['cost_usd']:.2f} spent). It resets on the 1st; an admin can raise it.",
            {
                "limit": "monthly_cost_usd",
                "cap_usd": f"{limits['cost_usd']:.2f}",
                "spent_usd": f"{used['cost_usd']:.2f}",
            },
        )


def create_run(
    cur: Cursor,
    channel_id: int,
    user_id: int,
    key: str,
    video_ids: list[int],
    *,
    without_transcripts: bool = False,
    daily_budget: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """(run, created). The same idempotency key returns the first run. With
    ``daily_budget``, the transcripts the run will fetch are reserved with it
    (refused with the numbers when today's quota cannot cover them). Runs
    on the caller's transaction: a refusal raised here rolls it all back."""
    cur.execute("SELECT * FROM optimization_runs WHERE idempotency_key = %s", (key,))
    existing = cur.fetchone()
    if existing:
        if existing["channel_id"] != channel_id or existing["requested_by"] != user_id:
            raise ValidationError("This form was already used. Reload the page and try again.")
        return existing, False
    cur.execute(
        "SELECT id FROM videos WHERE channel_id = %s AND id = ANY(%s) AND removed_at IS NULL",
        (channel_id, video_ids),
    )
    found = {r["id"] for r in cur.fetchall()}
    if len(found) != len(video_ids):
        raise ValidationError(
            "Some selected videos are not in this channel (or were removed from YouTube).", code="unknown_videos"
        )
    run = runs.create(
        cur,
        channel_id=channel_id,
        requested_by=user_id,
        idempotency_key=key,
        video_count=len(video_ids),
        without_transcripts=without_transcripts,
    )
    if run is None:  # the same key, committed a moment ago by a parallel click
        cur.execute("SELECT * FROM optimization_runs WHERE idempotency_key = %s", (key,))
        return cur.fetchone(), False
    execute_values(
        cur,
        "INSERT INTO optimization_run_videos (run_id, video_id, position) VALUES %s",
        [(run["id"], v, i) for i, v in enumerate(video_ids)],
    )
    if daily_budget is not None and not without_transcripts:
        _reserve_transcripts(cur, run, video_ids, daily_budget)
    audit.record(
        cur,
        "optimization.requested",
        actor_id=user_id,
        target_type="channel",
        target_id=channel_id,
        details={"run_id": run["id"], "videos": len(video_ids)},
    )
    return run, True


def quota_estimate(
    cur: Cursor,
    channel: dict[str, Any],
    video_ids: list[int],
    daily_budget: int,
    *,
    left: int | None = None,
    transcripts: int | None = None,
) -> dict[str, int]:
    """What optimizing these videos spends of the project's YouTube quota:
    transcripts now, an apply per video later; and what is left today
    (``left`` and ``transcripts``, the count to fetch, when the caller has them already)."""
    if transcripts is None:
        transcripts = count_to_fetch(cur, channel, video_ids)
    if left is None:
        left = quota.units_left_today(cur, daily_budget)
    per_apply = 0 if channel["is_demo"] else quota.APPLY_UNITS  # the demo channel never calls Google
    return {
        "transcripts": transcripts,
        "now": transcripts * quota.TRANSCRIPT_UNITS,
        "per_transcript": quota.TRANSCRIPT_UNITS,
        "per_apply": per_apply,
        "later": per_apply * len(video_ids),
        "left": left,
        "budget": daily_budget,
    }


def _reserve_transcripts(cur: Cursor, run: dict[str, Any], video_ids: list[int], daily_budget: int) -> None:
    cur.execute("SELECT id, is_demo, status FROM channels WHERE id = %s", (run["channel_id"],))
    count = count_to_fetch(cur, cur.fetchone(), video_ids)
    if not count:
        return
    try:
        quota.reserve(
            cur,
            [count * quota.TRANSCRIPT_UNITS],
            daily_budget,
            purpose="optimize",
            channel_id=run["channel_id"],
            user_id=run["requested_by"],
            run_id=run["id"],
        )
    except quota.QuotaBudgetExceeded as exc:  # the transaction rolls back: no run, nothing queued
        refusal = quota.QuotaBudgetExceeded(
            f"{exc.message} It would fetch {count} transcript{'' if count == 1 else 's'} at "
            f"{quota.TRANSCRIPT_UNITS} units each: optimize without transcripts to spend nothing now.",
            details={**(exc.details or {}), "transcripts": count, "units_per_transcript": quota.TRANSCRIPT_UNITS},
        )
        refusal.retry_after = exc.retry_after
        raise refusal from exc


def get_run(cur: Cursor, channel_id: int, run_id: int) -> dict[str, Any] | None:
    cur.execute(
        """SELECT r.*, count(rv.*) FILTER (WHERE rv.status = 'done') AS done,
                  count(rv.*) FILTER (WHERE rv.status = 'failed') AS failed,
                  coalesce((SELECT sum(cost_usd) FROM usage_ledger u WHERE u.run_id = r.id), 0) AS cost_usd
           FROM optimization_runs r JOIN optimization_run_videos rv ON rv.run_id = r.id
           WHERE r.id = %s AND r.channel_id = %s GROUP BY r.id""",
        (run_id, channel_id),
    )
    return cur.fetchone()


def run_items(cur: Cursor, run_id: int) -> list[dict[str, Any]]:
    """Each video of the run with its suggestion, if ready, its stage, and
    what its calls cost from the usage ledger (one query): the ledger, not
    the suggestion, so failed calls are counted and the rows add up to the
    run's total."""
    cur.execute(
        """SELECT v.id AS video_id, v.title AS current_title, v.thumbnail_url, rv.status, rv.error,
                  rv.stage, rv.stage_model, extract(epoch FROM now() - rv.stage_changed_at) AS stage_seconds,
                  s.id AS suggestion_id, s.titles, s.engine, s.model, s.notes, s.primary_keyword,
                  s.status AS suggestion_status, s.apply_error, s.chosen_title, s.approved_title,
                  coalesce(s.approved_description, s.description) AS shown_description,
                  coalesce(s.approved_tags, s.tags) AS shown_tags, base.title AS base_title,
                  s.conflict IS NOT NULL AS has_conflict, paid.*
           FROM optimization_run_videos rv JOIN videos v ON v.id = rv.video_id
           LEFT JOIN suggestions s ON s.run_id = rv.run_id AND s.video_id = rv.video_id
           LEFT JOIN metadata_versions base ON base.id = s.base_version_id
           LEFT JOIN LATERAL (
               SELECT coalesce(sum(l.cost_usd), 0) AS cost_usd,
                      count(*) FILTER (WHERE l.service = 'anthropic' AND l.outcome <> 'ok') AS failed_calls,
                      coalesce(sum(l.cost_usd) FILTER (WHERE l.service = 'anthropic' AND l.outcome <> 'ok'), 0)
                        AS failed_cost,
                      count(*) FILTER (WHERE l.service = 'anthropic' AND l.outcome = 'ok') AS claude_calls,
                      coalesce(sum(l.cost_usd) FILTER (WHERE l.service = 'anthropic' AND l.outcome = 'ok'), 0)
                        AS claude_cost,
                      count(*) FILTER (WHERE l.service = 'serpapi') AS research_calls,
                      coalesce(sum(l.cost_usd) FILTER (WHERE l.service = 'serpapi'), 0) AS research_cost
               FROM usage_ledger l WHERE l.run_id = rv.run_id AND l.video_id = rv.video_id) paid ON true
           WHERE rv.run_id = %s ORDER BY rv.position""",
        (run_id,),
    )
    items = cur.fetchall()
    for item in items:
        item["stage_label"] = run_progress.stage_label(item["stage"], item["stage_model"], item["stage_seconds"])
        item["paid"] = run_progress.paid_words(item) if item["suggestion_id"] or item["cost_usd"] else ""
    return items


def split_notes(items: list[dict[str, Any]]) -> list[str]:
    """The notes every suggestion of a batch shares, said once above the
    table; each item's ``own_notes`` keeps only the rest."""
    noted = [item["notes"] for item in items if item["suggestion_id"]]
    shared = [n for n in noted[0] if all(n in notes for notes in noted[1:])] if len(noted) > 1 else []
    for item in items:
        item["own_notes"] = [n for n in (item["notes"] or []) if n not in shared]
    return shared


def usage_by_user(cur: Cursor) -> list[dict[str, Any]]:
    cur.execute(
        """SELECT u.email, count(*) AS calls, coalesce(sum(l.cost_usd), 0) AS cost,
                  coalesce(sum(l.input_tokens + l.cache_read_tokens + l.cache_write_tokens), 0) AS input_tokens,
                  coalesce(sum(l.output_tokens), 0) AS output_tokens
           FROM usage_ledger l JOIN users u ON u.id = l.user_id
           WHERE l.occurred_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
           GROUP BY u.email ORDER BY cost DESC LIMIT 200"""
    )
    return cur.fetchall()


def title_key(title: str) -> str:
    """How two titles are compared: case and spacing do not make them different."""
    return " ".join((title or "").split()).lower()


def title_clashes(cur: Cursor, channel_id: int, titles: dict[int, str]) -> dict[int, list[dict[str, Any]]]:
    """For each video id -> the title suggested for it, the other videos of the
    channel that already have that title, or have it suggested in a
    suggestion still open (one query), so the review can warn before a
    series goes live with one title for all."""
    if not titles:
        return {}
    ids, keys = list(titles), [title_key(titles[video_id]) for video_id in titles]
    cur.execute(
        """WITH wanted AS (SELECT * FROM unnest(%s::bigint[], %s::text[]) AS w(video_id, key))
           SELECT w.video_id, v.id AS other_id, v.title AS other_title, 'current' AS kind
           FROM wanted w JOIN videos v ON v.channel_id = %s AND v.removed_at IS NULL AND v.id <> w.video_id
            AND lower(regexp_replace(btrim(v.title), '\\s+', ' ', 'g')) = w.key
           UNION ALL
           SELECT w.video_id, v.id, v.title, 'suggested'
           FROM wanted w JOIN suggestions s ON s.status IN %s
            AND s.video_id <> w.video_id
            AND lower(regexp_replace(btrim(coalesce(s.approved_title, s.titles -> s.chosen_title ->> 'title')),
                                     '\\s+', ' ', 'g')) = w.key
           JOIN videos v ON v.id = s.video_id AND v.channel_id = %s AND v.removed_at IS NULL
           ORDER BY 1, 4, 2""",
        (ids, keys, channel_id, suggestions.MAY_GO_LIVE, channel_id),
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for row in cur.fetchall():
        found.setdefault(row["video_id"], []).append(dict(row))
    return found
