"""Do things to the real RabbitMQ: restart its app, or kill the node and start it again."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

from tests.conftest import RABBIT_HOST, RABBIT_PORT, port_open, require


def rabbitmqctl(*args: str, timeout: float = 60) -> str:
    out = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=timeout, check=True
    )
    return out.stdout


def require_broker_control() -> None:
    require(shutil.which("rabbitmqctl") is not None, "rabbitmqctl is not installed")
    require(port_open(RABBIT_HOST, RABBIT_PORT), "no RabbitMQ on 127.0.0.1:5672")


def wait_for_port(up: bool, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while port_open(RABBIT_HOST, RABBIT_PORT) != up:
        if time.monotonic() > deadline:
            raise TimeoutError(f"RabbitMQ port did not go {'up' if up else 'down'} in {timeout} s")
        time.sleep(0.1)


def restart_app() -> None:
    """``rabbitmqctl stop_app`` then ``start_app``: every connection and transient queue dies."""
    rabbitmqctl("stop_app")
    rabbitmqctl("start_app")
    wait_for_port(True)


def node_pid() -> int:
    for line in rabbitmqctl("status").splitlines():
        if "OS PID:" in line:
            return int(line.split(":")[1])
    raise RuntimeError("rabbitmqctl status shows no OS PID")


def kill_and_start() -> None:
    """Kill the broker's Erlang VM (SIGKILL) and start a new one, as a crash would."""
    pid = node_pid()
    subprocess.run(["kill", f"-{signal.SIGKILL.value}", str(pid)], check=True)
    wait_for_port(False, timeout=20)
    subprocess.run(["rabbitmq-server", "-detached"], check=True, timeout=60)
    wait_for_port(True, timeout=120)
    rabbitmqctl("await_startup", timeout=120)
