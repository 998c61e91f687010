"""Which build this process runs: the app's name and version, its git commit,
and when the process started (for /info, Sentry's release and the startup
report).

The version is written once, in pyproject.toml (``[project] version``), and
read from there; the commit comes from the ``GIT_COMMIT`` setting (platforms
set ``SOURCE_VERSION`` or ``HEROKU_SLUG_COMMIT``, read as its aliases), else
from ``git rev-parse`` when the code runs from a checkout, else "unknown".
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from datetime import UTC, datetime
from functools import cache

from reliability.config import ROOT

APP_NAME = "youtube-channel-optimizer"
UNKNOWN = "unknown"
STARTED_AT = datetime.now(UTC)  # this module is imported early by every entry point
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,40}$")


@cache
def app_version() -> str:
    try:
        with (ROOT / "pyproject.toml").open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return UNKNOWN


@cache
def git_commit(configured: str | None = None) -> str:
    """The configured commit if it looks like one, else the checkout's HEAD."""
    if configured and _COMMIT.match(configured.strip()):
        return configured.strip().lower()
    if not (ROOT / ".git").exists():
        return UNKNOWN
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    head = done.stdout.strip()
    return head if done.returncode == 0 and _COMMIT.match(head) else UNKNOWN


def release(configured_commit: str | None = None) -> str:
    """Sentry's release name: name@version+shortcommit."""
    commit = git_commit(configured_commit)
    suffix = f"+{commit[:12]}" if commit != UNKNOWN else ""
    return f"{APP_NAME}@{app_version()}{suffix}"
