"""Processes known by their pid: is one still there, stop one, and the pid files of daemons
labcloud starts itself (no init system does here), so that a later ``labcloud down`` stops
those and only those. Imports nothing of labcloud: the CLI, the binaries, the labs and the
datapath all use it."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

# under a cloud's state directory: a pid file for each daemon the cloud started itself
DAEMONS_DIR = "daemons"


def alive(pid: int, *, reap: bool = False) -> bool:
    """Is there a process ``pid``? ``reap``: collect it first if it is our exited child (a
    zombie still has its pid). One of another user's is there too (EPERM)."""
    if reap:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` s; safe to repeat."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: another parent's process sends us no event
    while running(pid, reap=True) and time.monotonic() < deadline:
        pause.wait(0.1)
    if running(pid, reap=True):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def running(pid: int, *, reap: bool = False) -> bool:
    """Alive and not a zombie or dead (exited: only its parent, or init, has yet to reap
    it); ``reap`` as for ``alive``."""
    return alive(pid, reap=reap) and _state(pid) not in ("Z", "X")


def started(pid: int) -> str | None:
    """When ``pid`` started (clock ticks since boot, /proc/PID/stat's 22nd field): with the
    pid, it names one process, never a later one that got the same pid."""
    stat = _stat(pid)
    return stat[19] if stat else None


def _state(pid: int) -> str | None:
    """R, S, D, Z (exited, not yet reaped) ...: /proc/PID/stat's third field."""
    stat = _stat(pid)
    return stat[0] if stat else None


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat from its third field on (after "pid (comm)"; comm may hold spaces)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def record(pid_file: Path, pid: int) -> None:
    """Write ``pid`` (and when it started) to ``pid_file``."""
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{pid} {started(pid)}\n")


def stop_recorded(pid_file: Path, timeout: float = 10.0) -> int | None:
    """Stop the process ``pid_file`` names if it still runs (the very one: same pid, same
    start), and remove the file; the pid stopped, or None."""
    try:
        pid_text, start = pid_file.read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    finally:
        pid_file.unlink(missing_ok=True)
    if started(pid) != start:
        return None  # gone, or its pid is another process's now
    terminate(pid, timeout)
    return pid
