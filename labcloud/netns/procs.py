"""Processes inside namespaces: started with ``ip netns exec``, found again with
``ip netns pids`` (so a cleanup after a crash finds them too), stopped by their own PIDs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from labcloud.netns.links import DatapathError
from labcloud.pids import alive


def in_namespace(ns: str, argv: list[str]) -> list[str]:
    """``argv`` run in the named namespace ``ns``. nsenter, not ``ip netns exec``: that one
    also remounts / and /sys, which fails where / is no mount point (a chroot)."""
    return ["nsenter", f"--net=/run/netns/{ns}", "--", *argv]


def start(ns: str, argv: list[str], log: Path | None = None) -> subprocess.Popen[bytes]:
    """Run ``argv`` in namespace ``ns`` in the background (output to ``log``)."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 (the child keeps it)
    try:
        return subprocess.Popen(
            in_namespace(ns, argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the notebook does not reach it
        )
    except OSError as exc:
        raise DatapathError(reason=f"cannot run {argv[0]} in {ns}: {exc}") from exc
    finally:
        if log:
            out.close()  # type: ignore[union-attr]


def run(ns: str, argv: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in namespace ``ns`` and wait for it (its output captured)."""
    try:
        return subprocess.run(
            in_namespace(ns, argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DatapathError(reason=f"{' '.join(argv)} in {ns}: no answer in {timeout} s") from exc


def pids_in(ns: str) -> list[int]:
    """Every process whose network namespace is ``ns``."""
    answer = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in answer.stdout.split() if p.isdigit()]


def stop(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL; safe to repeat."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def kill_all(ns: str, timeout: float = 5.0) -> None:
    """Stop every process in ``ns`` (TERM, then KILL after ``timeout``)."""
    pids = pids_in(ns)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    gone = threading.Event()
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if alive(p, reap=True)]
        gone.wait(0.02)  # polling /proc: a process of another parent sends no event
    for pid in pids:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
