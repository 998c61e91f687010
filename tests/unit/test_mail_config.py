"""MAIL_URL, MAIL_FROM and PUBLIC_BASE_URL are checked at start-up like every
other setting: one line naming the variable, never the secret."""

from __future__ import annotations

import pytest

from reliability.config import load_settings
from reliability.errors import ConfigError
from reliability.mail import parse_mail_url

PRODUCTION = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": "x" * 40,
    "DATABASE_URL": "postgresql://db/yco",
    "REDIS_URL": "redis://redis:6379/0",
}


def test_an_smtp_url_with_credentials_is_understood():
    server = parse_mail_url("smtp://mailer:p%40ss@smtp.example.com:2525")
    assert (server.scheme, server.host, server.port, server.username, server.password) == (
        "smtp",
        "smtp.example.com",
        2525,
        "mailer",
        "p@ss",
    )
    assert "p@ss" not in repr(server)
    assert parse_mail_url("smtps://smtp.example.com").port == 465
    assert parse_mail_url("smtp://smtp.example.com").port == 587


@pytest.mark.parametrize(
    "raw",
    [
        "http://smtp.example.com",
        "smtp://",
        "smtp://host:abc",
        "smtp://host/path",
        "mail.example.com",
        "smtp://user:secret-pw@host:99999",
    ],
)
def test_a_bad_mail_url_stops_start_up_with_one_line_that_hides_it(raw):
    with pytest.raises(ConfigError) as caught:
        load_settings({"MAIL_URL": raw})
    message = str(caught.value)
    assert message.startswith("MAIL_URL: expected smtp://")
    assert "\n" not in message and "secret-pw" not in message


def test_mail_from_must_be_an_address():
    with pytest.raises(ConfigError, match="^MAIL_FROM: expected an address"):
        load_settings({"MAIL_FROM": "nobody"})
    assert load_settings({"MAIL_FROM": "Ops <ops@example.com>"})["MAIL_FROM"] == "Ops <ops@example.com>"


def test_unset_mail_url_means_development_mail_to_disk():
    settings = load_settings({})
    assert settings["MAIL_URL"] is None and settings["PUBLIC_BASE_URL"] is None


def test_production_mail_needs_the_public_address_for_its_links():
    with pytest.raises(ConfigError, match="^PUBLIC_BASE_URL: "):
        load_settings({**PRODUCTION, "MAIL_URL": "smtps://smtp.example.com"})
    settings = load_settings(
        {**PRODUCTION, "MAIL_URL": "smtps://smtp.example.com", "PUBLIC_BASE_URL": "https://optimizer.example.com/"}
    )
    assert settings["PUBLIC_BASE_URL"] == "https://optimizer.example.com"
