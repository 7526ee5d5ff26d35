"""Lab 08's cloud of processes: the ``labcloud`` commands it runs, in a folder of its own, and
a teardown that also runs when the kernel ends before the lab's last cell.

    lab = ProcessesLab()
    lab.labcloud("broker", "start")           # as typed in a terminal; prints what it printed
    lab.labcloud("up", "--processes", "--transport-url", lab.broker_url)
    lab.stop()                                # labcloud down; labcloud broker stop
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from labcloud.lab.labs import forget_states, lab_number, lab_state_dir, labs_state_base
from labcloud.pids import alive


class ProcessesLab:
    """The state directory of this kernel's copy of a lab, and the commands run on it."""

    def __init__(self, number: str = "08") -> None:
        self.number = lab_number(number)
        for old in sorted((labs_state_base() / self.number).glob("kernel-*")):
            pid = int(old.name.removeprefix("kernel-") or 0)
            if pid == 0 or not alive(pid) or old == lab_state_dir(self.number):
                teardown(old)  # a kernel that ended without the lab's last cell
        forget_states(self.number)
        self.state = lab_state_dir(self.number)
        self.state.mkdir(parents=True, exist_ok=True)
        atexit.register(teardown_later, self.state)

    def labcloud(self, *args: str, show: bool = True, timeout: float = 300) -> str:
        """``labcloud --state-dir <the lab's> ARGS``; prints the command and what it printed
        (the state directory shown as $STATE), returns its stdout; RuntimeError if it fails."""
        done = _run(self.state, *args, timeout=timeout)
        if show or done.returncode != 0:
            text = self.shown(done.stderr + done.stdout)
            print(f"$ labcloud {' '.join(args)}\n{text}".rstrip())
        if done.returncode != 0:
            raise RuntimeError(f"labcloud {' '.join(args)} exited with {done.returncode}")
        return self.shown(done.stdout)

    def shown(self, text: str) -> str:
        """``text`` with the lab's state directory written as $STATE."""
        return text.replace(str(self.state), "$STATE")

    @property
    def broker_url(self) -> str:
        """The URL of the lab's RabbitMQ node, without a vhost (``up`` makes the cloud's)."""
        from labcloud.binaries.rabbitnode import RabbitNode

        node = RabbitNode.load(self.state / "rabbitmq")
        if node is None:
            raise RuntimeError("no broker: run labcloud broker start first")
        return node.url

    @property
    def transport_url(self) -> str:
        """The cloud's own: ``[DEFAULT] transport_url`` of its labcloud.conf (with its vhost)."""
        from labcloud.conf import load

        return str(load(self.state / "labcloud.conf", "nova").DEFAULT.transport_url)

    def url(self, project: str) -> str:
        """The API of ``project`` (keystone, nova, glance, neutron, cinder) this cloud serves."""
        from labcloud.conf import load

        host, port = load(self.state / "labcloud.conf", project).bind
        return f"http://{host}:{port}"

    def login(self, user: str = "demo") -> str:
        """A token of ``user`` (password authentication, scoped to the project of its name),
        with the password ``up`` made for it (credentials.json, 0600)."""
        import httpx

        password = json.loads((self.state / "credentials.json").read_text())[user]
        account = {"name": user, "domain": {"id": "default"}, "password": password}
        body = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": account}},
                "scope": {"project": {"name": user, "domain": {"id": "default"}}},
            }
        }
        answer = httpx.post(f"{self.url('keystone')}/v3/auth/tokens", json=body, timeout=30)
        answer.raise_for_status()
        return answer.headers["X-Subject-Token"]

    def programs(self) -> dict[str, Any]:
        """What the supervisor runs: name -> {binary, host, pid, state, restarts ...}."""
        return dict(json.loads((self.state / "processes.json").read_text())["programs"])

    def stop(self) -> None:
        """``labcloud down``, ``labcloud broker stop``, and the folder removed: safe to
        repeat, never raises."""
        teardown(self.state)


def _run(state: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labcloud.cli", "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def teardown_later(state: Path) -> None:
    """``teardown(state)`` in a process of its own: a kernel that ends before the lab's last
    cell gets seconds to exit before its manager kills it, and ``down`` may take longer."""
    if state.exists():
        code = f"from labcloud.lab.processes import teardown; teardown({str(state)!r})"
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not killed with the kernel's process group
        )


def teardown(state: Path | str, *, remove: bool = True) -> None:
    """Stop the cloud and the broker kept in ``state`` (if any); ``remove``: the folder too."""
    state = Path(state)
    for args, there in ((("down",), "processes.json"), (("broker", "stop"), "rabbitmq")):
        if (state / there).exists():
            # a failure is reported by nothing: the next run of the lab tries again
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                _run(state, *args, timeout=120)
    if remove:
        shutil.rmtree(state, ignore_errors=True)
