"""`FakeGoogle`: Google OAuth 2.0 and the YouTube Data API v3 on one local server.

Why one server for all: an access token issued by the OAuth fake must be the
one the API fakes accept, and revoking it must lock them all out. The YouTube
Analytics and Reporting APIs are more blueprints on the same token store
(analytics_api.py), with a quota of their own (`analytics_quota`). The app
reaches it only through its base-URL settings:

    with FakeGoogle() as google:
        google.world.add_channel("user-1", title="Cooking", n_videos=120)
        app = create_app({**config, **google.settings()})

    GOOGLE_OAUTH_AUTHORIZE_URL = <url>/o/oauth2/v2/auth
    GOOGLE_OAUTH_TOKEN_URL     = <url>/token
    GOOGLE_OAUTH_REVOKE_URL    = <url>/revoke
    YOUTUBE_API_BASE_URL       = <url>/youtube/v3
    YOUTUBE_ANALYTICS_BASE_URL = <url>/youtubeanalytics/v2
    YOUTUBE_REPORTING_BASE_URL = <url>/youtubereporting/v1
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, request

from tests.fakes.clock import Clock
from tests.fakes.server import FakeServer

from .analytics_api import ReportingState, create_analytics_blueprints
from .oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, OAuthState
from .oauth_routes import create_oauth_blueprint
from .quota import ANALYTICS_COSTS, DEFAULT_DAILY_LIMIT, Faults, Quota
from .world import World
from .youtube_api import create_youtube_blueprint


@dataclass
class RecordedRequest:
    """One request as the fake received it, for assertions on the wire format."""

    method: str
    path: str
    args: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    body: str
    json: Any = None
    at: float = 0.0


class FakeGoogle:
    def __init__(
        self,
        *,
        seed: int = 0,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        redirect_uris: tuple[str, ...] = (),
        expires_in: int = 3599,
        daily_quota: int = DEFAULT_DAILY_LIMIT,
        latency_s: float = 0.0,
    ) -> None:
        self.clock = Clock()
        self.world = World(seed, now=self.clock.utcnow)
        self.oauth = OAuthState(self.clock, self.world, expires_in=expires_in)
        self.oauth.register_client(client_id, client_secret, redirect_uris)
        self.client_id, self.client_secret = client_id, client_secret
        self.quota = Quota(self.clock, daily_quota)
        self.analytics_quota = Quota(self.clock, daily_quota, costs=ANALYTICS_COSTS)  # an API quota of its own
        self.reporting = ReportingState()
        self.faults = Faults()
        self.latency_s = latency_s
        self.calls: Counter[str] = Counter()
        self.update_bodies: list[Any] = []
        self.requests: list[RecordedRequest] = []
        self._log_lock = threading.Lock()
        self.app = self._create_app()
        self.server = FakeServer(self.app)

    # --- lifecycle ----------------------------------------------------------

    def start(self) -> FakeGoogle:
        self.server.start()
        return self

    def stop(self) -> None:
        self.faults.clear()  # a held call answers now: no server thread is left waiting
        self.server.stop()

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- addresses ----------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def authorize_url(self) -> str:
        return self.url + "/o/oauth2/v2/auth"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def revoke_url(self) -> str:
        return self.url + "/revoke"

    @property
    def youtube_base_url(self) -> str:
        return self.url + "/youtube/v3"

    @property
    def analytics_base_url(self) -> str:
        return self.url + "/youtubeanalytics/v2"

    @property
    def reporting_base_url(self) -> str:
        return self.url + "/youtubereporting/v1"

    def settings(self) -> dict[str, str]:
        """The app's configuration names pointing at this fake (DESIGN.md)."""
        return {
            "GOOGLE_CLIENT_ID": self.client_id,
            "GOOGLE_CLIENT_SECRET": self.client_secret,
            "GOOGLE_OAUTH_AUTHORIZE_URL": self.authorize_url,
            "GOOGLE_OAUTH_TOKEN_URL": self.token_url,
            "GOOGLE_OAUTH_REVOKE_URL": self.revoke_url,
            "YOUTUBE_API_BASE_URL": self.youtube_base_url,
            "YOUTUBE_ANALYTICS_BASE_URL": self.analytics_base_url,
            "YOUTUBE_REPORTING_BASE_URL": self.reporting_base_url,
        }

    # --- assertions ---------------------------------------------------------

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path ends with `path` (e.g. "/videos", "/token")."""
        with self._log_lock:
            return [r for r in self.requests if r.path.endswith(path) and method in (None, r.method)]

    def count_call(self, endpoint: str) -> None:
        with self._log_lock:  # the server is threaded; Counter += is not atomic
            self.calls[endpoint] += 1

    def reset_counters(self) -> None:
        """Forget calls, update bodies, recorded requests and today's quota use."""
        with self._log_lock:
            self.requests.clear()
            self.calls.clear()
        self.update_bodies.clear()
        self.quota.reset()
        self.analytics_quota.reset()

    # --- internals ----------------------------------------------------------

    def _create_app(self) -> Flask:
        app = Flask("fake_google")
        app.json.sort_keys = False  # keep Google's key order; some clients print it
        app.register_blueprint(create_oauth_blueprint(self))
        app.register_blueprint(create_youtube_blueprint(self))
        for blueprint in create_analytics_blueprints(self):
            app.register_blueprint(blueprint)
        app.before_request(self._record)
        return app

    def _record(self) -> None:
        body = request.get_data(cache=True, as_text=True)
        entry = RecordedRequest(
            method=request.method,
            path=request.path,
            args=request.args.to_dict(),
            form=request.form.to_dict(),
            headers=dict(request.headers),
            body=body,
            json=request.get_json(silent=True),
            at=self.clock.now(),
        )
        with self._log_lock:
            self.requests.append(entry)


def fake_google_fixture(*, scope: str = "function", name: str = "fake_google", **options: Any):
    """A pytest fixture yielding a started FakeGoogle; options go to the constructor.

    fake_google = fake_google_fixture()                    # in a test module
    google_slow = fake_google_fixture(name="google_slow", latency_s=0.02)
    """

    @pytest.fixture(scope=scope, name=name)
    def _fixture() -> Iterator[FakeGoogle]:
        with FakeGoogle(**options) as fake:
            yield fake

    return _fixture
