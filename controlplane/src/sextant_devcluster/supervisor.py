"""Starts and stops the component processes, tracking each by a pidfile so nothing is left behind."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child before exec: the kernel kills it when the process that started it (pytest) dies,
    # so a crashed test session cannot leave a control plane running.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def start_process(
    argv: list[str], log_path: Path, pidfile: Path, *, die_with_parent: bool, env: dict[str, str] | None = None,
) -> int:
    """Start `argv` in its own session with output to `log_path`; record its pid; return the pid.

    `env` entries are added to this process's environment.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        preexec: Callable[[], None] | None = _die_with_parent if die_with_parent else None
        proc = subprocess.Popen(  # noqa: S603 - argv is built by commands.py, never from user input
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=preexec, close_fds=True, env={**os.environ, **(env or {})},
        )
    pidfile.write_text(f"{proc.pid} {argv[0]}\n")
    return proc.pid


def _read_pidfile(pidfile: Path) -> tuple[int, str] | None:
    try:
        pid_text, binary = pidfile.read_text().split(maxsplit=1)
        return int(pid_text), binary.strip()
    except (FileNotFoundError, ValueError):
        return None


def _is_alive(pid: int, binary: str) -> bool:
    """True while `pid` runs `binary` (a recycled pid running something else does not count)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and os.path.realpath(cmdline) == os.path.realpath(binary)


def running_pid(pidfile: Path) -> int | None:
    """The pid recorded in `pidfile` if that process is still running, else None."""
    record = _read_pidfile(pidfile)
    if record is None or not _is_alive(*record):
        return None
    return record[0]


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child (started by another `make cluster`); its parent reaps it


def stop_process(pidfile: Path, *, grace_seconds: float = 10.0) -> bool:
    """SIGTERM the process group, SIGKILL it after `grace_seconds`; True when something was stopped."""
    record = _read_pidfile(pidfile)
    if record is None:
        return False
    pid, binary = record
    stopped = False
    if _is_alive(pid, binary):
        stopped = True
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while _is_alive(pid, binary) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if _is_alive(pid, binary):
            _signal_group(pid, signal.SIGKILL)
            while _is_alive(pid, binary):
                _reap(pid)
                time.sleep(0.05)
    _reap(pid)
    pidfile.unlink(missing_ok=True)
    return stopped


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def log_tail(path: Path, lines: int = 15) -> str:
    """The last `lines` lines of a process log, for error messages that say why a start failed."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log written)"
