"""Processes known by their pid: is one still there. Imports nothing of labcloud: the CLI,
the binaries, the labs and the datapath all use it."""

from __future__ import annotations

import contextlib
import os


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
