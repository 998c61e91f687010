"""API authentication (issue 16, item 1): access and refresh tokens, their
rotation and revocation, personal tokens, and every way a token is refused,
each a 401 with its own code.

Real PostgreSQL and Redis of the test session; tokens are made by the
endpoints, or forged here with PyJWT the way an attacker would."""

from __future__ import annotations

import datetime as dt
import re

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers import STRONG_PASSWORD, csrf_from, login
from webapp.api import jwt_tokens

EMAIL = "scripter@example.com"
NEW_PASSWORD = "a completely different passphrase"


def _make_user(app, email: str = EMAIL) -> int:
    from reliability.db import transaction
    from webapp.accounts.passwords import hash_password
    from webapp.accounts.store import create_user, find_by_email

    with app.app_context(), transaction() as cur:
        create_user(cur, email, hash_password(STRONG_PASSWORD, app.config["BCRYPT_ROUNDS"]))
        return int(find_by_email(cur, email)["id"])


def _tokens(client, email: str = EMAIL, password: str = STRONG_PASSWORD) -> dict:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _me(client, token: str):
    return client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


def _refused(response, code: str) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def _claims(user_id: int, **changes) -> dict:
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": jwt_tokens.ISSUER,
        "aud": jwt_tokens.AUDIENCE,
        "sub": str(user_id),
        "fam": 1,
        "iat": now,
        "nbf": now,
        "exp": now + dt.timedelta(minutes=5),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def user_id(app):
    return _make_user(app)


@pytest.fixture
def key(app):
    with app.app_context():
        return jwt_tokens.signing_keys(app.config)[0]


def _forge(key, claims: dict, *, family: int) -> str:
    kid, secret = key
    return jwt.encode({**claims, "fam": family}, secret, algorithm="HS256", headers={"kid": kid})


def _family(client) -> tuple[dict, int]:
    pair = _tokens(client)
    family = jwt.decode(pair["access_token"], options={"verify_signature": False})["fam"]
    return pair, family


# -- the token endpoint --------------------------------------------------------


def test_email_and_password_give_a_working_pair(client, user_id):
    pair = _tokens(client)
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 900
    header = jwt.get_unverified_header(pair["access_token"])
    assert header["alg"] == "HS256" and header["kid"]
    response = _me(client, pair["access_token"])
    assert response.status_code == 200
    assert response.get_json() == {"id": user_id, "email": EMAIL, "authenticated_by": "bearer"}
    assert "Set-Cookie" not in response.headers  # a bearer call starts no browser session


def test_wrong_password_and_unknown_email_get_the_same_401(client, user_id):
    for email, password in ((EMAIL, "not the password at all"), ("nobody@example.com", STRONG_PASSWORD)):
        response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
        _refused(response, "invalid_credentials")
        assert response.get_json()["error"]["message"] == "Incorrect email or password."


def test_a_bad_body_is_422_with_field_paths(client, user_id):
    response = client.post("/api/v1/auth/token", json={"email": EMAIL, "extra": 1})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input"
    assert {field["path"] for field in error["details"]["fields"]} == {"password", "extra"}
    response = client.post("/api/v1/auth/token", data="{not json", content_type="application/json")
    assert response.status_code == 422
    response = client.post("/api/v1/auth/token", data={"email": EMAIL})
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"


# -- access tokens refused, each with its code ------------------------------------


def test_an_expired_access_token_is_token_expired(client, user_id, key):
    _, family = _family(client)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    token = _forge(key, _claims(user_id, iat=past, nbf=past, exp=past + dt.timedelta(minutes=15)), family=family)
    _refused(_me(client, token), "token_expired")
    # The same token with a live expiry is accepted: the refusal was the expiry.
    assert _me(client, _forge(key, _claims(user_id), family=family)).status_code == 200


def test_wrong_audience_issuer_or_a_missing_claim_is_invalid_token(client, user_id, key):
    _, family = _family(client)
    for changes in ({"aud": "someone-else"}, {"iss": "https://evil.example"}, {"nbf": None}, {"iat": None}):
        _refused(_me(client, _forge(key, _claims(user_id, **changes), family=family)), "invalid_token")
    future = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    _refused(_me(client, _forge(key, _claims(user_id, nbf=future), family=family)), "invalid_token")


def test_alg_none_is_refused(client, user_id, key):
    _, family = _family(client)
    unsigned = jwt.encode(
        {**_claims(user_id), "fam": family}, None, algorithm="none", headers={"kid": key[0]}
    )  # an attacker needs no key at all
    _refused(_me(client, unsigned), "invalid_token")


