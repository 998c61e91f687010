"""reliability.config.load_settings: one clear line for a bad value, secure
production, secrets never echoed, the documented defaults; and the WSGI entry
point stopping on a bad value with that one line. No servers needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from reliability.config import SETTINGS, load_settings
from reliability.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-" + "x" * 33  # 40 characters
PRODUCTION = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": SECRET,
    "DATABASE_URL": "postgresql://app:pw@db.internal:5432/yco",
    "REDIS_URL": "redis://cache.internal:6379/0",
}


def config_error(environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ)
    message = str(caught.value)
    assert "\n" not in message, "a configuration error is one line"
    assert caught.value.message == message
    return message


# -- malformed values ----------------------------------------------------------------


@pytest.mark.parametrize("raw", ["abc", "0", "501", "5.5", "-3"])
def test_bad_pool_size_names_the_variable_and_what_was_expected(raw):
    message = config_error({"DATABASE_POOL_SIZE": raw})
    assert message.startswith("DATABASE_POOL_SIZE: ")
    assert "expected a whole number from 1 to 500" in message
    assert repr(raw) in message  # not a secret: the value helps the operator


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("ENVIRONMENT", "prod", "one of development, test, staging, production"),
        ("USE_STATISTICAL_ANALYSIS", "maybe", "true or false"),
        ("MIN_OPTIMIZATION_CONFIDENCE", "high", "a number from 0.5 to 0.999"),
        ("MIN_OPTIMIZATION_CONFIDENCE", "1.5", "a number from 0.5 to 0.999"),
        ("DATA_RETENTION_DAYS", "90", "a whole number from 1 to 30"),
        ("LOGIN_RATE_LIMIT", "lots", "rate limits such as"),
        ("ANTHROPIC_BASE_URL", "api.anthropic.com", "a URL starting with http:// or https://"),
        ("REDIS_URL", "localhost:6379", "a URL starting with redis://"),
    ],
)
def test_each_bad_value_gets_one_line_naming_it(name, raw, expected):
    message = config_error({name: raw})
    assert message.startswith(f"{name}: expected ")
    assert expected in message


def test_pool_size_plus_overflow_is_bounded():
    message = config_error({"DATABASE_POOL_SIZE": "500", "DATABASE_MAX_OVERFLOW": "501"})
    assert message.startswith("DATABASE_MAX_OVERFLOW: ")


def test_a_bad_url_never_echoes_its_password():
    message = config_error({"DATABASE_URL": "mysql://app:hunter2-db-password@db/yco"})
    assert message.startswith("DATABASE_URL: expected a URL starting with postgresql://")
    assert "hunter2" not in message


# -- production refuses insecure settings ---------------------------------------------------


def test_production_with_everything_set_is_accepted():
    settings = load_settings(PRODUCTION)
    assert settings["ENVIRONMENT"] == "production"
    assert settings["SECRET_KEY"] == SECRET


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_production_without_secret_key_is_refused(environment):
    environ = {**PRODUCTION, "ENVIRONMENT": environment}
    del environ["SECRET_KEY"]
    message = config_error(environ)
    assert message.startswith("SECRET_KEY: ")
    assert environment in message


def test_production_with_short_secret_key_is_refused():
    message = config_error({**PRODUCTION, "SECRET_KEY": "changeme-too-short"})
    assert message.startswith("SECRET_KEY: expected a random value of at least 32 characters")
    assert "changeme-too-short" not in message


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_production_without_service_urls_is_refused(missing):
    environ = {key: value for key, value in PRODUCTION.items() if key != missing}
    message = config_error(environ)
    assert message.startswith(f"{missing}: ")
    assert "production" in message


def test_production_refuses_flask_debug_from_the_given_environment():
    message = config_error({**PRODUCTION, "FLASK_DEBUG": "1"})
    assert message.startswith("FLASK_DEBUG: ")


def test_development_needs_no_secrets_or_urls():
    settings = load_settings({})
    assert settings["ENVIRONMENT"] == "development"
    assert settings["SECRET_KEY"] is None
    assert settings["DATABASE_URL"] is None
    assert settings["REDIS_URL"] is None


# -- encryption keys ---------------------------------------------------------------------------


def test_malformed_token_encryption_key_is_refused_without_showing_it():
    secret = "my-very-private-key-material-1234"
    message = config_error({"TOKEN_ENCRYPTION_KEY": secret})
    assert message.startswith("TOKEN_ENCRYPTION_KEY: expected comma-separated Fernet keys")
    assert secret not in message
    assert "private" not in message


def test_one_bad_key_among_good_ones_is_refused_without_showing_any():
    good = Fernet.generate_key().decode()
    message = config_error({"TOKEN_ENCRYPTION_KEY": f"{good},not-a-fernet-key"})
    assert good not in message
    assert "not-a-fernet-key" not in message


def test_rotated_fernet_keys_are_accepted_in_order():
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings = load_settings({"TOKEN_ENCRYPTION_KEY": f"{new}, {old}"})
    assert settings["TOKEN_ENCRYPTION_KEY"] == [new, old]


# -- defaults and parsing -----------------------------------------------------------------------


def test_defaults_match_the_documented_contract():
    settings = load_settings({})
    assert settings["DATABASE_POOL_SIZE"] == 10
    assert settings["DATABASE_MAX_OVERFLOW"] == 20
    assert settings["DATABASE_STATEMENT_TIMEOUT_MS"] == 30_000
    assert settings["USE_STATISTICAL_ANALYSIS"] is True
    assert settings["MIN_OPTIMIZATION_CONFIDENCE"] == 0.7
    assert settings["OPTIMIZATION_COOLING_PERIOD_DAYS"] == 7
    assert settings["TRANSCRIPT_MAX_CHARS"] == 2000
    assert settings["BATCH_MAX_VIDEOS"] == 50
    assert settings["DATA_RETENTION_DAYS"] == 30
    assert settings["TOKEN_ENCRYPTION_KEY"] == []
    assert settings["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert settings["BCRYPT_ROUNDS"] >= 12
    assert settings["TRUSTED_PROXY_COUNT"] == 0  # X-Forwarded-* is not believed unless configured
    assert settings["ENVIRONMENT"] == "development"
    assert settings["ANTHROPIC_BASE_URL"] == "https://api.anthropic.com"
    assert settings["YOUTUBE_API_BASE_URL"] == "https://www.googleapis.com/youtube/v3"


def test_every_documented_setting_is_read():
    documented = {
        "ENVIRONMENT",
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "DATABASE_POOL_SIZE",
        "DATABASE_MAX_OVERFLOW",
        "DATABASE_STATEMENT_TIMEOUT_MS",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_MODEL",
        "ANTHROPIC_FALLBACK_MODELS",
        "ANTHROPIC_TIMEOUT_S",
        "SERPAPI_API_KEY",
        "SERPAPI_BASE_URL",
        "GOOGLE_CLIENT_ID",
        "GOOGLE_CLIENT_SECRET",
        "GOOGLE_OAUTH_AUTHORIZE_URL",
        "GOOGLE_OAUTH_TOKEN_URL",
        "GOOGLE_OAUTH_REVOKE_URL",
        "YOUTUBE_API_BASE_URL",
        "YOUTUBE_ANALYTICS_BASE_URL",
        "YOUTUBE_REPORTING_BASE_URL",
        "TOKEN_ENCRYPTION_KEY",
        "SENTRY_DSN",
        "PROMETHEUS_MULTIPROC_DIR",
        "USE_STATISTICAL_ANALYSIS",
        "MIN_OPTIMIZATION_CONFIDENCE",
        "OPTIMIZATION_COOLING_PERIOD_DAYS",
        "TRANSCRIPT_MAX_CHARS",
        "BATCH_MAX_VIDEOS",
        "LLM_MAX_CONCURRENCY",
        "DATA_RETENTION_DAYS",
    }
    assert documented <= {setting.name for setting in SETTINGS}


def test_values_are_parsed_and_trimmed():
    settings = load_settings(
        {
            "ENVIRONMENT": " Staging ",
            "SECRET_KEY": SECRET,
            "DATABASE_URL": "postgresql://db/yco",
            "REDIS_URL": "redis://cache:6379/0",
            "DATABASE_POOL_SIZE": " 25 ",
            "USE_STATISTICAL_ANALYSIS": "off",
            "ANTHROPIC_FALLBACK_MODELS": "claude-haiku-4-5, ,claude-3-5-haiku",
            "SERPAPI_BASE_URL": "http://127.0.0.1:8001/",
            "DATABASE_MAX_OVERFLOW": "",  # empty means the default
        }
    )
    assert settings["ENVIRONMENT"] == "staging"
    assert settings["DATABASE_POOL_SIZE"] == 25
    assert settings["USE_STATISTICAL_ANALYSIS"] is False
    assert settings["ANTHROPIC_FALLBACK_MODELS"] == ["claude-haiku-4-5", "claude-3-5-haiku"]
    assert settings["SERPAPI_BASE_URL"] == "http://127.0.0.1:8001"
    assert settings["DATABASE_MAX_OVERFLOW"] == 20


def test_string_overrides_are_checked_like_the_environment():
    with pytest.raises(ConfigError, match="^LOGIN_RATE_LIMIT: "):
        load_settings({}, overrides={"LOGIN_RATE_LIMIT": "soon"})
    assert load_settings({}, overrides={"LOGIN_RATE_LIMIT": "3 per minute"})["LOGIN_RATE_LIMIT"] == "3 per minute"


# -- start-up ------------------------------------------------------------------------------------


def _start_wsgi(**env: str) -> subprocess.CompletedProcess:
    names = {setting.name for setting in SETTINGS} | {"FLASK_DEBUG"}
    environ = {key: value for key, value in os.environ.items() if key not in names}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


def test_start_with_a_bad_value_prints_one_line_and_stops():
    result = _start_wsgi(DATABASE_POOL_SIZE="abc")
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "configuration error: DATABASE_POOL_SIZE: expected a whole number from 1 to 500, got 'abc'"
    ]
    assert "Traceback" not in result.stderr + result.stdout


def test_start_in_production_with_a_bad_key_stops_without_showing_it():
    result = _start_wsgi(
        ENVIRONMENT="production",
        SECRET_KEY=SECRET,
        DATABASE_URL="postgresql://db/yco",
        REDIS_URL="redis://cache:6379/0",
        TOKEN_ENCRYPTION_KEY="leaky-secret-value",
    )
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("configuration error: TOKEN_ENCRYPTION_KEY: ")
    assert "leaky-secret-value" not in result.stderr + result.stdout
