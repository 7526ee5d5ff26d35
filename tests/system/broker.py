"""The test session's own RabbitMQ node, and the faults tests do to it.

The suite never touches the machine's broker: it starts a node of its own from the Debian
package (``/usr/lib/rabbitmq/bin/rabbitmq-server``, run directly: the ``/usr/sbin`` wrapper
would switch to the ``rabbitmq`` user and the machine's Erlang cookie), with its own node name,
ports, data and log directories, enabled-plugins file (the management plugin, for it alone),
Erlang cookie (``HOME``) and even its own epmd, all on 127.0.0.1, in a temporary directory.
It starts in about 5 s, once per session (``rabbit`` in tests/conftest.py), and stops at the end.

Faults act on that node only, through ``rabbitmqctl -n <node>`` and its Erlang VM's pid:
``restart_app`` (stop_app + start_app), ``kill_and_start`` (SIGKILL, as a crash), ``frozen``
(SIGSTOP ... SIGCONT: a broker that answers nothing, with every socket still open).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from labcloud.pids import alive
from tests.conftest import port_open, require

DEBIAN_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
PREFIX = "labcloud-rabbit-"  # the temporary directory of each node: tempdir/labcloud-rabbit-*
MANAGEMENT_OFFSET = 10_000  # management port = AMQP port + 10000, as 5672 and 15672
START_TIMEOUT = 90.0
PAUSE = threading.Event()  # never set: .wait(t) paces a bounded poll of another process


def scripts_dir() -> Path | None:
    """Where rabbitmq-server and rabbitmqctl are (the Debian package's own scripts)."""
    if (DEBIAN_SCRIPTS / "rabbitmq-server").exists():
        return DEBIAN_SCRIPTS
    found = shutil.which("rabbitmq-server")
    return Path(found).resolve().parent if found else None


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports() -> tuple[int, int, int]:
    """AMQP (P), distribution and epmd ports, all free; P + 10000 (management) is free too."""
    rng = random.Random()
    while True:
        amqp, dist, epmd = (rng.randrange(11_000, 22_000) for _ in range(3))
        wanted = {amqp, amqp + MANAGEMENT_OFFSET, dist, epmd}
        if len(wanted) == 4 and all(_free(p) for p in wanted):
            return amqp, dist, epmd


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
        home: Path | None = None,
    ) -> None:
        self.host, self.port, self.management_port, self.node = host, port, management_port, node
        self.env = dict(os.environ if env is None else env)
        self.scripts = scripts
        self.home = home  # the node's directory when the tests own it
        self._server: subprocess.Popen[bytes] | None = None
        self._epmd: subprocess.Popen[bytes] | None = None

    @property
    def own(self) -> bool:
        return self.home is not None

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
        scripts = scripts_dir()
        if scripts is None:
            raise RuntimeError("rabbitmq-server is not installed (`./run test` installs it)")
        reap_stale_nodes()
        home = Path(tempfile.mkdtemp(prefix=PREFIX))
        amqp, dist, epmd = _ports()
        node = cls(
            "127.0.0.1",
            amqp,
            amqp + MANAGEMENT_OFFSET,
            f"labcloud-test-{os.getpid()}@localhost",
            env=_node_env(home, amqp, dist, epmd),
            scripts=scripts,
            home=home,
        )
        (home / "owner").write_text(f"{os.getpid()}\n")
        try:
            node._start_epmd(epmd)
            node._start_server()
        except BaseException:
            node.stop()
            raise
        return node

    def _start_epmd(self, port: int) -> None:
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        self._epmd = subprocess.Popen(
            [epmd, "-address", "127.0.0.1", "-port", str(port)],
            env=self.env,  # its directory in the environment: reap_stale_nodes knows it
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert self.home is not None
        (self.home / "epmd.pid").write_text(f"{self._epmd.pid}\n")

    def _start_server(self) -> None:
        assert self.home is not None
        assert self.scripts is not None
        with (self.home / "server.out").open("ab") as out:
            self._server = subprocess.Popen(
                [str(self.scripts / "rabbitmq-server")],
                env=self.env,
                cwd=self.home,
                stdin=subprocess.PIPE,  # held by this process: if it dies, EOF halts the node
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends all of it
            )
        (self.home / "server.pid").write_text(f"{self._server.pid}\n")
        self.wait_until_up()

    def wait_until_up(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until AMQP and the management API answer; fail with the node's own words."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._server is not None and self._server.poll() is not None:
                raise RuntimeError(
                    f"RabbitMQ node {self.node} exited with code {self._server.returncode}:\n"
                    + self.output_tail()
                )
            if port_open(self.host, self.port) and self._management_answers():
                return
            PAUSE.wait(0.1)
        raise RuntimeError(
            f"RabbitMQ node {self.node} not up in {timeout} s:\n{self.output_tail()}"
        )

    def _management_answers(self) -> bool:
        try:
            answer = httpx.get(f"{self.management_url}/api/overview", auth=("guest", "guest"))
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def output_tail(self, lines: int = 30) -> str:
        if self.home is None:
            return ""
        text = (self.home / "server.out").read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text) + f"\n(logs: {self.home / 'log'})"

    def stop(self) -> None:
        """Stop the node and its epmd, remove its directory (only for a node we started)."""
        if self.home is None:
            return
        _end(self._server)
        _end(self._epmd)
        shutil.rmtree(self.home, ignore_errors=True)

    # -- control ---------------------------------------------------------------------------
    def ctl(self, *args: str, timeout: float = 60) -> str:
        """``rabbitmqctl -n <node> ...`` against this node only."""
        require(self.node is not None, "set LABCLOUD_TEST_RABBIT_NODE to let tests control it")
        require(self.scripts is not None, "rabbitmqctl is not installed")
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
        if self._server is not None:
            return self._server.pid  # RABBITMQ_ALLOW_INPUT: the script execs the VM
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
        require(self.own, "the tests kill and restart only a node they started")
        os.kill(self.beam_pid(), signal.SIGKILL)
        self.wait_for_port(False, timeout=20)
        _end(self._server)
        self._start_server()

    @contextlib.contextmanager
    def frozen(self) -> Iterator[int]:
        """The node stopped dead (SIGSTOP): sockets open, nothing answered, until the end."""
        pid = self.beam_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            yield pid
        finally:
            os.kill(pid, signal.SIGCONT)


def _node_env(home: Path, amqp: int, dist: int, epmd: int) -> dict[str, str]:
    """The environment of a node that shares nothing with the machine's RabbitMQ."""
    (home / "home").mkdir()
    (home / "enabled_plugins").write_text("[rabbitmq_management].\n")
    (home / "rabbitmq.conf").write_text(
        f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {amqp + MANAGEMENT_OFFSET}\n"
    )
    (home / "rabbitmq-env.conf").write_text("")  # not the machine's /etc/rabbitmq one
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
    return env | {
        "HOME": str(home / "home"),  # the node's Erlang cookie, shared with rabbitmqctl
        "RABBITMQ_ALLOW_INPUT": "true",  # the VM itself, no wrapper shell; stdin = lifeline
        "RABBITMQ_NODENAME": f"labcloud-test-{os.getpid()}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp),
        "RABBITMQ_DIST_PORT": str(dist),
        "ERL_EPMD_PORT": str(epmd),  # its own epmd (started first), not the machine's 4369
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        "RABBITMQ_CONF_ENV_FILE": str(home / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(home / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_PID_FILE": str(home / "beam.pid"),
        "RABBITMQ_PLUGINS_EXPAND_DIR": str(home / "plugins-expand"),
    }


def _end(proc: subprocess.Popen[bytes] | None) -> None:
    """End a process and its group: EOF on its stdin (a node halts at once), then SIGKILL."""
    if proc is None:
        return
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGCONT)  # a frozen node
        os.killpg(proc.pid, signal.SIGKILL)  # epmd, and what the node's VM started
    proc.wait(timeout=10)


def reap_stale_nodes() -> None:
    """Stop nodes left by earlier sessions that died without stopping them (SIGKILL)."""
    for home in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = int((home / "owner").read_text())
        except (OSError, ValueError):
            continue
        if alive(owner):
            continue
        for name in ("server.pid", "epmd.pid"):
            with contextlib.suppress(OSError, ValueError, ProcessLookupError):
                pgid = int((home / name).read_text())
                if str(home) in Path(f"/proc/{pgid}/environ").read_text(errors="replace"):
                    os.killpg(pgid, signal.SIGKILL)  # only a process that runs in that node's dir
        shutil.rmtree(home, ignore_errors=True)


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