def test_rs256_and_the_hs_rs_confusion_are_refused(client, user_id, key):
    _, family = _family(client)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {**_claims(user_id), "fam": family}
    rs256 = jwt.encode(claims, private, algorithm="RS256", headers={"kid": key[0]})
    _refused(_me(client, rs256), "invalid_token")
    # The confusion attack: HMAC keyed with a public key, hoping the server
    # verifies "HS256" with the key it would use for RS256.
    confused = _hmac_with(public_pem, claims, key[0])
    _refused(_me(client, confused), "invalid_token")


def _hmac_with(secret: bytes, claims: dict, kid: str) -> str:
    # PyJWT refuses a PEM as an HMAC key (its own guard); an attacker does it by hand.
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    body = {k: int(v.timestamp()) if isinstance(v, dt.datetime) else v for k, v in claims.items()}
    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': kid}).encode())}.{b64(json.dumps(body).encode())}"
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def test_a_tampered_token_is_refused(client, user_id, key):
    pair, family = _family(client)
    head, payload, signature = pair["access_token"].split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    _refused(_me(client, f"{head}.{payload}.{flipped}"), "invalid_token")
    # Another user's id in the payload, signature kept: refused too.
    other = jwt.encode({**_claims(user_id + 1), "fam": family}, b"x" * 32, algorithm="HS256")
    _refused(_me(client, f"{head}.{other.split('.')[1]}.{signature}"), "invalid_token")
    # Signed with a key this server does not know, or an unknown kid.
    _refused(_me(client, _forge(("sk", b"y" * 32), _claims(user_id), family=family)), "invalid_token")
    _refused(_me(client, _forge(("other", key[1]), _claims(user_id), family=family)), "invalid_token")
    _refused(_me(client, "not.a.jwt"), "invalid_token")


def test_rotated_keys_verify_by_kid(app_config, user_id):
    from webapp import create_app

    old, new = ("old", "o" * 40), ("new", "n" * 40)
    before = create_app({**app_config, "JWT_SIGNING_KEYS": [old]}).test_client()
    pair = _tokens(before)
    assert jwt.get_unverified_header(pair["access_token"])["kid"] == "old"
    after = create_app({**app_config, "JWT_SIGNING_KEYS": [new, old]}).test_client()
    assert _me(after, pair["access_token"]).status_code == 200  # the old key still verifies
    assert jwt.get_unverified_header(_tokens(after)["access_token"])["kid"] == "new"
    dropped = create_app({**app_config, "JWT_SIGNING_KEYS": [new]}).test_client()
    _refused(_me(dropped, pair["access_token"]), "invalid_token")


# -- refresh: rotation and reuse -------------------------------------------------


def _refresh(client, refresh_token: str):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def test_a_refresh_token_works_once_and_its_reuse_revokes_the_family(client, user_id):
    first = _tokens(client)
    response = _refresh(client, first["refresh_token"])
    assert response.status_code == 200
    second = response.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert _me(client, second["access_token"]).status_code == 200
    # The spent token again: a copy is in someone's hands.
    _refused(_refresh(client, first["refresh_token"]), "refresh_token_reused")
    # The whole family is gone: the newer refresh token and every access token.
    _refused(_refresh(client, second["refresh_token"]), "token_revoked")
    _refused(_me(client, second["access_token"]), "token_revoked")
    _refused(_me(client, first["access_token"]), "token_revoked")
    # Another login of the same user is not touched.
    other = _tokens(client)
    assert _me(client, other["access_token"]).status_code == 200


def test_an_unknown_refresh_token_is_invalid(client, user_id):
    _refused(_refresh(client, "ycort_made-up"), "invalid_token")


# -- revocation: logout, personal tokens, password change, everywhere, deletion ---


def test_logout_revokes_the_login(client, user_id):
    pair = _tokens(client)
    response = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert response.status_code == 204  # a bearer write needs no CSRF token
    _refused(_me(client, pair["access_token"]), "token_revoked")
    _refused(_refresh(client, pair["refresh_token"]), "token_revoked")


def test_logout_with_only_the_refresh_token(client, user_id):
    pair = _tokens(client)
    response = client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 204
    _refused(_me(client, pair["access_token"]), "token_revoked")


