"""Claude answers kept from the moment they arrive until their suggestion
is stored.

Why: an answer is paid for when it arrives, but it becomes a suggestion
only when PostgreSQL takes it. When the database went away in between, the
job's retry asked Claude again and paid a second time. Kept in Redis (the
database is what failed), keyed by video and the pipeline's cache key (the
same video version, prompt version, model and transcript), a retry uses the
kept answer instead of a new call; the ledger lines that could not be
settled travel with it and are settled before the suggestion is stored.
Losing Redis too only costs the new call that would have been made anyway.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

import redis

from optimizer.claude import ClaudeAnswer, ClaudeCall
from optimizer.pricing import Usage

log = logging.getLogger(__name__)

KEEP_S = 24 * 3600  # longer than every retry of a job (10 s to 5 min) and the sweep that re-queues it


class PaidAnswers:
    def __init__(self, client: redis.Redis):
        self._redis = client

    @staticmethod
    def _key(video_id: int, cache_key: str) -> str:
        return f"yco:paid-answer:{video_id}:{cache_key}"

    def keep(self, video_id: int, cache_key: str, answer: ClaudeAnswer) -> None:
        try:
            self._redis.set(self._key(video_id, cache_key), json.dumps(_to_dict(answer)), ex=KEEP_S)
        except redis.RedisError as exc:
            log.warning("paid answer not kept", extra={"video_id": video_id, "error": type(exc).__name__})

    def get(self, video_id: int, cache_key: str) -> ClaudeAnswer | None:
        try:
            raw = self._redis.get(self._key(video_id, cache_key))
        except redis.RedisError:
            return None
        return _from_dict(json.loads(raw)) if raw else None

    def forget(self, video_id: int, cache_key: str) -> None:
        try:
            self._redis.delete(self._key(video_id, cache_key))
        except redis.RedisError:
            pass  # it expires by itself; a stored suggestion is never asked for again


def _to_dict(answer: ClaudeAnswer) -> dict[str, Any]:
    return {
        "answer": answer.answer,
        "model": answer.model,
        "usage": asdict(answer.usage),
        "calls": answer.calls,
        "mended": answer.mended,
        "unsettled": [{**asdict(c), "usage": asdict(c.usage)} for c in answer.unsettled],
    }


def _from_dict(data: dict[str, Any]) -> ClaudeAnswer:
    unsettled = [ClaudeCall(c["model"], c["outcome"], Usage(**c["usage"]), c["ticket"]) for c in data["unsettled"]]
    return ClaudeAnswer(
        answer=data["answer"],
        model=data["model"],
        usage=Usage(**data["usage"]),
        calls=data["calls"],
        mended=data["mended"],
        unsettled=unsettled,
    )
