"""A small process supervisor for `make run`: the Procfile's processes,
each restarted with backoff when it dies, all stopped together on Ctrl-C.

    python -m reliability.supervisor web worker cron

Why our own and not honcho (which `make run` used before): honcho follows
foreman, which stops every process as soon as one ends, so a worker that
died in a Redis restart took web, cron and then the embedded databases down
with it. supervisord and circus restart processes but run as daemons driven
by config files; here we want one foreground command that behaves like a
platform (Heroku, systemd with ``Restart=always``): a process that exits is
started again after 1, 2, 4 ... 30 s, and the others keep running.

Each process gets a session of its own, so only this supervisor decides
when it stops; each dies with the supervisor (``die_with_parent``) if the
supervisor itself is killed. On SIGINT (Ctrl-C) every process group gets
SIGINT, as each program would from a terminal (gunicorn then stops at once
instead of lingering on kept-alive connections); on SIGTERM or SIGHUP each
gets SIGTERM. Whatever is left after ``STOP_GRACE_S`` gets one SIGKILL.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"
RESTART_BACKOFF_S = (1, 2, 4, 8, 16, 30)
STEADY_AFTER_S = 60  # a process that ran this long starts its backoff afresh
STOP_GRACE_S = 8  # Ctrl-C stops everything within 10 s, SIGKILL included
_PR_SET_PDEATHSIG = 1
# Loaded here, not in the child: after a fork only async-signal-safe work is
# safe, and dlopen is not.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(parent_pid: int, signum: int = signal.SIGKILL) -> None:
    """In a freshly forked child: ask Linux to send ``signum`` when the
    parent dies, so a SIGKILLed worker or supervisor leaves no orphan that
    keeps running (and holding pipes). Elsewhere this does nothing."""
    if _LIBC is None:
        return
    _LIBC.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os.kill(os.getpid(), signum)


def read_procfile(path: Path = PROCFILE) -> dict[str, str]:
    commands = {}
    for line in path.read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            commands[name.strip()] = command.strip()
    return commands


@dataclass
class Child:
    name: str
    command: str
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    start_at: float = 0.0  # when to (re)start it, on the monotonic clock


class Supervisor:
    def __init__(self, commands: dict[str, str], env: dict[str, str] | None = None):
        self.children = [Child(name, command) for name, command in commands.items()]
        self.env = env
        self.stopping = False
        self.stop_signal = signal.SIGTERM  # passed on to every process group
        self._lock = threading.Lock()

    def say(self, name: str, line: str) -> None:
        with self._lock:
            sys.stdout.write(f"{time.strftime('%H:%M:%S')} {name:<7}| {line}\n")
            sys.stdout.flush()

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._request_stop)
        while not self.stopping:
            for child in self.children:
                self._tend(child)
            time.sleep(0.2)
        self.stop()
        return 0

    def _request_stop(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stopping:
            self.stop_signal = signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM
        self.stopping = True

    def _tend(self, child: Child) -> None:
        now = time.monotonic()
        if child.process is None:
            if now >= child.start_at:
                self._start(child)
            return
        status = child.process.poll()
        if status is None or self.stopping:
            return
        ran_s = now - child.started_at
        child.failures = 1 if ran_s >= STEADY_AFTER_S else child.failures + 1
        delay = RESTART_BACKOFF_S[min(child.failures, len(RESTART_BACKOFF_S)) - 1]
        self.say("system", f"{child.name} exited with status {status} after {ran_s:.0f} s; restarting in {delay} s")
        child.process, child.start_at = None, now + delay

    def _start(self, child: Child) -> None:
        parent = os.getpid()
        child.process = subprocess.Popen(
            ["sh", "-c", f"exec {child.command}"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: die_with_parent(parent),  # runs in the child, before exec
        )
        child.started_at = time.monotonic()
        self.say("system", f"{child.name} started with pid {child.process.pid}")
        threading.Thread(target=self._relay, args=(child.name, child.process.stdout), daemon=True).start()

    def _relay(self, name: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode(errors="replace").rstrip("\n"))
        stream.close()

    def stop(self) -> None:
        """The stop signal to every group, SIGKILL once to what is left after the grace period."""
        running = [(c, c.process) for c in self.children if c.process is not None and c.process.poll() is None]
        self.say("system", f"stopping {', '.join(c.name for c, _ in running) or 'nothing'}")
        for _, process in running:
            _signal_group(process.pid, self.stop_signal)
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(p.poll() is None for _, p in running):
            time.sleep(0.1)
        for child, process in running:
            if process.poll() is None:
                self.say("system", f"{child.name} did not stop within {STOP_GRACE_S} s: sending SIGKILL")
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def main(argv: list[str]) -> int:
    commands = read_procfile()
    names = argv or [name for name in commands if name != "release"]
    unknown = [name for name in names if name not in commands]
    if unknown:
        print(f"supervisor: not in the Procfile: {', '.join(unknown)}", file=sys.stderr)
        return 2
    return Supervisor({name: commands[name] for name in names}, env=_environment()).run()


def _environment() -> dict[str, str]:
    """The children's environment: ours, with one metrics directory for all
    of them unless one is set, so that `make run`'s /metrics shows web,
    worker and cron together as a deployment's does (docs/operations.md)."""
    env = dict(os.environ)
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        from reliability.config import DEFAULT_INSTANCE_DIR

        folder = Path(env.get("INSTANCE_DIR") or DEFAULT_INSTANCE_DIR) / "metrics"
        # The processes never make it (reliability/metrics.py); this default is ours to make.
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # each process's startup check names the folder
        env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return env


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
