"""``labcloud broker start|status|stop``: a RabbitMQ node of labcloud's own that outlives the
command that started it, answers on the URL it printed, and leaves nothing when stopped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import amqp
import pytest

from labcloud.binaries import rabbitnode
from labcloud.pids import running
from tests.conftest import require

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow, pytest.mark.timeout(300)]


def broker(state: Path, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labcloud.cli", "broker", action, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=150,
    )


def processes_in(home: Path) -> list[int]:
    """Pids of the processes whose environment names ``home`` (the node, its epmd)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if str(home).encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return [pid for pid in found if running(pid)]


def test_start_status_stop(tmp_path: Path) -> None:
    require(rabbitnode.scripts_dir() is not None, "rabbitmq-server is not installed")
    home = (tmp_path / "rabbitmq").resolve()
    try:
        started = broker(tmp_path, "start")
        assert started.returncode == 0, started.stdout + started.stderr
        url = started.stdout.strip()  # the URL alone on stdout: URL=$(labcloud broker start)
        assert url.startswith("amqp://guest:guest@127.0.0.1:")
        assert url.endswith("/")  # no vhost: `labcloud up` gives each cloud its own
        port = int(url.rsplit(":", 1)[1].rstrip("/"))
        assert port != 5672  # never the machine's broker
        with amqp.Connection(f"127.0.0.1:{port}") as conn:  # after `start` has exited
            assert conn.server_properties["product"] == "RabbitMQ"
        node = rabbitnode.RabbitNode.load(home)
        assert node is not None
        running = set(processes_in(home))  # the node's VM and what it runs, its own epmd
        assert {node.pid(), node.pid("epmd")} <= running, running

        again = broker(tmp_path, "start")
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == url  # the running node, not a second one
        status = broker(tmp_path, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert url in status.stdout
    finally:
        stopped = broker(tmp_path, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert processes_in(home) == []
    assert not home.exists()
    assert broker(tmp_path, "status").returncode == 3
