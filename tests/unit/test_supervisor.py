"""The `make run` supervisor: a process that dies is started again with
backoff while the others keep running, and Ctrl-C stops them all at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = """
import sys
from reliability.supervisor import Supervisor
sys.exit(Supervisor({"crashy": "python -c 'import sys; sys.exit(3)'",
                     "steady": "python -c 'import time; time.sleep(60)'"}).run())
"""


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:  # a crashed child not yet reaped
        return ""


def _wait(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_dead_process_is_restarted_the_others_kept_and_ctrl_c_stops_all(tmp_path):
    out = tmp_path / "supervisor.log"
    with open(out, "wb") as log:
        top = subprocess.Popen(
            [sys.executable, "-c", PROGRAM], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait(lambda: sum("crashy exited with status 3" in line for line in _lines(out)) >= 2, 15)
        starts = [line for line in _lines(out) if "steady started" in line]
        assert len(starts) == 1, _lines(out)  # one crashing process leaves the others alone
        restarts = [line.rsplit("restarting in ", 1)[1] for line in _lines(out) if "crashy exited" in line]
        assert restarts[:2] == ["1 s", "2 s"]  # backoff grows
        children = psutil.Process(top.pid).children(recursive=True)

        started = time.monotonic()
        os.killpg(top.pid, signal.SIGINT)
        top.wait(10)
        assert time.monotonic() - started < 10
        _, alive = psutil.wait_procs(children, timeout=2)
        assert not alive
        assert not any("SIGKILL" in line for line in _lines(out))
    finally:
        if top.poll() is None:
            top.kill()


def test_the_supervisor_dying_takes_its_processes_with_it(tmp_path):
    with open(tmp_path / "supervisor.log", "wb") as log:
        top = subprocess.Popen(
            [sys.executable, "-c", PROGRAM], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    _wait(lambda: any("time.sleep" in _cmdline(p) for p in psutil.Process(top.pid).children()), 10)
    children = psutil.Process(top.pid).children(recursive=True)
    top.kill()
    top.wait(5)
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, [p.pid for p in alive]


# A process that says which signal stopped it, as gunicorn acts on the
# difference: SIGINT stops at once, SIGTERM waits for kept-alive connections.
LISTENER = """
import signal, sys, time
def said(signum, _frame):
    print("stopped by", signal.Signals(signum).name, flush=True)
    sys.exit(0)
signal.signal(signal.SIGINT, said)
signal.signal(signal.SIGTERM, said)
print("listening", flush=True)
time.sleep(60)
"""
LISTENER_SUPERVISOR = f"""
import shlex, sys
from reliability.supervisor import Supervisor
sys.exit(Supervisor({{"listener": "python -c " + shlex.quote({LISTENER!r})}}).run())
"""


@pytest.mark.parametrize(
    ("sent", "passed_on"),
    [(signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGTERM")],
)
def test_ctrl_c_reaches_each_process_as_ctrl_c_and_a_stop_as_sigterm(tmp_path, sent, passed_on):
    out = tmp_path / "supervisor.log"
    with open(out, "wb") as log:
        top = subprocess.Popen(
            [sys.executable, "-c", LISTENER_SUPERVISOR],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait(lambda: any("listening" in line for line in _lines(out)), 15)
        os.kill(top.pid, sent)
        top.wait(10)
        assert any(line.endswith(f"stopped by {passed_on}") for line in _lines(out)), _lines(out)
    finally:
        if top.poll() is None:
            top.kill()
