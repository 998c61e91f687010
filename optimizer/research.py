"""Keyword research through SerpAPI: what viewers search for, what ranks.

Two calls per seed phrase, never YouTube's own search.list (100 quota units
a call): SerpAPI's YouTube search (top results' titles, views, channels) and
Google autocomplete with ``client=youtube`` (what people type). Answers are
cached in Redis for 7 days, so a batch on one topic, or a second run, costs
nothing. Without SERPAPI_API_KEY research is skipped and the suggestion
says so.

The google-search-results package reports errors as an ``"error"`` key, not
an exception, and its default timeout is 60,000 *seconds*: both handled here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
import requests
from serpapi import GoogleSearch, YoutubeSearch
from serpapi.serp_api_client import SerpApiClient

from optimizer.privacy import scrub
from reliability import metrics
from reliability.breaker import CircuitBreaker, CircuitOpen

log = logging.getLogger(__name__)

CACHE_TTL_S = 7 * 24 * 3600
TIMEOUT_S = 15
_WORD = re.compile(r"[\w'-]+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be but by for from how i in into is it its my of on or our so that the this to was we what "
    "when where which who why will with you your vs video videos official episode part full new best".split()
)


class SerpApiError(Exception):
    """SerpAPI answered with an error (bad key, plan exhausted, …)."""


@dataclass
class Evidence:
    seed: str
    suggestions: list[str] = field(default_factory=list)
    top_results: list[dict[str, Any]] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "autocomplete": self.suggestions,
            "top_results": self.top_results,
            "keywords": self.keywords,
            **({"note": self.note} if self.note else {}),
        }


def seed_phrase(title: str, transcript: str | None = None, max_words: int = 5) -> str:
    """The title's meaningful words (the transcript's most frequent ones when
    the title has too few): what a viewer might type."""
    words = [w for w in _WORD.findall(title.lower()) if w not in STOPWORDS and not w.isdigit()]
    if len(words) < 2 and transcript:
        counts = Counter(w for w in _WORD.findall(transcript.lower()) if w not in STOPWORDS and len(w) > 3)
        words += [w for w, _ in counts.most_common(max_words)]
    return " ".join(dict.fromkeys(words))[:80].strip() or title[:80]


class KeywordResearch:
    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str,
        cache: redis.Redis,
        breaker: CircuitBreaker,
        on_call: Callable[[str, str], None],
    ):
        self._api_key = api_key
        self._base_url = base_url
        self._cache = cache
        self._breaker = breaker
        self._on_call = on_call  # (engine, outcome) for the usage ledger

    def research(self, title: str, transcript: str | None) -> Evidence:
        seed = scrub(seed_phrase(title, transcript))
        if not self._api_key:
            return Evidence(seed=seed, note="Keyword research skipped: no SERPAPI_API_KEY is configured.")
        try:
            suggestions = [
                s["value"] for s in self._query("google_autocomplete", seed).get("suggestions", []) if s.get("value")
            ]
            videos = self._query("youtube", seed).get("video_results", [])
        except (SerpApiError, CircuitOpen, requests.RequestException) as exc:
            log.warning("keyword research failed", extra={"error": type(exc).__name__})
            return Evidence(
                seed=seed, note="Keyword research was unavailable; the suggestion relies on the transcript."
            )
        top = [_result(v) for v in videos[:10]]
        return Evidence(
            seed=seed, suggestions=suggestions[:10], top_results=top, keywords=_keywords(seed, suggestions, top)
        )

    def _query(self, engine: str, query: str) -> dict[str, Any]:
        key = "yco:serpapi:" + hashlib.sha256(f"{engine}\0{query.lower()}".encode()).hexdigest()
        try:
            cached = self._cache.get(key)
        except redis.RedisError:
            cached = None
        if cached:
            return json.loads(cached)
        result = self._fetch(engine, query)
        try:
            self._cache.set(key, json.dumps(result), ex=CACHE_TTL_S)
        except redis.RedisError:
            pass  # a cache miss next time, nothing worse
        return result

    def _fetch(self, engine: str, query: str) -> dict[str, Any]:
        params = {"api_key": self._api_key, "output": "json"}
        if engine == "youtube":
            client: SerpApiClient = YoutubeSearch({**params, "search_query": query})
        else:
            client = GoogleSearch({**params, "engine": "google_autocomplete", "q": query, "client": "youtube"})
        client.BACKEND = self._base_url  # an instance attribute: other clients keep theirs
        client.timeout = TIMEOUT_S
        with self._breaker.guard():
            started = time.perf_counter()
            try:
                result = client.get_dict()
            except requests.RequestException:
                metrics.external_call("serpapi", "connection_error", time.perf_counter() - started)
                self._on_call(engine, "error")
                raise
            except ValueError:  # a 5xx page that is not JSON: the service is unwell
                metrics.external_call("serpapi", "server_error", time.perf_counter() - started)
                self._on_call(engine, "error")
                raise SerpApiError("SerpAPI sent an unreadable answer") from None
        failed = "error" in result and result.get("search_metadata", {}).get("status") != "Success"
        metrics.external_call("serpapi", "error" if failed else "ok", time.perf_counter() - started)
        if failed:
            self._on_call(engine, "error")
            raise SerpApiError(str(result["error"])[:200])
        # "Success" with an error key means no results: empty evidence, not an outage.
        self._on_call(engine, "ok")
        return result


def _result(video: dict[str, Any]) -> dict[str, Any]:
    channel = video.get("channel") or {}
    return {
        "title": video.get("title", ""),
        "views": video.get("views"),
        "channel": channel.get("name"),
        "published": video.get("published_date"),
        "length": video.get("length"),
    }


def _keywords(seed: str, suggestions: list[str], top: list[dict[str, Any]]) -> list[str]:
    """Autocomplete phrases first (what people type), then 2-word phrases
    frequent in the top-ranking titles."""
    pairs: Counter[str] = Counter()
    for result in top:
        words = [w for w in _WORD.findall(result["title"].lower()) if w not in STOPWORDS]
        pairs.update(" ".join(words[i : i + 2]) for i in range(len(words) - 1))
    frequent = [p for p, n in pairs.most_common(10) if n >= 2]
    return list(dict.fromkeys([seed, *suggestions, *frequent]))[:15]
