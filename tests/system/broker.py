"""The test session's own RabbitMQ node, and the faults tests do to it.

The suite never touches the machine's broker: it starts a node of its own with
``labcloud.binaries.rabbitnode`` (what ``labcloud broker start`` runs: its own node name, ports,
data and log directories, enabled-plugins file, Erlang cookie and epmd, all on 127.0.0.1), in
a temporary directory, with a lifeline: the node reads its stdin, held by the test session,
and halts when the session ends, however it ends. It starts in about 5 s, once per session
(``rabbit`` in tests/conftest.py), and stops at the end.

Faults act on that node only, through ``rabbitmqctl -n <node>`` and its Erlang VM's pid:
``restart_app`` (stop_app + start_app), ``kill_and_start`` (SIGKILL, as a crash), ``frozen``
(SIGSTOP ... SIGCONT: a broker that answers nothing, with every socket still open).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from labcloud.binaries import rabbitnode
from labcloud.pids import running
from tests.conftest import port_open, require

PREFIX = "labcloud-rabbit-"  # the temporary directory of each node: tempdir/labcloud-rabbit-*
PAUSE = threading.Event()  # never set: .wait(t) paces a bounded poll of another process
scripts_dir = rabbitnode.scripts_dir


class RabbitNode:
    """A RabbitMQ node the tests may use and break. ``own``: started (and stopped) by them."""

    def __init__(
        self,
        host: str,
        port: int,
        management_port: int,
        node: str | None,
        *,
        env: Mapping[str, str] | None = None,
        scripts: Path | None = None,
        own: rabbitnode.RabbitNode | None = None,
    ) -> None:
        self.host, self.port, self.management_port, self.node = host, port, management_port, node
        self.env = dict(os.environ if env is None else env)
        self.scripts = scripts
        self._own = own  # the node the session started, or None for an external one

    @property
    def own(self) -> bool:
        return self._own is not None

    @property
    def home(self) -> Path | None:
        return self._own.home if self._own else None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}//"

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.management_port}"

    # -- an external node (LABCLOUD_TEST_RABBIT_*) -----------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RabbitNode | None:
        """The node the environment names (see tests/conftest.py), or None to start one."""
        if not env.get("LABCLOUD_TEST_RABBIT_PORT"):
            return None
        port = int(env["LABCLOUD_TEST_RABBIT_PORT"])
        management = int(env.get("LABCLOUD_TEST_RABBIT_MANAGEMENT_PORT") or port + 10_000)
        ctl = shutil.which("rabbitmqctl")
        return cls(
            env.get("LABCLOUD_TEST_RABBIT_HOST", "127.0.0.1"),
            port,
            management,
            env.get("LABCLOUD_TEST_RABBIT_NODE") or None,
            env=env,
            scripts=Path(ctl).parent if ctl else None,
        )

    # -- our own node ----------------------------------------------------------------------
    @classmethod
    def start_own(cls) -> RabbitNode:
        """Start a node of the session's own; raise RuntimeError saying why it did not come up."""
        reap_stale_nodes()
        home = Path(tempfile.mkdtemp(prefix=PREFIX))
        (home / "owner").write_text(f"{os.getpid()}\n")
        try:
            own = rabbitnode.RabbitNode.create(home, f"labcloud-test-{os.getpid()}@localhost")
        except BaseException:
            shutil.rmtree(home, ignore_errors=True)
            raise
        own.start(lifeline=True)  # stops and removes the node's directory if it fails
        node = cls(own.host, own.amqp, own.management_port, own.name, env=own.env, own=own)
        node.scripts = own.scripts
        return node

    def stop(self) -> None:
        """Stop the node and its epmd, remove its directory (only for a node we started)."""
        if self._own is not None:
            self._own.stop()

    # -- control ---------------------------------------------------------------------------
    def ctl(self, *args: str, timeout: float = 60) -> str:
        """``rabbitmqctl -n <node> ...`` against this node only."""
        require(self.node is not None, "set LABCLOUD_TEST_RABBIT_NODE to let tests control it")
        require(self.scripts is not None, "rabbitmqctl is not installed")
        if self._own is not None:
            return self._own.ctl(*args, timeout=timeout)
        ctl = str(self.scripts / "rabbitmqctl") if self.scripts else "rabbitmqctl"
        out = subprocess.run(
            [ctl, "-n", str(self.node), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
        )
        if out.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {out.stderr or out.stdout}")
        return out.stdout

    def beam_pid(self) -> int:
        """The OS pid of the node's Erlang VM."""
        if self._own is not None and (pid := self._own.pid()) is not None:
            return pid  # RABBITMQ_ALLOW_INPUT: the script execs the VM
        for line in self.ctl("status").splitlines():
            if "OS PID:" in line:
                return int(line.split(":")[1])
        raise RuntimeError("rabbitmqctl status shows no OS PID")

    def wait_for_port(self, up: bool, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while port_open(self.host, self.port) != up:
            if time.monotonic() > deadline:
                raise TimeoutError(f"RabbitMQ did not go {'up' if up else 'down'} in {timeout} s")
            PAUSE.wait(0.1)

    def restart_app(self) -> None:
        """``stop_app`` then ``start_app``: every connection and transient queue dies."""
        self.ctl("stop_app")
        self.ctl("start_app")
        self.wait_for_port(True)

    def kill_and_start(self) -> None:
        """Kill the node's Erlang VM (SIGKILL) and start it again, as after a crash."""
        require(self._own is not None, "the tests kill and restart only a node they started")
        assert self._own is not None
        os.kill(self.beam_pid(), signal.SIGKILL)
        self.wait_for_port(False, timeout=20)
        self._own.stop_server()  # reaped, and what it started ended
        self._own.start_server(lifeline=True)

    @contextlib.contextmanager
    def frozen(self) -> Iterator[int]:
        """The node stopped dead (SIGSTOP): sockets open, nothing answered, until the end."""
        pid = self.beam_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            _wait_stopped(pid)
            yield pid
        finally:
            os.kill(pid, signal.SIGCONT)


def _wait_stopped(pid: int, timeout: float = 5.0) -> None:
    """Return once every thread of ``pid`` is stopped: kill() returns before a thread busy
    on another core has stopped, and a publish sent at once could still be confirmed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):  # a thread that just ended
                states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
        if all(state in "tT" for state in states):
            return
        time.sleep(0.001)
    raise AssertionError(f"the RabbitMQ node ({pid}) did not stop within {timeout} s")


def reap_stale_nodes() -> None:
    """Stop nodes left by earlier sessions that died without stopping them (SIGKILL): their
    node halted on its lifeline's EOF; their epmd and directory are left."""
    for home in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = int((home / "owner").read_text())
        except (OSError, ValueError):
            continue
        if running(owner):
            continue
        # a directory without node.json (an older suite's) still has its pid files
        node = rabbitnode.RabbitNode.load(home) or rabbitnode.RabbitNode(home, "", 0, 0, 0, home)
        node.stop()  # only processes whose environment names that directory


# -- what tests call: the session's node (set by the ``rabbit`` fixture) -------------------
NODE: RabbitNode | None = None


def current() -> RabbitNode:
    require(NODE is not None, "no RabbitMQ node in this session (use the rabbitmq_url fixture)")
    assert NODE is not None
    return NODE


def require_broker_control() -> None:
    node = current()
    require(node.node is not None, "set LABCLOUD_TEST_RABBIT_NODE to let tests restart it")
    require(port_open(node.host, node.port), f"no RabbitMQ on {node.host}:{node.port}")


def restart_app() -> None:
    current().restart_app()


def kill_and_start() -> None:
    current().kill_and_start()


def frozen() -> contextlib.AbstractContextManager[int]:
    return current().frozen()
