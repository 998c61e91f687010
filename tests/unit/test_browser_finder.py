"""``make test`` on a machine without a browser: the finder it runs first
(tests/browser/chromium.py) and a direct pytest run both fail with one line
saying how to get a browser, unless SKIP_BROWSER_TESTS=1 asks to skip the
browser tests. Run as subprocesses with a PATH that holds no browser (and an
empty Playwright cache); nothing is installed."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from reliability.config import ROOT


@pytest.fixture
def no_browser_env(tmp_path) -> dict[str, str]:
    bare = tmp_path / "bin"
    bare.mkdir()
    # A plain pytest run as a user starts it: not this run's own options (e.g. -n from PYTEST_ADDOPTS).
    env = {k: v for k, v in os.environ.items() if k not in ("CHROMIUM_PATH", "SKIP_BROWSER_TESTS", "PYTEST_ADDOPTS")}
    env.update(PATH=str(bare), PLAYWRIGHT_BROWSERS_PATH=str(tmp_path / "playwright-cache"))
    return env


def _finder(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.browser.chromium"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def _assert_one_line_on_how_to_get_a_browser(text: str) -> None:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    for advice in ("apt-get install chromium", "playwright install chromium", "CHROMIUM_PATH", "SKIP_BROWSER_TESTS=1"):
        assert advice in lines[0], lines[0]


def test_no_browser_fails_with_one_line_saying_how_to_get_one(no_browser_env):
    result = _finder(no_browser_env)
    assert result.returncode == 1
    assert result.stdout == ""
    _assert_one_line_on_how_to_get_a_browser(result.stderr)


def test_a_chromium_path_that_is_not_there_is_named(no_browser_env, tmp_path):
    result = _finder({**no_browser_env, "CHROMIUM_PATH": str(tmp_path / "nowhere" / "chromium")})
    assert result.returncode == 1
    assert f"CHROMIUM_PATH={tmp_path / 'nowhere' / 'chromium'} is not an executable file" in result.stderr
    _assert_one_line_on_how_to_get_a_browser(result.stderr)


def test_skipping_on_purpose_passes(no_browser_env):
    result = _finder({**no_browser_env, "SKIP_BROWSER_TESTS": "1"})
    assert result.returncode == 0
    assert "SKIP_BROWSER_TESTS=1" in result.stderr


def test_a_chromium_on_path_is_found(no_browser_env):
    chromium = Path(no_browser_env["PATH"]) / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(chromium.stat().st_mode | stat.S_IXUSR)
    result = _finder(no_browser_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(chromium)


def _pytest_browser_tests(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/browser/test_assets.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_pytest_without_a_browser_stops_instead_of_skipping(no_browser_env):
    result = _pytest_browser_tests(no_browser_env)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "passed" not in result.stdout and "skipped" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, result.stderr
    _assert_one_line_on_how_to_get_a_browser(errors[0])


def test_pytest_skips_the_browser_tests_when_asked(no_browser_env):
    result = _pytest_browser_tests({**no_browser_env, "SKIP_BROWSER_TESTS": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b\d+ skipped", result.stdout) and "passed" not in result.stdout, result.stdout
    assert "SKIP_BROWSER_TESTS=1" in result.stdout  # -ra lists the reason
