"""Per-account password limits (issue 10, item 5): guesses at one account
from many addresses meet growing delays (never over 15 minutes); during a
delay even the right password gets 429 with Retry-After, then the delay
ends; an unknown email is answered exactly like a known one; the settings
page's password forms count against the same account.

Each "address" is its own test client with environ_base REMOTE_ADDR (the
app trusts no proxy in tests). Real PostgreSQL and Redis; delays of one or
a few seconds so that the test can wait for their end (long enough that a
slow machine still asks again within the delay: Retry-After may then be a
second less)."""

from __future__ import annotations

import re
import time

import pytest

from reliability.config import load_settings
from reliability.db import dispose_pool
from reliability.errors import ConfigError
from tests.helpers import STRONG_PASSWORD, csrf_from, login

EMAIL = "owner@example.com"
WRONG = "not the password at all"


@pytest.fixture
def limited_app(app_config):
    """Two free failures, then 2 s, 4 s, 4 s... (the cap); a per-address
    limit loose enough to stay out of the way."""
    from reliability.db import transaction
    from webapp import create_app
    from webapp.accounts.passwords import hash_password
    from webapp.accounts.store import create_user

    app = create_app(
        {
            **app_config,
            "LOGIN_RATE_LIMIT": "100 per minute",
            "LOGIN_ACCOUNT_FREE_ATTEMPTS": 2,
            "LOGIN_ACCOUNT_FIRST_DELAY_S": 2,
            "LOGIN_ACCOUNT_MAX_DELAY_S": 4,
        }
    )
    with app.app_context(), transaction() as cur:
        create_user(cur, EMAIL, hash_password(STRONG_PASSWORD, app.config["BCRYPT_ROUNDS"]))
    yield app
    create_app(app_config)
    dispose_pool()


_addresses = iter(range(1, 10_000))


def _from_new_address(app):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"198.51.100.{next(_addresses) % 250 + 1}"
    return client


def _attempt(app, password: str, email: str = EMAIL):
    return login(_from_new_address(app), email, password)


def _message(response) -> str:
    """The error the form shows."""
    [message] = re.findall(r'class="flash flash-error" role="alert">([^<]*)<', response.get_data(as_text=True))
    return message


def _retry_after(response, expected: int) -> int:
    """The refusal's Retry-After: the delay, or a second less if the
    machine was slow between the failure and this request."""
    assert response.status_code == 429
    seconds = int(response.headers["Retry-After"])
    assert expected - 1 <= seconds <= expected and seconds >= 1, (seconds, expected)
    return seconds


def _logged_in(response) -> bool:
    return response.status_code == 302 and "/login" not in response.headers["Location"]


def test_a_per_account_limit_holds_across_addresses_and_ends(limited_app):
    assert [_attempt(limited_app, WRONG).status_code for _ in range(3)] == [401, 401, 401]
    # The third failure started a delay: a fourth address, with the right
    # password, is refused until it ends.
    refused = _attempt(limited_app, STRONG_PASSWORD)
    wait = _retry_after(refused, 2)
    assert "Too many failed attempts for this account" in refused.get_data(as_text=True)
    assert f"Try again in {wait} second" in refused.get_data(as_text=True)

    time.sleep(wait + 0.1)
    assert _logged_in(_attempt(limited_app, STRONG_PASSWORD))
    # A success forgets the failures: two more wrong ones are free again.
    assert [_attempt(limited_app, WRONG).status_code for _ in range(2)] == [401, 401]
    assert _logged_in(_attempt(limited_app, STRONG_PASSWORD))


def test_delays_grow_and_stop_at_the_maximum(limited_app):
    waits = []
    for _ in range(2):
        _attempt(limited_app, WRONG)
    for expected in (2, 4, 4):  # doubled, then held at the maximum
        assert _attempt(limited_app, WRONG).status_code == 401  # each starts a delay
        waits.append(_retry_after(_attempt(limited_app, WRONG), expected))
        if len(waits) < 3:
            time.sleep(waits[-1] + 0.1)
    assert waits[1] > waits[0]


def test_the_maximum_delay_cannot_be_set_above_15_minutes():
    with pytest.raises(ConfigError, match="LOGIN_ACCOUNT_MAX_DELAY_S"):
        load_settings({"LOGIN_ACCOUNT_MAX_DELAY_S": "901"})


def test_an_unknown_email_gets_the_same_answers_as_a_known_one(limited_app):
    def story(email):
        answers = [_attempt(limited_app, WRONG, email) for _ in range(4)]
        # The wait itself may differ by a second on a slow machine.
        return [
            (r.status_code, "Retry-After" in r.headers, re.sub(r"\d+ seconds?", "N seconds", _message(r)))
            for r in answers
        ]

    known, unknown = story(EMAIL), story("nobody@example.com")
    assert [status for status, _, _ in known] == [401, 401, 401, 429]
    assert known == unknown


def test_another_account_is_not_slowed_by_the_attack(limited_app):
    from reliability.db import transaction
    from webapp.accounts.passwords import hash_password
    from webapp.accounts.store import create_user

    with limited_app.app_context(), transaction() as cur:
        create_user(cur, "neighbour@example.com", hash_password(STRONG_PASSWORD, limited_app.config["BCRYPT_ROUNDS"]))
    for _ in range(3):
        _attempt(limited_app, WRONG)
    assert _attempt(limited_app, STRONG_PASSWORD).status_code == 429
    assert _logged_in(_attempt(limited_app, STRONG_PASSWORD, "neighbour@example.com"))


def _settings_post(client, url: str, current_password: str):
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    return client.post(
        url,
        data={
            "current_password": current_password,
            "password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
            "csrf_token": token,
        },
    )


@pytest.mark.parametrize("url", ["/settings/password", "/settings/delete"])
def test_the_settings_password_forms_count_against_the_same_account(limited_app, url):
    # Someone at an unlocked laptop guesses the password to change it or to
    # delete the account: the same limit as the login form.
    laptop = _from_new_address(limited_app)
    assert _logged_in(login(laptop, EMAIL, STRONG_PASSWORD))
    assert [_settings_post(laptop, url, WRONG).status_code for _ in range(3)] == [400, 400, 400]

    refused = _settings_post(laptop, url, STRONG_PASSWORD)
    wait = _retry_after(refused, 2)
    assert "Too many failed attempts for this account" in refused.get_data(as_text=True)
    # Nothing changed: the old password still works once the delay is over,
    # and until then the login form is in the same delay.
    assert _attempt(limited_app, STRONG_PASSWORD).status_code == 429
    time.sleep(wait + 0.1)
    assert _logged_in(_attempt(limited_app, STRONG_PASSWORD))
