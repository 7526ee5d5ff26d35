"""labcloud.pids on real processes (``sleep``): alive, terminate, and pid files that stop the
process they name and never another."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from labcloud import pids


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_alive_until_reaped(sleeper: subprocess.Popen[bytes]) -> None:
    assert pids.alive(sleeper.pid)
    assert pids.alive(os.getpid())
    sleeper.kill()
    os.waitid(os.P_PID, sleeper.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    assert pids.alive(sleeper.pid)  # a zombie still has its pid
    assert not pids.alive(sleeper.pid, reap=True)  # collected, then gone


def test_terminate_ends_the_process(sleeper: subprocess.Popen[bytes]) -> None:
    pids.terminate(sleeper.pid, timeout=5)
    assert not pids.alive(sleeper.pid)  # and reaped: it was our child
    pids.terminate(sleeper.pid, timeout=5)  # safe to repeat


def test_terminate_kills_what_ignores_sigterm() -> None:
    ignore = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    ignore += "print(flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", ignore], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # its handler is in place
        pids.terminate(proc.pid, timeout=0.5)
        assert proc.wait(5) == -9  # SIGKILL: SIGTERM alone would have left it
    finally:
        proc.kill()
        proc.wait()


def test_a_recorded_process_is_stopped_and_its_file_removed(
    sleeper: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    pid_file = tmp_path / "daemons" / "sleep.pid"
    pids.record(pid_file, sleeper.pid)
    assert pids.stop_recorded(pid_file, timeout=5) == sleeper.pid
    assert not pids.alive(sleeper.pid)
    assert not pid_file.exists()
    assert pids.stop_recorded(pid_file) is None  # nothing recorded any more


def test_a_pid_file_of_another_process_stops_nothing(
    sleeper: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    pid_file = tmp_path / "libvirtd.pid"
    start = pids.started(sleeper.pid)
    assert start is not None
    pid_file.write_text(f"{sleeper.pid} {int(start) - 1}\n")  # the pid, reused by another
    assert pids.stop_recorded(pid_file) is None
    assert sleeper.poll() is None  # still running
    assert not pid_file.exists()
