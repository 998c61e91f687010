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
