"""Which Chromium the browser tests drive, and getting one for ``make test``.

``find_chromium()`` is the one place that decides (tests/browser/conftest.py
launches what it returns): ``CHROMIUM_PATH`` when set, else a Chromium or
Chrome on ``PATH`` (Debian's ``chromium`` package), else the browser
Playwright's own installer put in its cache.

``python -m tests.browser.chromium [--install]`` (``make test`` and ``make
screenshots`` run it first) prints the path and exits 0. Without a browser,
``--install`` tries the system package (``apt-get install chromium``, as root
where apt-get exists), then Playwright's installer (needs internet access);
if there is still none it prints one line saying how to get a browser and
exits 1, so that ``make test`` cannot pass with the browser tests skipped.
``SKIP_BROWSER_TESTS=1`` skips them on purpose: then it exits 0 at once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

NAMES_ON_PATH = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
INSTALL_TIMEOUT_S = 900
HOW_TO_GET_ONE = (
    "install one (apt-get install chromium, or {python} -m playwright install chromium), "
    "point CHROMIUM_PATH at one, or set SKIP_BROWSER_TESTS=1 to skip the browser tests"
)


class NoBrowser(Exception):
    """No Chromium to drive; the message says how to get one."""


def skip_requested(environ=os.environ) -> bool:
    return environ.get("SKIP_BROWSER_TESTS", "").strip().lower() in ("1", "true", "yes")


def how_to_get_one() -> str:
    return HOW_TO_GET_ONE.format(python=os.path.relpath(sys.executable) if sys.executable else "python")


def find_chromium(environ=os.environ) -> str:
    """The browser's executable; raises NoBrowser when there is none."""
    chosen = environ.get("CHROMIUM_PATH")
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise NoBrowser(f"CHROMIUM_PATH={chosen} is not an executable file: {how_to_get_one()}")
        return chosen
    for name in NAMES_ON_PATH:
        found = shutil.which(name, path=environ.get("PATH"))
        if found:
            return found
    playwrights = _playwright_chromium()
    if playwrights:
        return playwrights
    raise NoBrowser(f"no Chromium for the browser tests: {how_to_get_one()}")


def _playwright_chromium() -> str | None:
    """Where Playwright's installer puts its Chromium, if it is there."""
    from playwright.sync_api import Error, sync_playwright

    try:
        with sync_playwright() as playwright:
            path = playwright.chromium.executable_path
    except Error:
        return None
    return path if path and Path(path).is_file() else None


def _quietly(command: list[str]) -> bool:
    """Run an installer step, its output kept out of the way; True if it worked."""
    try:
        return (
            subprocess.run(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=INSTALL_TIMEOUT_S,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                check=False,
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def install() -> None:
    """The system package where we can (root with apt-get), else
    Playwright's download; whichever works first."""
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("browser tests: installing Chromium with apt-get...", file=sys.stderr, flush=True)
        if _quietly(["apt-get", "update", "-qq"]) and _quietly(["apt-get", "install", "-y", "-qq", "chromium"]):
            return
    print("browser tests: downloading Chromium with Playwright's installer...", file=sys.stderr, flush=True)
    _quietly([sys.executable, "-m", "playwright", "install", "chromium"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.chromium", description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="install a browser when none is found")
    args = parser.parse_args(argv)
    if skip_requested():
        print("browser tests: skipped (SKIP_BROWSER_TESTS=1)", file=sys.stderr)
        return 0
    try:
        print(find_chromium())
        return 0
    except NoBrowser as missing:
        if not args.install:
            print(missing, file=sys.stderr)
            return 1
    install()
    try:
        print(find_chromium())
        return 0
    except NoBrowser as missing:
        print(missing, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
