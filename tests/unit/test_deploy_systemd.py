"""deploy/systemd: the units verify with `systemd-analyze verify` (run
against copies whose /opt/yco and /etc/yco point into a temporary root where
those paths exist: verify checks that every ExecStart program is there), and
they keep their promises: the Procfile's four commands, a templated worker,
a target grouping them, migrations before the others, restarts, hardening."""

from __future__ import annotations

import configparser
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.unit.deploy_helpers import ROOT, procfile, tool

UNITS = ROOT / "deploy" / "systemd"
PROCESS_UNITS = {
    "release": "yco-release.service",
    "web": "yco-web.service",
    "worker": "yco-worker@.service",
    "cron": "yco-cron.service",
}
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "User": "yco",
    "Group": "yco",
}


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read(UNITS / name, encoding="utf-8")
    return parser


def unit_commands() -> dict[str, list[str]]:
    return {process: shlex.split(unit(name)["Service"]["ExecStart"]) for process, name in PROCESS_UNITS.items()}


def test_the_units_run_the_procfile_commands_from_the_virtualenv() -> None:
    commands = unit_commands()
    for process, argv in commands.items():
        assert argv[0].startswith("/opt/yco/venv/bin/"), process
        assert [Path(argv[0]).name, *argv[1:]] == procfile()[process], process


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    units_dir = tmp_path / "units"
    units_dir.mkdir()
    for source in sorted(UNITS.glob("yco*.service")) + sorted(UNITS.glob("*.target")):
        text = source.read_text(encoding="utf-8")
        text = text.replace("/opt/yco/", f"{tmp_path}/opt/yco/").replace("/etc/yco/", f"{tmp_path}/etc/yco/")
        (units_dir / source.name).write_text(text, encoding="utf-8")
    for argv in unit_commands().values():
        program = tmp_path / argv[0].lstrip("/")
        program.parent.mkdir(parents=True, exist_ok=True)
        program.write_text("#!/bin/sh\n", encoding="utf-8")
        program.chmod(0o755)
    (tmp_path / "opt/yco/app").mkdir(parents=True)
    (tmp_path / "etc/yco").mkdir(parents=True)
    (tmp_path / "etc/yco/yco.env").write_text((UNITS / "yco.env.example").read_text(encoding="utf-8"))
    names = sorted(path.name for path in units_dir.iterdir())
    assert len(names) == 5
    result = subprocess.run(  # noqa: S603 (our own files)
        [analyze, "verify", "--man=no", *names], cwd=units_dir, capture_output=True, text=True, timeout=120
    )
    # Unknown or misspelt keys are only warnings (exit code 0): any output fails too.
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), result.stderr


def test_the_target_groups_them_and_migrations_come_first() -> None:
    wants = unit("yco.target")["Unit"]["Wants"].split()
    assert set(wants) == {"yco-release.service", "yco-web.service", "yco-worker@1.service", "yco-cron.service"}
    release = unit(PROCESS_UNITS["release"])["Service"]
    assert release["Type"] == "oneshot" and release["RemainAfterExit"] == "yes"
    for process in ("web", "worker", "cron"):
        parsed = unit(PROCESS_UNITS[process])
        assert "yco-release.service" in parsed["Unit"]["Requires"].split(), process
        assert "yco-release.service" in parsed["Unit"]["After"].split(), process
        assert parsed["Unit"]["PartOf"] == "yco.target", process
        assert parsed["Service"]["Restart"] == "always", process
        assert parsed["Install"]["WantedBy"] == "yco.target", process
    assert unit(PROCESS_UNITS["worker"])["Install"]["DefaultInstance"] == "1"


@pytest.mark.parametrize("name", sorted(PROCESS_UNITS.values()))
def test_every_unit_is_hardened_and_reads_the_environment_file(name: str) -> None:
    service = unit(name)["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == value, f"{name}: {key}"
    assert service["EnvironmentFile"] == "/etc/yco/yco.env"
    assert service["WorkingDirectory"] == "/opt/yco/app"
    assert service["StateDirectory"].split() == ["yco", "yco/metrics"]


def test_the_environment_file_names_real_settings() -> None:
    from reliability.config import SETTINGS

    known = {setting.name for setting in SETTINGS} | {"HOST", "PORT", "WEB_CONCURRENCY"}
    lines = (UNITS / "yco.env.example").read_text(encoding="utf-8").splitlines()
    names = {line.lstrip("# ").split("=", 1)[0] for line in lines if "=" in line and line.lstrip("# ")[:1].isupper()}
    assert {"ENVIRONMENT", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "INSTANCE_DIR"} <= names
    assert names <= known, names - known
