"""Configuration, read from the environment only and checked at start-up.

Shared by the web app, the worker and the cron process (so it lives here,
below all of them, and imports no Flask).

Each setting is declared once with its parser and default. A bad or missing
value raises :class:`ConfigError` with one line naming the variable and what
it expected; the entry points print that line and stop. Production refuses
insecure defaults.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlparse, urlsplit, urlunsplit

from reliability.errors import ConfigError

ENVIRONMENTS = ("development", "test", "staging", "production")
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_DIR = ROOT / "instance"


# -- parsers: each takes the raw text and returns a value or raises ValueError

_T = TypeVar("_T")


@dataclass(frozen=True)
class Parser(Generic[_T]):
    """A setting's parser, and what it expects in the words of the error
    message that names a bad value."""

    parse: Callable[[str], _T]
    expected: str

    def __call__(self, raw: str) -> _T:
        return self.parse(raw)


def _int(low: int, high: int) -> Parser[int]:
    def parse(raw: str) -> int:
        value = int(raw.strip())
        if not low <= value <= high:
            raise ValueError
        return value

    return Parser(parse, f"a whole number from {low} to {high}")


def _float(low: float, high: float) -> Parser[float]:
    def parse(raw: str) -> float:
        value = float(raw.strip())
        if not low <= value <= high:
            raise ValueError
        return value

    return Parser(parse, f"a number from {low} to {high}")


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError


_bool = Parser(_parse_bool, "true or false")


def _choice(*options: str) -> Parser[str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError
        return value

    return Parser(parse, "one of " + ", ".join(options))


def _url(*schemes: str) -> Parser[str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        parsed = urlparse(value)
        if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
            raise ValueError
        return value.rstrip("/") if parsed.scheme.startswith("http") else value

    return Parser(parse, "a URL starting with " + " or ".join(f"{s}://" for s in schemes))


def _parse_text(raw: str) -> str:
    return raw.strip()


_text = Parser(_parse_text, "text")


def _parse_csv(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


_csv = Parser(_parse_csv, "a comma-separated list")


def _parse_networks(raw: str) -> tuple[IPv4Network | IPv6Network, ...]:
    from ipaddress import ip_network

    return tuple(ip_network(part, strict=False) for part in _csv(raw))


_networks = Parser(_parse_networks, "comma-separated networks such as 127.0.0.0/8,10.0.0.0/8")
# Loopback and the private ranges: probes from the host, the cluster or the
# private network see /health's details; the internet sees only the status.
LOCAL_NETWORKS = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"


def _parse_rate_limit(raw: str) -> str:
    from limits import parse_many

    parse_many(raw)
    return raw.strip()


_rate_limit = Parser(_parse_rate_limit, 'rate limits such as "10 per minute; 50 per hour"')


def _parse_jwt_keys(raw: str) -> list[tuple[str, str]]:
    import re

    keys = []
    for part in _parse_csv(raw):
        kid, sep, secret = part.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", kid) or len(secret) < 32:
            raise ValueError
        keys.append((kid, secret))
    if len({kid for kid, _ in keys}) != len(keys):
        raise ValueError
    return keys


# The API's access-token keys (webapp/api/jwt_tokens.py): the first signs, all verify.
_jwt_keys = Parser(_parse_jwt_keys, "comma-separated kid:secret pairs, distinct kids, secrets of 32+ characters")


def _parse_mail_url(raw: str) -> str:
    from reliability.mail import parse_mail_url

    parse_mail_url(raw)  # the one check, shared with the sender
    return raw.strip()


_mail_url = Parser(_parse_mail_url, "smtp://[user:password@]host[:port] or smtps://… (TLS)")


def _parse_mail_address(raw: str) -> str:
    from email.utils import parseaddr

    value = raw.strip()
    if "\n" in value or "\r" in value or "@" not in parseaddr(value)[1]:
        raise ValueError
    return value


_mail_address = Parser(_parse_mail_address, 'an address such as "Channel Optimizer <no-reply@example.com>"')


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Parser[Any]
    default: Any = None
    # Names a platform sets for the same thing, read when ``name`` is unset.
    aliases: tuple[str, ...] = ()


_POSTGRES = _url("postgresql", "postgres")
_REDIS = _url("redis", "rediss", "unix")
_HTTP = _url("http", "https")

SETTINGS: tuple[Setting, ...] = (
    Setting("ENVIRONMENT", _choice(*ENVIRONMENTS), "development"),
    Setting("SECRET_KEY", _text),
    Setting("DATABASE_URL", _POSTGRES),
    Setting("REDIS_URL", _REDIS),
    # false: a rediss:// server's certificate is not verified (Heroku's Redis is self-signed).
    Setting("REDIS_TLS_VERIFY", _bool, True),
    Setting("DATABASE_POOL_SIZE", _int(1, 500), 10),
    Setting("DATABASE_MAX_OVERFLOW", _int(0, 500), 20),
    Setting("DATABASE_POOL_TIMEOUT_S", _float(0.1, 120), 5.0),
    Setting("DATABASE_STATEMENT_TIMEOUT_MS", _int(100, 3_600_000), 30_000),
    # false behind a transaction-mode pooler (PgBouncer), which cannot keep them.
    Setting("DATABASE_PREPARED_STATEMENTS", _bool, True),
    Setting("MAX_CONTENT_LENGTH", _int(1024, 1024**3), 1024 * 1024),
    Setting("BCRYPT_ROUNDS", _int(4, 16), 12),
    Setting("LOGIN_RATE_LIMIT", _rate_limit, "10 per minute; 50 per hour"),
    Setting("REGISTER_RATE_LIMIT", _rate_limit, "5 per minute; 20 per hour"),
    # Per-account password guesses (webapp/accounts/throttle.py): free failures,
    # then delays doubling from the first, never over 15 minutes.
    Setting("LOGIN_ACCOUNT_FREE_ATTEMPTS", _int(1, 100), 5),
    Setting("LOGIN_ACCOUNT_FIRST_DELAY_S", _int(1, 900), 30),
    Setting("LOGIN_ACCOUNT_MAX_DELAY_S", _int(1, 900), 900),
    Setting("DEFAULT_RATE_LIMIT", _rate_limit, "300 per minute"),
    # The JSON API (webapp/api/limits.py): per token and per endpoint.
    Setting("API_RATE_LIMIT", _rate_limit, "120 per minute"),
    Setting("API_BATCH_RATE_LIMIT", _rate_limit, "5 per minute; 50 per day"),
    Setting("JWT_SIGNING_KEYS", _jwt_keys, []),
    Setting("TRUSTED_PROXY_COUNT", _int(0, 10), 0),
    Setting("HEALTH_DETAILS_NETWORKS", _networks, _networks(LOCAL_NETWORKS)),
    Setting("ASSETS_FROM_CDN", _bool, True),
    Setting("INSTANCE_DIR", _text),
    Setting("LOG_LEVEL", _choice("debug", "info", "warning", "error"), "info"),
    Setting("ANTHROPIC_API_KEY", _text),
    Setting("ANTHROPIC_BASE_URL", _HTTP, "https://api.anthropic.com"),
    Setting("ANTHROPIC_MODEL", _text, "claude-sonnet-4-6"),
    Setting("ANTHROPIC_FALLBACK_MODELS", _csv, ["claude-haiku-4-5"]),
    Setting("ANTHROPIC_TIMEOUT_S", _float(1, 600), 60.0),
    Setting("SERPAPI_API_KEY", _text),
    Setting("SERPAPI_BASE_URL", _HTTP, "https://serpapi.com"),
    Setting("GOOGLE_CLIENT_ID", _text),
    Setting("GOOGLE_CLIENT_SECRET", _text),
    Setting("GOOGLE_OAUTH_AUTHORIZE_URL", _HTTP, "https://accounts.google.com/o/oauth2/v2/auth"),
    Setting("GOOGLE_OAUTH_TOKEN_URL", _HTTP, "https://oauth2.googleapis.com/token"),
    Setting("GOOGLE_OAUTH_REVOKE_URL", _HTTP, "https://oauth2.googleapis.com/revoke"),
    Setting("YOUTUBE_API_BASE_URL", _HTTP, "https://www.googleapis.com/youtube/v3"),
    Setting("YOUTUBE_ANALYTICS_BASE_URL", _HTTP, "https://youtubeanalytics.googleapis.com/v2"),
    Setting("YOUTUBE_REPORTING_BASE_URL", _HTTP, "https://youtubereporting.googleapis.com/v1"),
    Setting("TOKEN_ENCRYPTION_KEY", _csv, []),
    Setting("YOUTUBE_DAILY_QUOTA", _int(1, 100_000_000), 10_000),
    Setting("YOUTUBE_TIMEOUT_S", _float(1, 300), 20.0),
    Setting("SENTRY_DSN", _text),
    Setting("SENTRY_TRACES_SAMPLE_RATE", _float(0, 1), 0.0),
    # Heroku sets SOURCE_VERSION at build and HEROKU_SLUG_COMMIT with dyno metadata.
    Setting("GIT_COMMIT", _text, None, ("SOURCE_VERSION", "HEROKU_SLUG_COMMIT")),
    Setting("PROMETHEUS_MULTIPROC_DIR", _text),
    # /metrics (webapp/metrics/): in staging and production only these
    # networks, or a caller with the bearer token, may scrape it.
    Setting("METRICS_ENABLED", _bool, True),
    Setting("METRICS_TOKEN", _text),
    Setting("METRICS_NETWORKS", _networks, _networks(LOCAL_NETWORKS)),
    # The RQ worker's own /metrics, for hosts where it shares no directory with the web.
    Setting("METRICS_WORKER_PORT", _int(1, 65535)),
    Setting("COMPRESSION_ENABLED", _bool, True),
    # Entries of each web process's page cache (webapp/page_cache.py); 0 turns it off.
    Setting("PAGE_CACHE_SIZE", _int(0, 100_000), 512),
    Setting("USE_STATISTICAL_ANALYSIS", _bool, True),
    Setting("MIN_OPTIMIZATION_CONFIDENCE", _float(0.5, 0.999), 0.7),
    Setting("OPTIMIZATION_COOLING_PERIOD_DAYS", _int(0, 90), 7),
    Setting("MIN_OPTIMIZATION_EFFECT", _float(0, 1), 0.05),
    Setting("TRANSCRIPT_MAX_CHARS", _int(200, 200_000), 2000),
    Setting("BATCH_MAX_VIDEOS", _int(1, 500), 50),
    Setting("LLM_MAX_CONCURRENCY", _int(1, 256), 8),
    Setting("WORKER_HEARTBEAT_S", _int(1, 60), 10),
    Setting("MONTHLY_OPTIMIZATIONS_PER_USER", _int(0, 1_000_000), 500),
    Setting("MONTHLY_COST_CAP_USD", _float(0, 100_000), 25.0),
    Setting("DATA_RETENTION_DAYS", _int(1, 30), 30),
    Setting("MAIL_URL", _mail_url),
    Setting("MAIL_FROM", _mail_address, "Channel Optimizer <no-reply@localhost>"),
    Setting("PUBLIC_BASE_URL", _HTTP),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Read every setting from ``environ``, then apply ``overrides`` (tests),
    then check the combination. Raises ConfigError on the first bad value."""
    environ = os.environ if environ is None else environ
    values = {s.name: _read(s, environ) for s in SETTINGS}
    for name, value in (overrides or {}).items():
        values[name] = _read(_BY_NAME[name], {name: value}) if name in _BY_NAME and isinstance(value, str) else value
    _check_combination(values, environ)
    _unverified_redis_tls(values)
    return values


