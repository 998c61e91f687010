"""The checks every process runs as it starts (web, worker, cron) and
``flask doctor`` prints: is this installation able to serve?

Critical (start-up stops in staging and production): the Python version,
the pinned packages, the settings, PostgreSQL, the migrations, Redis, the
instance folder and the metrics folder. Warnings (the app degrades instead:
the rule-based engine serves while Claude is down): Anthropic and SerpAPI,
checked only when their keys are set.

Each check is a function of the checked settings returning what it found
(one line) or raising :class:`CheckFailed` / :class:`CheckSkipped`. It opens
its own short-lived connection and closes it: these run in gunicorn's master
before it forks, and no connection may cross a fork. Running them, keeping
the report and stopping start-up is reliability/startup_report.py.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reliability.config import DEFAULT_INSTANCE_DIR, ROOT

CONNECT_TIMEOUT_S = 3  # each outside call: a start-up waits at most this long per service
REQUIREMENTS = ROOT / "requirements.txt"
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;#]+)")


class CheckFailed(Exception):
    """The check found a problem; the message says which, in one line, no secret."""


class CheckSkipped(Exception):
    """The check does not apply (its key is not set, or what it needs failed)."""


@dataclass(frozen=True)
class Check:
    name: str
    critical: bool
    run: Callable[[Mapping[str, Any]], str]
    needs: str | None = None  # skipped unless this check passed


def python_minimum() -> tuple[int, int]:
    """From pyproject.toml's requires-python (">=3.11"), the one place it is written."""
    try:
        with (ROOT / "pyproject.toml").open("rb") as handle:
            spec = tomllib.load(handle)["project"]["requires-python"]
        found = re.search(r">=\s*(\d+)\.(\d+)", spec)
        if found:
            return int(found.group(1)), int(found.group(2))
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        pass
    return (3, 11)


def check_python(_settings: Mapping[str, Any], minimum: tuple[int, int] | None = None) -> str:
    minimum = minimum or python_minimum()
    running = sys.version_info[:3]
    text = ".".join(map(str, running))
    if running[:2] < minimum:
        raise CheckFailed(f"Python {text}, expected {minimum[0]}.{minimum[1]} or newer")
    return f"Python {text}"


def pinned_packages(requirements: Path = REQUIREMENTS) -> dict[str, str]:
    """{distribution: pinned version} from a requirements file (pinned lines only)."""
    pins: dict[str, str] = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def installed_versions(requirements: Path = REQUIREMENTS) -> dict[str, str | None]:
    """{distribution: installed version or None} for every pinned package."""
    found: dict[str, str | None] = {}
    for dist in pinned_packages(requirements):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = None
    return found


def check_packages(_settings: Mapping[str, Any], requirements: Path = REQUIREMENTS) -> str:
    """Every pinned package installed and its modules findable (found, not
    imported: importing them all would cost seconds and load numpy into
    gunicorn's master, whose web workers must stay without it)."""
    if not requirements.exists():
        raise CheckSkipped(f"{requirements.name} not shipped with this build")
    pins = pinned_packages(requirements)
    versions = installed_versions(requirements)
    missing = [dist for dist, version in versions.items() if version is None or not _importable(dist)]
    if missing:
        raise CheckFailed("not installed or not importable: " + ", ".join(missing))
    differ = [f"{dist} {versions[dist]} (pinned {pin})" for dist, pin in pins.items() if versions[dist] != pin]
    note = "; differs from requirements.txt: " + ", ".join(differ) if differ else ", as pinned"
    return f"{len(pins)} packages importable{note}"


def _importable(dist: str) -> bool:
    try:
        files = importlib.metadata.distribution(dist).read_text("top_level.txt")
    except importlib.metadata.PackageNotFoundError:
        return False
    modules = [name for name in (files or "").split() if name and not name.startswith("_")]
    if not modules:
        return True  # the distribution does not say; being installed is what we can check
    return any(importlib.util.find_spec(module) is not None for module in modules)


