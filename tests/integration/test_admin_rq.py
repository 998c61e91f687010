"""The RQ dashboard: admins only, same-origin POSTs, its own CSP."""

from tests.helpers import STRONG_PASSWORD, login, register


def _make_admin(app, email):
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "--email", email, "--password-stdin"], input=STRONG_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output


def test_dashboard_is_hidden_from_anonymous_and_members(client):
    assert client.get("/admin/rq/").status_code == 404
    register(client, "member@example.com")
    assert client.get("/admin/rq/").status_code == 404


def test_admin_sees_queues_with_its_own_csp(app, client):
    _make_admin(app, "boss@example.com")
    login(client, "boss@example.com")
    page = client.get("/admin/rq/")
    assert page.status_code == 200
    assert "'unsafe-eval'" in page.headers["Content-Security-Policy"]
    queues = client.get("/admin/rq/0/data/queues.json")
    assert queues.status_code == 200
    # Everywhere else the strict policy still holds.
    assert "'unsafe-eval'" not in client.get("/dashboard").headers["Content-Security-Policy"]


def test_cross_site_post_is_refused(app, client):
    _make_admin(app, "boss@example.com")
    login(client, "boss@example.com")
    url = "/admin/rq/queue/default/failed/empty"
    refused = client.post(url, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    allowed = client.post(url, headers={"Origin": "http://localhost"})
    assert allowed.status_code == 200


# -- the penetration test's findings (issue 10, item 1) --------------------------------

QUEUE = "pentest"
SAME_ORIGIN = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}


def _failed_job(redis_url: str):
    """A real job that really failed: int('not a number') run by a real
    (burst, in-process) RQ worker against the test Redis."""
    import redis
    from rq import Queue, SimpleWorker

    connection = redis.Redis.from_url(redis_url)
    queue = Queue(QUEUE, connection=connection)
    job = queue.enqueue("builtins.int", "not a number")
    SimpleWorker([queue], connection=connection).work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    return queue, job


def _admin_client(app):
    _make_admin(app, "boss@example.com")
    client = app.test_client()
    login(client, "boss@example.com")
    return client


def test_cross_site_get_to_requeue_changes_nothing(app, app_config):
    queue, job = _failed_job(app_config["REDIS_URL"])
    admin = _admin_client(app)
    # What a page on another origin gets by navigating the admin's browser
    # there (a link, a redirect, an <img>), with and without the fetch metadata.
    for headers in (
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
        {"Referer": "https://evil.example/attack"},
        {},
    ):
        response = admin.get(f"/admin/rq/requeue/{QUEUE}", headers=headers)
        assert response.status_code in (403, 405), headers
        assert job.get_status(refresh=True) == "failed"
        assert queue.failed_job_registry.get_job_ids() == [job.id]
        assert queue.count == 0


def test_cross_site_post_with_fetch_metadata_is_refused(app, app_config):
    queue, job = _failed_job(app_config["REDIS_URL"])
    admin = _admin_client(app)
    # A form on a sibling subdomain sends a matching-looking Origin only if
    # forged; the browser's Sec-Fetch-Site says where it came from.
    refused = admin.post(f"/admin/rq/requeue/{QUEUE}", headers={**SAME_ORIGIN, "Sec-Fetch-Site": "same-site"})
    assert refused.status_code == 403
    assert job.get_status(refresh=True) == "failed"


def test_same_origin_post_from_the_admin_requeues(app, app_config):
    queue, job = _failed_job(app_config["REDIS_URL"])
    admin = _admin_client(app)
    response = admin.post(f"/admin/rq/requeue/{QUEUE}", headers=SAME_ORIGIN)
    assert response.status_code == 200
    assert response.get_json() == {"status": "OK", "count": 1}
    assert job.get_status(refresh=True) == "queued"
    assert queue.job_ids == [job.id]


def test_every_state_changing_route_refuses_get(app, app_config):
    queue, job = _failed_job(app_config["REDIS_URL"])
    admin = _admin_client(app)
    for url in (
        f"/admin/rq/requeue/{QUEUE}",
        f"/admin/rq/job/{job.id}/requeue",
        f"/admin/rq/job/{job.id}/delete",
        f"/admin/rq/queue/{QUEUE}/failed/empty",
        f"/admin/rq/queue/{QUEUE}/compact",
    ):
        assert admin.get(url, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 405, url
    assert job.get_status(refresh=True) == "failed"


def _dashboard_urls(app, job_id: str) -> list[str]:
    """Every dashboard route from the app's URL map, filled in, plus the
    router's own answers (a redirect to the canonical URL, a 404 inside the
    prefix) that used to leak the dashboard to anyone."""
    values = {
        "instance_number": 0,
        "queue_name": QUEUE,
        "registry_name": "failed",
        "per_page": 10,
        "order": "asc",
        "page": 1,
        "job_id": job_id,
        "filename": "css/main.css",
    }
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("rq_dashboard."):
            urls.append(rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1])
    assert len(urls) >= 18, urls
    return urls + ["/admin/rq", "/admin/rq/0", "/admin/rq/0/view", "/admin/rq/no/such/page"]


def test_every_dashboard_url_is_404_to_non_admins(app, app_config):
    _, job = _failed_job(app_config["REDIS_URL"])
    anonymous = app.test_client()
    member = app.test_client()
    register(member, "member@example.com")
    for url in _dashboard_urls(app, job.id):
        for client in (anonymous, member):
            for method in ("GET", "POST"):
                response = client.open(url, method=method, headers=SAME_ORIGIN)
                assert response.status_code == 404, (method, url, response.status_code)
    assert job.get_status(refresh=True) == "failed"


def test_admin_gets_no_server_error_from_the_dashboard(app, app_config):
    _, job = _failed_job(app_config["REDIS_URL"])
    admin = _admin_client(app)
    assert admin.get("/admin/rq/0/view").status_code == 308  # to the canonical /admin/rq/
    assert admin.get("/admin/rq/1/view").status_code == 404  # no second Redis here
    for url in _dashboard_urls(app, job.id):
        assert admin.get(url, headers={"Sec-Fetch-Site": "same-origin"}).status_code < 500, url


def test_compact_on_an_empty_queue_is_not_a_server_error(app):
    admin = _admin_client(app)
    response = admin.post("/admin/rq/queue/nothing-here/compact", headers=SAME_ORIGIN)
    assert response.status_code == 200
    assert response.get_json() == {"status": "OK"}