def _unverified_redis_tls(values: dict[str, Any]) -> None:
    """REDIS_TLS_VERIFY=false reaches every Redis client (ours, RQ's, the rate
    limiter's, the RQ dashboard's) through the one URL they all read: redis-py
    takes ``ssl_cert_reqs=none`` from a URL's query. The connection is still
    encrypted; only the certificate goes unchecked (Heroku's Redis has a
    self-signed one, and Heroku says to connect this way)."""
    url = values["REDIS_URL"]
    if values["REDIS_TLS_VERIFY"] or not url or not url.startswith("rediss://") or "ssl_cert_reqs=" in url:
        return
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, "ssl_cert_reqs=none") if part)
    values["REDIS_URL"] = urlunsplit(parts._replace(query=query))


def _read(setting: Setting, environ: Mapping[str, str]) -> Any:
    raw = environ.get(setting.name)
    for alias in setting.aliases:
        raw = raw if raw and raw.strip() else environ.get(alias)
    if raw is None or raw.strip() == "":
        return setting.default
    try:
        return setting.parse(raw)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{setting.name}: expected {setting.parse.expected}, got {_shown(setting.name, raw)}"
        ) from None


def _shown(name: str, raw: str) -> str:
    """Never echo a secret back into a log line."""
    if any(word in name for word in ("KEY", "SECRET", "DSN", "URL", "PASSWORD")):
        return "an invalid value (not shown)"
    return repr(raw[:60])