def _personal_token(app, name: str = "nightly script") -> tuple[object, str]:
    browser = app.test_client()
    assert login(browser, EMAIL).status_code == 302
    page = browser.get("/settings/api-tokens")
    response = browser.post(
        "/settings/api-tokens", data={"name": name, "csrf_token": csrf_from(page.get_data(as_text=True))}
    )
    assert response.status_code == 201
    token = re.search(r"<code>(ycopat_[A-Za-z0-9_-]+)</code>", response.get_data(as_text=True)).group(1)
    assert token not in browser.get("/settings/api-tokens").get_data(as_text=True)  # shown once
    return browser, token


def _stored_hashes(outside) -> list[bytes]:
    with outside.cursor() as cur:
        cur.execute("SELECT token_hash FROM api_personal_tokens")
        return [bytes(row[0]) for row in cur.fetchall()]


def test_a_personal_token_works_until_revoked(app, client, user_id, outside):
    browser, token = _personal_token(app)
    assert token.encode() not in b"".join(_stored_hashes(outside))  # only a hash is stored
    assert _me(client, token).status_code == 200
    page = browser.get("/settings/api-tokens").get_data(as_text=True)
    assert "nightly script" in page and "never" not in page  # its last use is shown
    token_id = re.search(r'id="token-(\d+)"', page).group(1)
    response = browser.post(f"/settings/api-tokens/{token_id}/revoke", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    _refused(_me(client, token), "token_revoked")
    _refused(_me(client, token[:-3] + "abc"), "invalid_token")


def test_another_users_token_cannot_be_revoked(app, user_id):
    _make_user(app, "stranger@example.com")
    _, token = _personal_token(app)
    stranger = app.test_client()
    login(stranger, "stranger@example.com")
    page = stranger.get("/settings/api-tokens").get_data(as_text=True)
    with app.app_context():
        from reliability.db import read
        from webapp.api import token_store

        token_id = read(token_store.list_personal, user_id)[0]["id"]
    response = stranger.post(f"/settings/api-tokens/{token_id}/revoke", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 404
    assert _me(app.test_client(), token).status_code == 200


def test_a_password_change_revokes_every_token(app, client, user_id):
    browser, personal = _personal_token(app)
    pair = _tokens(client)
    page = browser.get("/settings").get_data(as_text=True)
    response = browser.post(
        "/settings/password",
        data={
            "current_password": STRONG_PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_from(page),
        },
    )
    assert response.status_code == 302
    _refused(_me(client, pair["access_token"]), "token_revoked")
    _refused(_refresh(client, pair["refresh_token"]), "token_revoked")
    _refused(_me(client, personal), "token_revoked")
    assert _me(client, _tokens(client, password=NEW_PASSWORD)["access_token"]).status_code == 200


def test_log_out_everywhere_revokes_every_token(app, client, user_id):
    browser, personal = _personal_token(app)
    pair = _tokens(client)
    page = browser.get("/settings").get_data(as_text=True)
    assert browser.post("/settings/sessions/end-all", data={"csrf_token": csrf_from(page)}).status_code == 302
    _refused(_me(client, pair["access_token"]), "token_revoked")
    _refused(_refresh(client, pair["refresh_token"]), "token_revoked")
    _refused(_me(client, personal), "token_revoked")


def test_account_deletion_revokes_every_token(app, client, user_id):
    browser, personal = _personal_token(app)
    pair = _tokens(client)
    page = browser.get("/settings").get_data(as_text=True)
    response = browser.post(
        "/settings/delete", data={"current_password": STRONG_PASSWORD, "confirm": "y", "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302
    assert _me(client, pair["access_token"]).status_code == 401
    assert _me(client, personal).status_code == 401
    assert _refresh(client, pair["refresh_token"]).status_code == 401


# -- the header decides --------------------------------------------------------------


def test_a_bad_bearer_is_refused_even_with_a_good_cookie(app, user_id):
    browser = app.test_client()
    login(browser, EMAIL)
    assert browser.get("/api/v1/auth/me").get_json()["authenticated_by"] == "session"
    _refused(_me(browser, "ycopat_nope"), "invalid_token")


def test_the_authorization_header_is_ignored_outside_the_api(app, user_id):
    response = app.test_client().get("/login", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 200


def test_control_characters_are_refused_not_a_server_error(app, client, user_id):
    response = client.post("/api/v1/auth/token", json={"email": "a\x00b@example.com", "password": "x"})
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["fields"][0]["path"] == "email"
    browser = app.test_client()
    login(browser, EMAIL)
    page = browser.get("/settings/api-tokens").get_data(as_text=True)
    response = browser.post("/settings/api-tokens", data={"name": "night\x00ly", "csrf_token": csrf_from(page)})
    assert response.status_code == 400
    assert "Use letters, digits, spaces and punctuation only." in response.get_data(as_text=True)
