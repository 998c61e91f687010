from tests.helpers import login, register


def test_register_then_dashboard(client):
    response = register(client)
    assert response.status_code == 302
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "creator@example.com" in page.get_data(as_text=True)


def test_login_page(client):
    assert client.get("/login").status_code == 200
    assert login(client).status_code == 401