def _check_combination(values: dict[str, Any], environ: Mapping[str, str]) -> None:
    env = values["ENVIRONMENT"]
    if env in ("staging", "production"):
        _require_secure(values, environ)
    if values["DATABASE_POOL_SIZE"] + values["DATABASE_MAX_OVERFLOW"] > 1000:
        raise ConfigError("DATABASE_MAX_OVERFLOW: expected DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW at most 1000")
    if env in ("staging", "production") and values["MAIL_URL"] and not values["PUBLIC_BASE_URL"]:
        # Links in real mail must not be built from a Host header an attacker chose.
        raise ConfigError(f"PUBLIC_BASE_URL: expected the site's https:// address when MAIL_URL is set in {env}")
    if values["METRICS_WORKER_PORT"] and not values["PROMETHEUS_MULTIPROC_DIR"]:
        # A work horse's figures live only in the files it leaves behind.
        raise ConfigError("PROMETHEUS_MULTIPROC_DIR: expected a directory when METRICS_WORKER_PORT is set")
    for key in values["TOKEN_ENCRYPTION_KEY"]:
        _check_fernet_key(key)
    if values["GOOGLE_CLIENT_ID"] and not values["TOKEN_ENCRYPTION_KEY"]:
        raise ConfigError(
            "TOKEN_ENCRYPTION_KEY: expected a Fernet key when GOOGLE_CLIENT_ID is set "
            "(OAuth tokens are stored encrypted); "
            'make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        )


def _require_secure(values: dict[str, Any], environ: Mapping[str, str]) -> None:
    env = values["ENVIRONMENT"]
    key = values["SECRET_KEY"] or ""
    if len(key) < 32:
        raise ConfigError(f"SECRET_KEY: expected a random value of at least 32 characters in {env}")
    if not values["DATABASE_URL"]:
        raise ConfigError(
            f"DATABASE_URL: expected a PostgreSQL URL in {env} (the embedded database is for development)"
        )
    if not values["REDIS_URL"]:
        raise ConfigError(f"REDIS_URL: expected a Redis URL in {env} (the embedded Redis is for development)")
    # FLASK_DEBUG is read from the same environment as every other setting
    # (it was os.environ, so load_settings(environ=...) ignored the one given).
    if environ.get("FLASK_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        raise ConfigError(f"FLASK_DEBUG: expected debug off in {env}")


def _check_fernet_key(key: str) -> None:
    from cryptography.fernet import Fernet

    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        raise ConfigError(
            "TOKEN_ENCRYPTION_KEY: expected comma-separated Fernet keys (32 url-safe base64 bytes each)"
        ) from None


def development_secret_key(instance_dir: Path) -> str:
    """Outside production with no SECRET_KEY: one random key kept under
    instance/, so every process of `make run` signs sessions alike and a
    restart does not log everybody out."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "secret_key"
    if not path.exists():
        # Write aside, then link into place: two processes starting at once
        # both end up reading the one key that won.
        tmp = instance_dir / f".secret_key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def database_url_for(url: str, name: str) -> str:
    """``url`` (a PostgreSQL URL) naming database ``name`` on the same server;
    its query, such as an embedded server's socket ``host``, is kept."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
