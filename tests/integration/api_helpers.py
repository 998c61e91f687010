"""Shared steps for the API tests: an account with a bearer token, a test
client that sends it on every call, and a demo channel with a finished run
(real suggestions made by the real optimize job in an in-process worker)."""

from __future__ import annotations

from typing import Any

from tests.helpers import STRONG_PASSWORD
from tests.integration.channel_helpers import import_demo, query, user_client
from tests.integration.optimize_helpers import burst

API = "/api/v1"


class ApiClient:
    """A Flask test client speaking to the API with the account's credentials."""

    def __init__(self, client: Any, headers: dict[str, str], email: str):
        self.client, self.headers, self.email = client, headers, email

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(API + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.call("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.call("PATCH", path, json=json, **kwargs)


def api_client(app: Any, email: str) -> ApiClient:
    """A registered account and a bearer access token for it, as a script
    gets one (POST /api/v1/auth/token). The test client is also logged in
    (registering logs in): the pages' helpers use it, and the API ignores the
    cookie when the Authorization header is sent."""
    client = user_client(app, email)
    response = app.test_client().post(API + "/auth/token", json={"email": email, "password": STRONG_PASSWORD})
    assert response.status_code == 200, response.get_data(as_text=True)
    return ApiClient(client, {"Authorization": f"Bearer {response.get_json()['access_token']}"}, email)


def demo_channel(api: ApiClient) -> int:
    return import_demo(api.client)


def video_ids(database_url: str, channel_id: int, n: int) -> list[int]:
    rows = query(
        database_url,
        "SELECT id FROM videos WHERE channel_id = %s AND removed_at IS NULL ORDER BY id LIMIT %s",
        (channel_id, n),
    )
    return [row["id"] for row in rows]


def finished_run(api: ApiClient, config: dict, channel_id: int, n: int) -> dict:
    """A batch of ``n`` videos asked for through the API and optimized by the
    real job; the run as GET /runs/{id} shows it afterwards."""
    ids = video_ids(config["DATABASE_URL"], channel_id, n)
    response = api.post("/videos/batch-optimize", json={"video_ids": ids})
    assert response.status_code == 202, response.get_data(as_text=True)
    burst(config)
    run = api.get(f"/runs/{response.get_json()['run']['id']}").get_json()
    assert run["status"] == "succeeded", run
    return run
