"""A small client for the YouTube Data API v3 over `requests`.

Why not google-api-python-client: it builds its methods from a discovery
document and hides the HTTP layer, while we need one retry layer of our own,
the quota cost of every call (failed ones too) and a configurable base URL
for self-hosters and tests. The API is a handful of REST calls.

This layer owns retrying: 5xx, `rateLimitExceeded` and network errors are
retried with exponential backoff and jitter; `quotaExceeded` is not (the
quota resets at midnight Pacific), nor are client errors. A 401 triggers one
token refresh.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import requests

from optimizer.youtube import gate
from optimizer.youtube.quota import COSTS
from reliability.breaker import CircuitBreaker

log = logging.getLogger(__name__)

MAX_IDS_PER_CALL = 50
PAGE_SIZE = 50
VIDEO_PARTS = "snippet,contentDetails,statistics,status"


class YouTubeError(Exception):
    """An error answer from YouTube (or no answer at all)."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"YouTube {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.status >= 500 or self.status == 0 or self.reason in ("rateLimitExceeded", "userRateLimitExceeded")


class QuotaExceeded(YouTubeError):
    """The project's daily quota is spent; nothing helps until midnight Pacific."""


class AuthError(YouTubeError):
    """The access token was refused even after a refresh."""


@dataclass
class Call:
    method: str
    units: int
    status: int


TokenSource = Callable[[bool], str]  # force_refresh -> access token

# Writes are counted at full price just before they go on the wire: a worker
# killed (or timed out) while one is in flight still has its units in the
# ledger, since YouTube may well have charged them. The answer adds nothing
# more. A write that never leaves (no token) costs nothing.
PREPAID = frozenset({"videos.update"})


class YouTubeClient:
    def __init__(
        self,
        base_url: str,
        token_source: TokenSource,
        *,
        timeout_s: float = 20.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        on_call: Callable[[Call], None] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        breaker: CircuitBreaker | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self._token_source = token_source
        self._timeout = timeout_s
        self._max_retries = max_retries
        self._backoff = backoff_s
        self._on_call = on_call or (lambda call: None)
        self._session = session or requests.Session()
        self._sleep = sleep
        self._breaker = breaker

    # -- the calls we use ---------------------------------------------------

    def my_channels(self) -> list[dict[str, Any]]:
        body = self._get("channels.list", "/channels", {"part": "snippet,contentDetails,statistics", "mine": "true"})
        return body.get("items", [])

    def playlist_page(self, playlist_id: str, page_token: str | None = None) -> dict[str, Any]:
        params = {"part": "contentDetails", "playlistId": playlist_id, "maxResults": PAGE_SIZE}
        if page_token:
            params["pageToken"] = page_token
        return self._get("playlistItems.list", "/playlistItems", params)

    def videos(self, video_ids: Iterable[str], parts: str = VIDEO_PARTS) -> list[dict[str, Any]]:
        ids = list(video_ids)
        if not ids:
            return []
        if len(ids) > MAX_IDS_PER_CALL:
            raise ValueError(f"videos.list takes at most {MAX_IDS_PER_CALL} ids")
        # No maxResults: Google documents it as unsupported together with id
        # (the number of ids already bounds the answer).
        return self._get("videos.list", "/videos", {"part": parts, "id": ",".join(ids)}).get("items", [])

    def update_video_snippet(self, video_id: str, snippet: dict[str, Any]) -> dict[str, Any]:
        """videos.update replaces the whole snippet: pass every field as read.
        Metadata YouTube would refuse (and charge for) is never sent."""
        gate.check_writable(snippet.get("title") or "", snippet.get("description") or "", list(snippet.get("tags") or []))
        return self._request("videos.update", "PUT", "/videos", {"part": "snippet"}, {"id": video_id, "snippet": snippet})

    def caption_tracks(self, video_id: str) -> list[dict[str, Any]]:
        return self._get("captions.list", "/captions", {"part": "snippet", "videoId": video_id}).get("items", [])

    def download_caption(self, caption_id: str, fmt: str = "srt") -> str:
        return self._request("captions.download", "GET", f"/captions/{caption_id}", {"tfmt": fmt}, raw=True)

    # -- plumbing -----------------------------------------------------------

    def _get(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._request(method, "GET", path, params)

    def _request(self, method: str, http_method: str, path: str, params: dict, body: dict | None = None, raw: bool = False):
        refreshed = False
        attempt = 0
        while True:
            permit = self._breaker.allow() if self._breaker else None  # CircuitOpen ends the job's attempt
            try:
                response = self._send(method, http_method, path, params, body)
            except requests.RequestException as exc:
                error = YouTubeError(0, "networkError", type(exc).__name__)
                self._answered(Call(method, 0, 0))
                _report(permit, error)
            else:
                _report(permit, None if response.ok else parse_error(response))
                if response.ok:
                    self._answered(Call(method, COSTS[method], response.status_code))
                    return response.text if raw else response.json()
                error = parse_error(response)
                self._answered(Call(method, charged_units(method, error), response.status_code))
                if error.status == 401 and not refreshed:
                    refreshed = True
                    self._token_source(True)
                    continue
            if not error.retryable or attempt >= self._max_retries:
                raise error
            self._sleep(min(30.0, self._backoff * 2**attempt) * (0.5 + random.random() / 2))
            attempt += 1

    def _answered(self, call: Call) -> None:
        if call.method not in PREPAID:  # a prepaid write is in the ledger already
            self._on_call(call)

    def _send(self, method: str, http_method: str, path: str, params: dict, body: dict | None) -> requests.Response:
        token = self._token_source(False)
        if method in PREPAID:
            self._on_call(Call(method, COSTS[method], 0))
        return self._session.request(
            http_method,
            self.base_url + path,
            params=params,
            json=body,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self._timeout,
        )


def counts_as_failure(error: BaseException) -> bool:
    """For the breaker: YouTube unwell (5xx, rate limiting, no answer), not
    a request of ours it refused (4xx, quota)."""
    return isinstance(error, YouTubeError) and error.retryable


def _report(permit, error: YouTubeError | None) -> None:
    if permit is None:
        return
    if error is None:
        permit.success()
    else:
        permit.failure(error)


def charged_units(method: str, error: YouTubeError) -> int:
    """What a failed call costs: a request YouTube processed and refused
    (400, 403 forbidden, 404) costs like a good one; one it could not
    serve (5xx), could not authenticate, or refused for quota or rate
    (quotaExceeded, rateLimitExceeded) costs nothing."""
    if error.status >= 500 or error.status in (0, 401) or isinstance(error, QuotaExceeded) or error.retryable:
        return 0
    return COSTS[method]


def parse_error(response: requests.Response) -> YouTubeError:
    """Google's error body: {"error": {"code", "message", "errors": [{"reason"}]}}."""
    reason, message = "unknown", response.reason or ""
    try:
        error = response.json().get("error", {})
        if isinstance(error, dict):
            message = error.get("message", message)
            details = error.get("errors") or [{}]
            reason = details[0].get("reason") or error.get("status") or reason
    except ValueError:
        pass
    cls = QuotaExceeded if reason in ("quotaExceeded", "dailyLimitExceeded") else YouTubeError
    if response.status_code == 401:
        cls = AuthError
    return cls(response.status_code, reason, message)