def check_postgresql(settings: Mapping[str, Any]) -> str:
    import psycopg2

    try:
        conn = psycopg2.connect(settings["DATABASE_URL"], connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg2.Error as exc:
        raise CheckFailed(_first_line(exc)) from None
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            row = cur.fetchone()
        return f"PostgreSQL {row[0] if row else '?'}"
    finally:
        conn.close()


def check_migrations(settings: Mapping[str, Any]) -> str:
    import psycopg2

    from reliability import migrations

    try:
        conn = psycopg2.connect(settings["DATABASE_URL"], connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg2.Error as exc:
        raise CheckFailed(_first_line(exc)) from None
    try:
        with conn.cursor() as cur:
            waiting = migrations.pending(cur)
        conn.rollback()
    finally:
        conn.close()
    if waiting:
        shown = ", ".join(waiting[:3]) + (f" and {len(waiting) - 3} more" if len(waiting) > 3 else "")
        raise CheckFailed(f"{len(waiting)} not applied ({shown}); run `flask --app wsgi db upgrade`")
    return f"all {len(migrations.discover())} applied"


def check_redis(settings: Mapping[str, Any]) -> str:
    import redis

    from reliability.redis_clients import web_client

    client = web_client(settings["REDIS_URL"])
    try:
        version = client.info("server").get("redis_version", "?")
    except redis.RedisError as exc:
        raise CheckFailed(_first_line(exc)) from None
    finally:
        client.close()
    return f"Redis {version}"


def instance_dir(settings: Mapping[str, Any]) -> Path:
    return Path(settings.get("INSTANCE_DIR") or DEFAULT_INSTANCE_DIR)


def check_instance_dir(settings: Mapping[str, Any]) -> str:
    return _writable(instance_dir(settings), create=True)


def check_metrics_dir(settings: Mapping[str, Any]) -> str:
    """An existing, writable directory. Nothing makes it on the way (see
    reliability/metrics.py), so a missing one here is missing for real: a
    misspelt path, or a volume not mounted."""
    folder = settings.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        raise CheckSkipped("PROMETHEUS_MULTIPROC_DIR not set (metrics of this process only)")
    path = Path(folder)
    if not path.exists():
        raise CheckFailed(f"{path} is not writable: no such directory (make it, writable by the app's user)")
    if not path.is_dir():
        raise CheckFailed(f"{path} is not a directory")
    return _writable(path, create=False)


def _writable(folder: Path, *, create: bool) -> str:
    """Write and remove a file there: permissions, a read-only mount or a full
    disk all show up, where os.access would miss the last two."""
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".startup-check-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise CheckFailed(f"{folder} is not writable ({exc.strerror or type(exc).__name__})") from None
    return f"{folder} writable"


def check_anthropic(settings: Mapping[str, Any]) -> str:
    """GET /v1/models, limit 1: authenticated, free, and answered by every
    Anthropic front end (and our fake)."""
    if not settings.get("ANTHROPIC_API_KEY"):
        raise CheckSkipped("ANTHROPIC_API_KEY not set (suggestions come from the rule-based engine)")
    import anthropic

    client = anthropic.Anthropic(
        api_key=settings["ANTHROPIC_API_KEY"],
        base_url=settings["ANTHROPIC_BASE_URL"],
        timeout=float(CONNECT_TIMEOUT_S),
        max_retries=0,  # a start-up waits for one answer only
    )
    try:
        page = client.models.list(limit=1)
    except anthropic.APIStatusError as exc:
        raise CheckFailed(f"HTTP {exc.status_code} from {settings['ANTHROPIC_BASE_URL']}") from None
    except anthropic.APIError as exc:
        raise CheckFailed(f"{type(exc).__name__} reaching {settings['ANTHROPIC_BASE_URL']}") from None
    finally:
        client.close()
    return f"reachable, key accepted ({len(page.data)} model listed)"


def check_serpapi(settings: Mapping[str, Any]) -> str:
    """The Account API (/account.json): free, authenticated, says the searches left."""
    if not settings.get("SERPAPI_API_KEY"):
        raise CheckSkipped("SERPAPI_API_KEY not set (keyword research is left out of prompts)")
    import requests
    from serpapi import SerpApiClient

    # The client insists on an engine for every URL it builds; the Account API ignores it.
    client = SerpApiClient({"api_key": settings["SERPAPI_API_KEY"]}, engine="google", timeout=CONNECT_TIMEOUT_S)
    client.BACKEND = settings["SERPAPI_BASE_URL"]
    try:
        account = client.get_account()
    except (requests.RequestException, ValueError) as exc:
        raise CheckFailed(f"{type(exc).__name__} reaching {settings['SERPAPI_BASE_URL']}") from None
    if not isinstance(account, dict) or "error" in account:
        error = account.get("error") if isinstance(account, dict) else "not JSON"
        raise CheckFailed(f"the account endpoint answered: {str(error)[:120]}")
    left = account.get("total_searches_left")
    return "reachable, key accepted" + (f" ({left} searches left)" if left is not None else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


CHECKS: tuple[Check, ...] = (
    Check("python", True, check_python),
    Check("packages", True, check_packages),
    Check("postgresql", True, check_postgresql),
    Check("migrations", True, check_migrations, needs="postgresql"),
    Check("redis", True, check_redis),
    Check("instance_dir", True, check_instance_dir),
    Check("metrics_dir", True, check_metrics_dir),
    Check("anthropic", False, check_anthropic),
    Check("serpapi", False, check_serpapi),
)
