"""Deterministic SerpApi result bodies for the fake: YouTube search and Google autocomplete.

Why generated and not recorded: the app asks about whatever keywords its
videos suggest, so a fixed fixture file would answer only the queries someone
thought of. Each body is seeded by the query (and gl/hl), so the same query
always gets the same videos and suggestions, in every run and every process,
and different queries get different ones.

Shapes follow SerpApi's documented JSON (the parts the app reads):

    youtube:             search_metadata, search_parameters, search_information,
                         video_results: [{position_on_page, title, link, serpapi_link,
                           channel: {name, link, verified, thumbnail}, published_date,
                           views (int), length ("m:ss"), description, extensions,
                           thumbnail: {static, rich}}], serpapi_pagination
    google_autocomplete: search_metadata, search_parameters,
                         suggestions: [{value, relevance, type, serpapi_link}], verbatim_relevance

An empty result is what SerpApi sends when the engine found nothing: HTTP 200,
status "Success", no results list, and a top-level "error" string.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

TITLE_TEMPLATES = (
    "{Q} for Beginners",
    "How to {Q} (Step by Step)",
    "{n} {Q} Mistakes to Avoid",
    "I Tried {Q} for 30 Days",
    "{Q} Explained in {m} Minutes",
    "The Ultimate {Q} Guide ({year})",
    "{Q} Tips Nobody Tells You",
    "{Q}: Everything You Need to Know",
    "Stop Doing This: {Q}",
    "{Q} - Easy Method That Actually Works",
    "Pro vs Beginner: {Q}",
    "{Q} Tutorial | Full Course",
)
CHANNELS = (
    "Maker Academy",
    "The Weekend Pro",
    "Simply Explained",
    "Kitchen Lab",
    "Study With Sam",
    "Tech Tinkerer",
    "DIY Daily",
    "Budget Nomad",
    "Coach Mira",
    "Garden Notes",
    "Pixel Workshop",
    "Home Fix Club",
)
SUGGESTION_SUFFIXES = (
    "",
    " for beginners",
    " tutorial",
    " tips",
    " explained",
    " step by step",
    " mistakes",
    " at home",
    " in 10 minutes",
    " 2026",
    " guide",
    " vs",
    " challenge",
    " hacks",
)
NO_RESULTS = {
    "youtube": "YouTube hasn't returned any results for this query.",
    "google_autocomplete": "Google Autocomplete hasn't returned any results for this query.",
}
ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"


def rng_for(*parts: str) -> random.Random:
    seed = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()
    return random.Random(int(seed[:16], 16))


def search_id(params: dict[str, str]) -> str:
    """Same parameters, same id (as SerpApi's cache hands back the same search)."""
    key = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()[:24]


def metadata(params: dict[str, str], engine_url: tuple[str, str], now: float) -> dict[str, Any]:
    sid = search_id(params)
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return {
        "id": sid,
        "status": "Success",
        "json_endpoint": f"https://serpapi.com/searches/{sid}.json",
        "created_at": stamp,
        "processed_at": stamp,
        engine_url[0]: engine_url[1],
        "raw_html_file": f"https://serpapi.com/searches/{sid}.html",
        "total_time_taken": round(0.8 + int(sid[:2], 16) / 100, 2),
    }


def youtube_search(params: dict[str, str], now: float, videos: list[dict] | None = None) -> dict[str, Any]:
    """The engine=youtube body; `videos` (partial dicts) replace the generated list."""
    query = params["search_query"]
    rng = rng_for("youtube", query, params.get("gl", ""), params.get("hl", ""))
    url = ("youtube_url", "https://www.youtube.com/results?" + urlencode({"search_query": query}))
    body: dict[str, Any] = {
        "search_metadata": metadata(params, url, now),
        "search_parameters": _echo(params, "search_query"),
    }
    if videos is None:
        results = [_video(rng, query, i + 1) for i in range(20)]
    else:
        results = [{**_video(rng, query, i + 1), **v} for i, v in enumerate(videos)]
    if not results:
        body["search_information"] = {"video_results_state": "Fully empty"}
        body["error"] = NO_RESULTS["youtube"]
        return body
    body["search_information"] = {
        "total_results": rng.randint(10_000, 9_000_000),
        "video_results_state": "Results for exact spelling",
    }
    body["video_results"] = results
    token = search_id({"page": "2", **params})
    body["serpapi_pagination"] = {
        "current": "https://serpapi.com/search.json?" + urlencode({"engine": "youtube", "search_query": query}),
        "next_page_token": token,
        "next": "https://serpapi.com/search.json?"
        + urlencode({"engine": "youtube", "search_query": query, "sp": token}),
    }
    return body


def _video(rng: random.Random, query: str, position: int) -> dict[str, Any]:
    video_id = "".join(rng.choice(ID_ALPHABET) for _ in range(11))
    channel = rng.choice(CHANNELS)
    handle = channel.replace(" ", "")
    seconds = rng.randint(45, 5400)
    title = rng.choice(TITLE_TEMPLATES).format(Q=query.title(), n=rng.randint(3, 12), m=rng.randint(5, 20), year=2026)
    return {
        "position_on_page": position,
        "title": title,
        "link": f"https://www.youtube.com/watch?v={video_id}",
        "serpapi_link": "https://serpapi.com/search.json?" + urlencode({"engine": "youtube_video", "v": video_id}),
        "channel": {
            "name": channel,
            "link": f"https://www.youtube.com/@{handle}",
            "verified": rng.random() < 0.3,
            "thumbnail": f"https://yt3.ggpht.com/{handle}=s68-c-k-c0x00ffffff-no-rj",
        },
        "published_date": _ago(rng),
        "views": int(10 ** rng.uniform(2.5, 7)),
        "length": _length(seconds),
        "description": f"In this video: {query}, explained step by step with examples.",
        "extensions": ["4K"] if rng.random() < 0.2 else [],
        "thumbnail": {
            "static": f"https://i.ytimg.com/vi/{video_id}/hq720.jpg",
            "rich": f"https://i.ytimg.com/an_webp/{video_id}/mqdefault_6s.webp",
        },
    }


def autocomplete(params: dict[str, str], now: float, values: list[str] | None = None) -> dict[str, Any]:
    """The engine=google_autocomplete body; `values` replace the generated suggestions."""
    query = params["q"]
    client = params.get("client", "")
    url = (
        "google_autocomplete_url",
        "https://suggestqueries.google.com/complete/search?" + urlencode({"client": client or "chrome", "q": query}),
    )
    body: dict[str, Any] = {"search_metadata": metadata(params, url, now), "search_parameters": _echo(params, "q")}
    if values is None:
        rng = rng_for("autocomplete", query, client)
        suffixes = list(SUGGESTION_SUFFIXES[1:])
        rng.shuffle(suffixes)
        values = [query.lower()] + [query.lower() + s for s in suffixes[:9]]
    if not values:
        body["error"] = NO_RESULTS["google_autocomplete"]
        return body
    body["suggestions"] = [
        {
            "value": value,
            "relevance": 1250 - 50 * i,
            "type": "QUERY",
            "serpapi_link": "https://serpapi.com/search.json?"
            + urlencode({"engine": "google_autocomplete", "q": value}),
        }
        for i, value in enumerate(values)
    ]
    body["verbatim_relevance"] = 1300
    return body


def _echo(params: dict[str, str], query_name: str) -> dict[str, str]:
    """search_parameters: what SerpApi echoes (never the api_key)."""
    skip = {"api_key", "output", "source", "serp_api_key", "no_cache", "async"}
    echoed = {"engine": params["engine"], query_name: params[query_name]}
    echoed.update({k: v for k, v in params.items() if k not in skip and k not in echoed})
    return echoed


def _ago(rng: random.Random) -> str:
    unit, top = rng.choice((("day", 6), ("week", 4), ("month", 11), ("year", 8)))
    n = rng.randint(1, top)
    return f"{n} {unit}{'s' if n > 1 else ''} ago"


def _length(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
