"""A RabbitMQ node of labcloud's own, never the machine's: ``labcloud broker start|status|stop``.

    $ URL=$(labcloud broker start)          # amqp://guest:guest@127.0.0.1:<port>/
    $ labcloud up --processes --transport-url $URL
    $ labcloud down; labcloud broker stop

The node runs from the rabbitmq-server package's own script (``/usr/lib/rabbitmq/bin``, run
directly: the ``/usr/sbin`` wrapper would switch to the ``rabbitmq`` user and the machine's
Erlang cookie) and shares nothing with a RabbitMQ service on the machine: its own node name,
free AMQP, distribution and epmd ports on 127.0.0.1 (its own epmd, not the machine's 4369),
management port (AMQP + 10000, as 5672 and 15672), data, logs, enabled-plugins file and
cookie (``HOME``), all in one directory. Where labcloud simplifies: a deployment runs one
broker (or a cluster of three) as a system service, with users of its own and TLS; this node
lets ``guest`` in, which RabbitMQ allows from localhost only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from labcloud.pids import running

SCRIPTS = Path("/usr/lib/rabbitmq/bin")  # Debian's rabbitmq-server package
MANAGEMENT_OFFSET = 10_000  # management port = AMQP port + 10000, as 5672 and 15672
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
INFO = "node.json"
PAUSE = threading.Event()  # never set: .wait(t) paces a bounded poll of another process


def scripts_dir() -> Path | None:
    """Where rabbitmq-server and rabbitmqctl are (the package's own scripts), if installed."""
    if (SCRIPTS / "rabbitmq-server").exists():
        return SCRIPTS
    found = shutil.which("rabbitmq-server")
    return Path(found).resolve().parent if found else None


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports() -> tuple[int, int, int]:
    """AMQP (P), distribution and epmd ports, all free, and P + 10000 (management) free too;
    below Linux's ephemeral range (32768-), so no client's socket takes one meanwhile."""
    rng = random.Random()
    while True:
        amqp, dist, epmd = (rng.randrange(11_000, 22_000) for _ in range(3))
        wanted = {amqp, amqp + MANAGEMENT_OFFSET, dist, epmd}
        if len(wanted) == 4 and all(_free(p) for p in wanted):
            return amqp, dist, epmd


@dataclass
class RabbitNode:
    """One node: its directory (``home``) holds its config, data, logs and ``node.json``."""

    home: Path
    name: str  # the Erlang node name, e.g. labcloud-1a2b3c4d@localhost
    amqp: int
    dist: int
    epmd: int
    scripts: Path
    host: str = "127.0.0.1"
    _server: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def create(cls, home: Path, name: str | None = None) -> RabbitNode:
        """A new node's directory and configuration (not started); RuntimeError if RabbitMQ
        is not installed."""
        scripts = scripts_dir()
        if scripts is None:
            raise RuntimeError("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
        home = home.resolve()
        digest = hashlib.sha1(str(home).encode()).hexdigest()[:8]
        amqp, dist, epmd = free_ports()
        node = cls(home, name or f"labcloud-{digest}@localhost", amqp, dist, epmd, scripts)
        (home / "home").mkdir(parents=True, exist_ok=True)
        (home / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (home / "rabbitmq.conf").write_text(
            f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {node.management_port}\n"
        )
        (home / "rabbitmq-env.conf").write_text("")  # not the machine's /etc/rabbitmq one
        info = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(node).items()}
        (home / INFO).write_text(json.dumps({k: v for k, v in info.items() if k[0] != "_"}))
        return node

    @classmethod
    def load(cls, home: Path) -> RabbitNode | None:
        """The node whose directory is ``home``, or None when there is none."""
        try:
            info = json.loads((home / INFO).read_text())
        except (OSError, ValueError):
            return None
        info |= {"home": Path(info["home"]), "scripts": Path(info["scripts"])}
        return cls(**info)

    @property
    def url(self) -> str:
        """The transport URL without a vhost: ``labcloud up`` gives each cloud one of its own."""
        return f"amqp://guest:guest@{self.host}:{self.amqp}/"

    @property
    def management_port(self) -> int:
        return self.amqp + MANAGEMENT_OFFSET

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.management_port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of the node, its epmd and rabbitmqctl: nothing of the machine's."""
        home = self.home
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        return env | {
            "HOME": str(home / "home"),  # the node's Erlang cookie, shared with rabbitmqctl
            "RABBITMQ_ALLOW_INPUT": "true",  # exec the VM itself, no wrapper shell
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp),
            "RABBITMQ_DIST_PORT": str(self.dist),
            "ERL_EPMD_PORT": str(self.epmd),  # its own epmd (started first)
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

    # -- start -------------------------------------------------------------------------
    def start(self, *, lifeline: bool = False) -> RabbitNode:
        """Start epmd and the node, and wait until AMQP and the management API answer.

        ``lifeline``: the node reads its stdin, held by this process, and halts at EOF, so
        it ends with this process (the tests' node); otherwise it runs until ``stop()``."""
        try:
            self._start_epmd()
            self.start_server(lifeline=lifeline)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_epmd(self) -> None:
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        proc = subprocess.Popen(
            [epmd, "-address", "127.0.0.1", "-port", str(self.epmd)],
            env=self.env,  # the node's directory in its environment: pid() recognises it
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        (self.home / "epmd.pid").write_text(f"{proc.pid}\n")

    def start_server(self, *, lifeline: bool = False) -> None:
        """Start the node's Erlang VM (again, after a crash) and wait until it is up."""
        env = self.env
        if not lifeline:  # no shell on stdin: the node outlives the process that started it
            env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-noinput"
        with (self.home / "server.out").open("ab") as out:
            self._server = subprocess.Popen(
                [str(self.scripts / "rabbitmq-server")],
                env=env,
                cwd=self.home,
                stdin=subprocess.PIPE if lifeline else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends all of it
            )
        (self.home / "server.pid").write_text(f"{self._server.pid}\n")
        self.wait_until_up()

    def wait_until_up(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until AMQP and the management API answer; RuntimeError with the node's words."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._server is not None and self._server.poll() is not None:
                raise RuntimeError(
                    f"RabbitMQ node {self.name} exited with code {self._server.returncode}:\n"
                    + self.output_tail()
                )
            if port_open(self.host, self.amqp) and self._management_answers():
                return
            PAUSE.wait(0.1)
        raise RuntimeError(
            f"RabbitMQ node {self.name} not up in {timeout} s:\n{self.output_tail()}"
        )

    def _management_answers(self) -> bool:
        try:
            answer = httpx.get(f"{self.management_url}/api/overview", auth=("guest", "guest"))
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def output_tail(self, lines: int = 30) -> str:
        try:
            text = (self.home / "server.out").read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            text = []
        return "\n".join(text) + f"\n(logs: {self.home / 'log'})"

    # -- what runs ---------------------------------------------------------------------
    def pid(self, what: str = "server") -> int | None:
        """The pid of the node's VM (``server``) or its ``epmd``, if it runs: only a process
        whose environment names this node's directory (a pid file outlives its process)."""
        try:
            pid = int((self.home / f"{what}.pid").read_text())
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if str(self.home).encode() in environ and running(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """``rabbitmqctl -n <node> ...`` against this node only; RuntimeError if it fails."""
        out = subprocess.run(
            [str(self.scripts / "rabbitmqctl"), "-n", self.name, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
        )
        if out.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {out.stderr or out.stdout}")
        return out.stdout

    # -- stop --------------------------------------------------------------------------
    def stop_server(self) -> None:
        """Stop the node's VM (EOF on its lifeline, or SIGTERM: RabbitMQ stops gracefully),
        then whatever is left of its process group. Safe to repeat."""
        server, self._server = self._server, None
        if server is not None and server.stdin is not None:
            with contextlib.suppress(OSError):
                server.stdin.close()  # a node started with a lifeline halts at once
        _end(self.pid("server"), STOP_TIMEOUT)
        if server is not None:
            server.wait(timeout=STOP_TIMEOUT)  # our child: reaped
            _kill_group(server.pid)

    def stop(self, *, remove: bool = True) -> None:
        """Stop the node and its epmd; ``remove``: its directory too. Safe to repeat."""
        self.stop_server()
        _end(self.pid("epmd"), 5.0)
        if remove:
            shutil.rmtree(self.home, ignore_errors=True)


def _end(pid: int | None, timeout: float) -> None:
    """SIGTERM ``pid``, wait for it, then SIGKILL its process group (it leads one)."""
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)  # a frozen node could not stop
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # our child: reap it, or it stays a zombie
        PAUSE.wait(0.05)
    _kill_group(pid)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGCONT)
        os.killpg(pgid, signal.SIGKILL)
