"""Run the startup checks (reliability/startup_checks.py), keep the report,
and stop start-up when a critical check fails in staging or production.

Entry points: gunicorn's ``on_starting`` (web), ``jobs/worker.py`` and
``jobs/cron.py`` call :func:`enforce`; ``flask doctor`` calls
:func:`run_checks` and prints :func:`table` or the JSON.

The last report of each component (web, worker, cron, doctor) is kept in
Redis, in one hash: every process of every host reaches it, so one admin
page shows them all, and nothing else is needed (a table would need the
database up to record that it is down; a file under instance/ is seen only
on its own machine). When Redis itself is what failed, the report cannot be
kept there: the process's one line (or its warning in the log) says it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from reliability.config import load_settings
from reliability.errors import STARTUP_FAILED_EXIT, ConfigError
from reliability.startup_checks import CHECKS, Check, CheckFailed, CheckSkipped
from reliability.version import app_version, git_commit

log = logging.getLogger(__name__)

REPORTS_KEY = "startup_checks:reports"  # hash: component -> the JSON of its last report
STOPPING_ENVIRONMENTS = ("staging", "production")
OK, FAILED, SKIPPED = "ok", "failed", "skipped"
SETTINGS_FREE = ("python", "packages")  # checks that run even when the settings are invalid


@dataclass(frozen=True)
class Result:
    name: str
    critical: bool
    status: str
    detail: str
    duration_ms: float = 0.0


@dataclass
class Report:
    component: str
    environment: str | None
    checked_at: str
    host: str
    pid: int
    version: str
    commit: str
    results: list[Result] = field(default_factory=list)

    @property
    def failed_critical(self) -> list[Result]:
        return [r for r in self.results if r.critical and r.status == FAILED]

    @property
    def warnings(self) -> list[Result]:
        return [r for r in self.results if not r.critical and r.status == FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed_critical

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        fields = {k: v for k, v in data.items() if k not in ("results", "ok")}
        return cls(**fields, results=[Result(**r) for r in data.get("results", [])])


def run_checks(
    environ: Mapping[str, str] | None = None,
    *,
    component: str = "doctor",
    checks: Sequence[Check] = CHECKS,
    overrides: Mapping[str, Any] | None = None,
) -> Report:
    """Every check, in order; a check whose prerequisite did not pass is
    skipped, so each failure names its own cause."""
    settings: dict[str, Any] | None = None
    started = time.perf_counter()
    try:
        settings = load_settings(environ, overrides)
        settings_result = Result("settings", True, OK, "every setting valid", _ms(started))
    except ConfigError as exc:
        settings_result = Result("settings", True, FAILED, str(exc), _ms(started))
    results: list[Result] = []
    for check in checks:
        results.append(_run_one(check, settings, results))
    # The settings come after what needs none of them (python, packages), before the rest.
    position = next((i for i, r in enumerate(results) if r.name not in SETTINGS_FREE), len(results))
    results.insert(position, settings_result)
    return Report(
        component=component,
        environment=(settings or {}).get("ENVIRONMENT"),
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        host=socket.gethostname(),
        pid=os.getpid(),
        version=app_version(),
        commit=git_commit((settings or {}).get("GIT_COMMIT")),
        results=results,
    )


def _run_one(check: Check, settings: dict[str, Any] | None, done: list[Result]) -> Result:
    started = time.perf_counter()
    if check.name not in SETTINGS_FREE and settings is None:
        return Result(check.name, check.critical, SKIPPED, "the settings are not valid", 0.0)
    if check.needs and not any(r.name == check.needs and r.status == OK for r in done):
        return Result(check.name, check.critical, SKIPPED, f"needs {check.needs}", 0.0)
    try:
        detail, status = check.run(settings or {}), OK
    except CheckFailed as exc:
        detail, status = str(exc), FAILED
    except CheckSkipped as exc:
        detail, status = str(exc), SKIPPED
    except Exception as exc:  # a check that breaks is a failed check, never a crash of the start-up
        detail, status = f"{type(exc).__name__} while checking", FAILED
    return Result(check.name, check.critical, status, _scrub(detail, settings or {}), _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _scrub(text: str, settings: Mapping[str, Any]) -> str:
    """No secret in a report, whatever a library put in its message."""
    secrets: list[str] = []
    for name, value in settings.items():
        if not isinstance(value, str) or not value:
            continue
        if any(word in name for word in ("KEY", "SECRET", "DSN", "PASSWORD", "TOKEN")):
            secrets.append(value)
        elif name.endswith("_URL") and urlsplit(value).password:
            secrets.append(urlsplit(value).password or "")
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def one_line(result: Result) -> str:
    return f"startup check failed: {result.name}: {result.detail}"


def table(report: Report) -> str:
    """The report as a plain-text table, as `flask doctor` prints it."""
    rows = [("check", "level", "status", "detail")]
    rows += [(r.name, "critical" if r.critical else "warning", r.status, r.detail) for r in report.results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    ]
    verdict = "ok" if report.ok else "FAILED: " + ", ".join(r.name for r in report.failed_critical)
    head = f"{report.component} on {report.host} ({report.environment}), version {report.version} {report.commit[:12]}"
    return "\n".join([head, *lines, f"result: {verdict}"])


def enforce(component: str, environ: Mapping[str, str] | None = None) -> Report:
    """Run the checks for a starting process. Invalid settings stop it
    everywhere (one ``configuration error:`` line: nothing can run on them); a
    failed critical check stops it in staging and production (one line) and
    is a warning elsewhere. Either way the status is STARTUP_FAILED_EXIT (1).
    The report is kept in Redis first."""
    report = run_checks(environ, component=component)
    settings_failed = next((r for r in report.failed_critical if r.name == "settings"), None)
    if settings_failed is not None:
        print(f"configuration error: {settings_failed.detail}", file=sys.stderr, flush=True)
        raise SystemExit(STARTUP_FAILED_EXIT)
    save(report, load_settings(environ)["REDIS_URL"])
    for result in report.warnings:
        log.warning("startup check warning: %s: %s", result.name, result.detail, extra={"check": result.name})
    if report.failed_critical and report.environment in STOPPING_ENVIRONMENTS:
        print(one_line(report.failed_critical[0]), file=sys.stderr, flush=True)
        raise SystemExit(STARTUP_FAILED_EXIT)
    for result in report.failed_critical:
        log.warning("%s (start-up goes on in %s)", one_line(result), report.environment, extra={"check": result.name})
    return report


def save(report: Report, redis_url: str | None) -> bool:
    """Keep the report; False when Redis cannot take it (the caller's line says why)."""
    if not redis_url:
        return False
    import redis

    from reliability.redis_clients import web_client

    client = web_client(redis_url)
    try:
        client.hset(REPORTS_KEY, report.component, json.dumps(report.as_dict()))
        return True
    except redis.RedisError:
        return False
    finally:
        client.close()


def load_all(client: Any) -> list[Report]:
    """The last report of each component, web first; [] when none is kept."""
    raw = client.hgetall(REPORTS_KEY) or {}
    reports = []
    for value in raw.values():
        try:
            reports.append(Report.from_dict(json.loads(value)))
        except (ValueError, TypeError):
            continue  # a report of an older shape: the next start replaces it
    order = {"web": 0, "worker": 1, "cron": 2}
    return sorted(reports, key=lambda r: (order.get(r.component, 9), r.component))
