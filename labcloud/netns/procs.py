"""Processes inside namespaces: started from a thread that has entered the namespace (a
child starts in its parent thread's namespace, as under ``ip netns exec``), found again
with ``ip netns pids`` (so a cleanup after a crash finds them too), stopped by their own
PIDs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from labcloud.netns import links
from labcloud.netns.links import DatapathError
from labcloud.pids import alive


def start(ns: str, argv: list[str], log: Path | None = None) -> subprocess.Popen[bytes]:
    """Run ``argv`` in namespace ``ns`` in the background (output to ``log``)."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 (the child keeps it)
    try:
        return _popen(
            ns,
            argv,
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


def run(
    ns: str, argv: list[str], timeout: float = 10.0, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in namespace ``ns`` and wait for it (``stdin`` its input, its output
    captured), whatever its exit status. With no such namespace, it fails as nsenter would
    (exit status 1); a program that cannot be run exits 127, as under a shell."""
    if not os.path.exists(f"{links.NETNS_DIR}/{ns}"):
        return subprocess.CompletedProcess(argv, 1, "", f"no network namespace {ns}\n")
    try:
        proc = _popen(
            ns,
            argv,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as exc:
        return subprocess.CompletedProcess(argv, 127, "", f"{argv[0]}: {exc}\n")
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        raise DatapathError(reason=f"{' '.join(argv)} in {ns}: no answer in {timeout} s") from exc
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def check(ns: str, argv: list[str], stdin: str | None = None, timeout: float = 10.0) -> str:
    """Run ``argv`` in namespace ``ns``; its output, or DatapathError if it failed."""
    done = run(ns, argv, timeout, stdin)
    if done.returncode != 0:
        raise DatapathError(reason=f"{' '.join(argv)} in {ns}: {done.stderr.strip()}")
    return done.stdout


def _popen(ns: str, argv: list[str], **how: Any) -> subprocess.Popen[Any]:
    """Start ``argv`` with this thread inside ``ns`` for the moment of the fork: the child
    starts there, as under nsenter, without a first exec of nsenter (4 ms a command)."""
    return links.inside(ns, lambda: subprocess.Popen(argv, **how))


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
