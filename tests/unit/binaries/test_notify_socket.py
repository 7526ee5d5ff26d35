"""The supervisor hears a binary's READY=1 whatever its state directory's path."""

from __future__ import annotations

from pathlib import Path

import pytest

from labcloud.binaries import runner
from labcloud.binaries.supervisor import Program, Supervisor


def test_ready_is_heard_under_a_state_directory_longer_than_a_socket_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / ("d" * 100) / ("e" * 100)  # a socket's path has at most 107 bytes
    supervisor = Supervisor(state, state / "labcloud.conf", [])
    program = Program("nova-compute-compute1", "nova-compute", "compute1")
    address = supervisor._notify_socket(program)
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    runner.notify("STATUS=starting")
    assert not program.ready.wait(0.2)  # only READY=1 counts
    runner.notify("READY=1")
    assert program.ready.wait(5)


def test_each_spawn_has_a_socket_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A program spawned again while its first socket still listens binds a new name."""
    supervisor = Supervisor(tmp_path, tmp_path / "labcloud.conf", [])
    first, second = Program("nova-api", "nova-api"), Program("nova-api", "nova-api")
    addresses = [supervisor._notify_socket(first), supervisor._notify_socket(second)]
    assert addresses[0] != addresses[1]
    for program, address in zip((first, second), addresses, strict=True):
        assert address.startswith("@")
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        runner.notify("READY=1")  # and its listener ends
        assert program.ready.wait(5)
