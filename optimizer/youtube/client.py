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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from optimizer.youtube import gate
from optimizer.youtube.quota import COSTS, PAGE_SIZE
from reliability import metrics
from reliability.breaker import CircuitBreaker, Permit

log = logging.getLogger(__name__)

MAX_IDS_PER_CALL = 50
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
        costs: Mapping[str, int] = COSTS,
        retry_quota: bool = False,
    ):
        self.base_url = base_url.rstrip("/")
        # The cost table of the API this client speaks (the Analytics and Reporting APIs have their own).
        self._costs = costs
        # The Analytics API's quota is counted per minute as well as per day: worth one more try there.
        self._retry_quota = retry_quota
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
        gate.check_writable(
            snippet.get("title") or "", snippet.get("description") or "", list(snippet.get("tags") or [])
        )
        return self._request(
            "videos.update", "PUT", "/videos", {"part": "snippet"}, {"id": video_id, "snippet": snippet}
        )

    def caption_tracks(self, video_id: str) -> list[dict[str, Any]]:
        return self._get("captions.list", "/captions", {"part": "snippet", "videoId": video_id}).get("items", [])

    def download_caption(self, caption_id: str, fmt: str = "srt") -> str:
        return self._request("captions.download", "GET", f"/captions/{caption_id}", {"tfmt": fmt}, raw=True)

    # -- plumbing -----------------------------------------------------------

    def _get(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._request(method, "GET", path, params)

    def _request(
        self,
        method: str,
        http_method: str,
        path: str,
        params: dict[str, Any],
        body: dict[str, Any] | None = None,
        raw: bool = False,
    ) -> Any:  # the decoded JSON body, or the body's text when raw
        refreshed = False
        attempt = 0
        while True:
            permit = self._breaker.allow() if self._breaker else None  # CircuitOpen ends the job's attempt
            started = time.perf_counter()
            try:
                response = self._send(method, http_method, path, params, body)
            except requests.RequestException as exc:
                metrics.external_call("youtube", "connection_error", time.perf_counter() - started)
                error = YouTubeError(0, "networkError", type(exc).__name__)
                self._answered(Call(method, 0, 0))
                _report(permit, error)
            else:
                answer_error = None if response.ok else parse_error(response)
                metrics.external_call("youtube", _outcome(answer_error), time.perf_counter() - started)
                _report(permit, answer_error)
                if answer_error is None:
                    self._answered(Call(method, self._costs[method], response.status_code))
                    return response.text if raw else response.json()
                error = answer_error
                self._answered(Call(method, charged_units(self._costs[method], error), response.status_code))
                if error.status == 401 and not refreshed:
                    refreshed = True
                    self._token_source(True)
                    continue
            retryable = error.retryable or (self._retry_quota and isinstance(error, QuotaExceeded))
            if not retryable or attempt >= self._max_retries:
                raise error
            self._sleep(min(30.0, self._backoff * 2**attempt) * (0.5 + random.random() / 2))
            attempt += 1

    def _answered(self, call: Call) -> None:
        if call.method not in PREPAID:  # a prepaid write is in the ledger already
            self._charged(call)

    def _charged(self, call: Call) -> None:
        metrics.youtube_units(call.method, call.units)
        self._on_call(call)

    def _send(
        self, method: str, http_method: str, path: str, params: dict[str, Any], body: dict[str, Any] | None
    ) -> requests.Response:
        token = self._token_source(False)
        if method in PREPAID:
            self._charged(Call(method, self._costs[method], 0))
        return self._session.request(
            http_method,
            self.base_url + path,
            params=params,
            json=body,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self._timeout,
        )


def _outcome(error: YouTubeError | None) -> str:
    """A few fixed words for the metrics (never the reason text Google sent)."""
    if error is None:
        return "ok"
    if isinstance(error, QuotaExceeded):
        return "quota_exceeded"
    if isinstance(error, AuthError):
        return "auth_error"
    if error.status >= 500:
        return "server_error"
    return "rate_limited" if error.retryable else "client_error"


def counts_as_failure(error: BaseException) -> bool:
    """For the breaker: YouTube unwell (5xx, rate limiting, no answer), not
    a request of ours it refused (4xx, quota)."""
    return isinstance(error, YouTubeError) and error.retryable


def _report(permit: Permit | None, error: YouTubeError | None) -> None:
    if permit is None:
        return
    if error is None:
        permit.success()
    else:
        permit.failure(error)


def charged_units(units: int, error: YouTubeError) -> int:
    """What a failed call of ``units`` costs: a request YouTube processed and
    refused (400, 403 forbidden, 404) costs like a good one; one it could not
    serve (5xx), could not authenticate, or refused for quota or rate
    (quotaExceeded, rateLimitExceeded) costs nothing."""
    if error.status >= 500 or error.status in (0, 401) or isinstance(error, QuotaExceeded) or error.retryable:
        return 0
    return units


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
