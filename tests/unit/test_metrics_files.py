"""The multiprocess directory's housekeeping (reliability/metrics_files.py)
and the metrics settings' checks, on real files and real process ids."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reliability import metrics_files
from reliability.config import ROOT, load_settings
from reliability.errors import ConfigError


@pytest.fixture
def gone_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _touch(directory, *names: str) -> None:
    for name in names:
        (directory / name).write_bytes(b"")


def test_at_start_the_files_of_gone_processes_go_and_those_of_running_ones_stay(tmp_path, gone_pid):
    me = os.getpid()
    _touch(
        tmp_path,
        f"counter_{me}.db",
        f"gauge_livesum_{me}.db",
        f"histogram_horse{me}.db",
        f"counter_{gone_pid}.db",
        f"gauge_livesum_{gone_pid}.db",
        f"histogram_horse{gone_pid}.db",
    )
    assert metrics_files.clean_at_start(str(tmp_path)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{me}.db", f"gauge_livesum_{me}.db", f"histogram_horse{me}.db"]
    )


def test_a_missing_directory_is_not_made_at_start(tmp_path):
    target = tmp_path / "metrics" / "here"
    assert metrics_files.clean_at_start(str(target)) == 0
    assert not target.exists()


def test_a_killed_workers_live_gauges_go_but_its_counters_stay(tmp_path, gone_pid):
    _touch(tmp_path, f"gauge_livesum_{gone_pid}.db", f"gauge_livesum_horse{gone_pid}.db", f"counter_{gone_pid}.db")
    _touch(tmp_path, f"gauge_livesum_{os.getpid()}.db")
    metrics_files.forget_dead_processes(str(tmp_path))
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([f"counter_{gone_pid}.db", f"gauge_livesum_{os.getpid()}.db"])


def test_a_slot_name_cannot_break_the_file_names():
    with pytest.raises(ValueError):
        metrics_files.use_slot("horse_1")
    assert metrics_files.horse_slot(1234) == "horse1234"


def test_a_worker_port_needs_the_directory():
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        load_settings({"METRICS_WORKER_PORT": "9101"})
    assert (
        load_settings({"METRICS_WORKER_PORT": "9101", "PROMETHEUS_MULTIPROC_DIR": "/tmp/m"})["METRICS_WORKER_PORT"]
        == 9101
    )


def test_metrics_settings_are_checked():
    with pytest.raises(ConfigError, match="METRICS_NETWORKS"):
        load_settings({"METRICS_NETWORKS": "not a network"})
    with pytest.raises(ConfigError, match="METRICS_WORKER_PORT"):
        load_settings({"METRICS_WORKER_PORT": "70000"})
    assert load_settings({})["COMPRESSION_ENABLED"] is True


def test_a_directory_that_cannot_be_written_leaves_metrics_in_memory_not_a_crash():
    code = (
        "import reliability.metrics as m, reliability.metrics_files as f; "
        "m.HTTP_REQUESTS.labels('GET', '/', '200').inc(); f.clean_at_start(); print(m.MULTIPROCESS_DIR)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": "/dev/null/metrics"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"
    assert "PROMETHEUS_MULTIPROC_DIR is not a writable directory" in result.stderr


def test_no_process_makes_a_missing_directory_and_the_startup_check_says_it_is_missing(tmp_path):
    """A misspelt PROMETHEUS_MULTIPROC_DIR must not become a new folder that
    no /metrics reads (nor any path a root process is pointed at): importing
    the metrics and gunicorn's clean-up leave it missing, the process counts
    in memory, and the startup check, run after that import, fails naming it."""
    missing = tmp_path / "metrics-typo"
    code = (
        "import reliability.metrics as m, reliability.metrics_files as f\n"
        "from reliability.startup_checks import CheckFailed, check_metrics_dir\n"
        "f.clean_at_start()\n"
        "print(m.MULTIPROCESS_DIR)\n"
        "try:\n"
        "    check_metrics_dir({'PROMETHEUS_MULTIPROC_DIR': f.directory()})\n"
        "except CheckFailed as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(missing)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["None", f"{missing} is not writable: no such directory" + _MAKE_IT]
    assert not missing.exists()


_MAKE_IT = " (make it, writable by the app's user)"


def test_the_startup_check_takes_an_existing_writable_directory_only(tmp_path):
    from reliability.startup_checks import CheckFailed, check_metrics_dir

    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    with pytest.raises(CheckFailed, match="is not a directory"):
        check_metrics_dir({"PROMETHEUS_MULTIPROC_DIR": str(a_file)})
    assert check_metrics_dir({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}) == f"{tmp_path} writable"
