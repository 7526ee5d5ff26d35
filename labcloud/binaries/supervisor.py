"""A small supervisor for ``labcloud up --processes``: one ``labcloud run`` per binary (one
nova-compute and L2 agent per compute host), each logging to ``<state>/logs/<name>.log``.

A process that dies is started again after a back-off that doubles (1 s, 2 s ... 30 s) and
resets once it has run for a minute; ``<state>/processes.json`` says, for ``labcloud
status``, what runs with which pid and how often it was restarted. SIGTERM stops them all,
the last started first (computes before the conductor, keystone last), then the supervisor.

Each is forked from a zygote (zygote.py) that imported the binaries' code once, and runs
what ``labcloud run NAME --config FILE --host HOST`` runs, under its binary's name.
They start together, keystone first (each waits for what it needs, as OpenStack's do);
``status`` shows a process ``running`` once it said READY=1 on its ``$NOTIFY_SOCKET``
(sd_notify's protocol, which ``labcloud run`` speaks), ``starting`` before.

With the linuxbridge datapath it wires every host's namespace first (``HostFabric``), so no
agent or nova-compute races another to make it, and removes them all once everything stopped.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labcloud.binaries import BINARIES
from labcloud.binaries.fabric import HostFabric
from labcloud.binaries.zygote import Forked, Zygote, become_subreaper

LOG = logging.getLogger(__name__)
BACKOFF_MIN, BACKOFF_MAX, HEALTHY_AFTER = 1.0, 30.0, 60.0
STOP_TIMEOUT = 20.0  # seconds a process gets to stop on SIGTERM before SIGKILL
STATUS_FILE = "processes.json"


@dataclass
class Program:
    name: str  # what `labcloud logs` and `status` call it: nova-compute-compute1
    binary: str
    host: str | None = None
    proc: Forked | None = None
    restarts: int = 0
    backoff: float = BACKOFF_MIN
    started: float = 0.0
    due: float | None = None  # when it starts again after a crash (monotonic)
    last_exit: int | None = None
    pid: int = field(default=0)
    ready: threading.Event = field(default_factory=threading.Event)


def programs(hosts: list[str], network_host: str = "controller") -> list[Program]:
    """Every binary of an all-in-one cloud, in start order."""
    found = []
    for info in BINARIES.values():
        if info.per_host:  # nova-compute on computes; the L2 agent on the network host too
            on = hosts if info.project == "nova" else [network_host, *hosts]
            found += [Program(f"{info.name}-{h}", info.name, h) for h in on]
        else:
            found.append(Program(info.name, info.name))
    return found


class Supervisor:
    def __init__(
        self, state: Path, config: Path, programs: list[Program], fabric: HostFabric | None = None
    ) -> None:
        """``fabric``: the linuxbridge datapath's hosts (None: the no-op datapath)."""
        self.state, self.config, self.programs, self.fabric = state, config, programs, fabric
        self.logs = state / "logs"
        self._exits: queue.Queue[Program | None] = queue.Queue()
        self._stopping = False
        self._sockets = itertools.count()  # each spawn's notify socket has a name of its own
        self.zygote = Zygote(self.logs / "zygote.log")

    def _notify_socket(self, program: Program) -> str:
        """A datagram socket on which ``program`` says READY=1; a thread sets program.ready.
        Abstract (``@name``, as systemd allows): no file, so no limit from the state
        directory's path (a socket's path has at most 107 bytes)."""
        name = f"labcloud-notify-{os.getpid()}-{program.name}-{next(self._sockets)}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind("\0" + name)
        program.ready.clear()

        def listen() -> None:
            with sock:
                while b"READY=1" not in sock.recv(4096).split(b"\n"):
                    pass
            program.ready.set()
            self._exits.put(program)  # not an exit: wakes the loop to write the status

        threading.Thread(target=listen, name=f"notify-{program.name}", daemon=True).start()
        return "@" + name

    def spawn(self, program: Program) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        env = {"NOTIFY_SOCKET": self._notify_socket(program)}
        log = self.logs / f"{program.name}.log"
        try:
            program.proc = self.zygote.spawn(program.binary, self.config, program.host, log, env)
        except OSError:
            LOG.exception("%s: no fork; trying again in %.0f s", program.name, program.backoff)
            program.due = time.monotonic() + program.backoff
            program.backoff = min(BACKOFF_MAX, program.backoff * 2)
            return
        program.pid, program.started, program.due = program.proc.pid, time.monotonic(), None
        proc = program.proc

        def wait() -> None:
            proc.wait()
            self._exits.put(program)

        threading.Thread(target=wait, name=f"wait-{program.name}", daemon=True).start()
        LOG.info("started %s (pid %d)", program.name, program.pid)

    def run(self, gate: Path | None = None) -> int:
        """Start everything (once ``gate`` exists, when given: the zygote imports meanwhile),
        restart what dies, until SIGTERM/SIGINT; then stop everything, and remove the
        fabric's namespaces (also when this fails)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            # from a thread: the handler may run while this thread holds the queue's lock
            signal.signal(
                sig, lambda *_: threading.Thread(target=self._exits.put, args=(None,)).start()
            )
        become_subreaper()  # the binaries the zygote forks become this process's children
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            if self.fabric is not None:  # while the databases are synced
                self.fabric.wire()
            self.zygote.start()
            self._serve(gate)
        finally:
            self.stop_all()
            if self.fabric is not None:
                self.fabric.remove()
            (self.state / STATUS_FILE).unlink(missing_ok=True)
        return 0

    def _serve(self, gate: Path | None) -> None:
        while gate is not None and not gate.exists():
            with contextlib.suppress(queue.Empty):
                if self._exits.get(timeout=0.05) is None:  # stopped before anything started
                    return
        for program in self.programs:
            self.spawn(program)
        self.write_status()
        while not self._stopping:
            due = [p.due for p in self.programs if p.due is not None]
            wait = max(0.0, min(due) - time.monotonic()) if due else None
            try:
                exited = self._exits.get(timeout=wait)
            except queue.Empty:
                self._restart_due()
                continue
            if exited is None:
                self._stopping = True
            elif exited.proc is not None and exited.proc.poll() is not None:
                self._crashed(exited)
            self.write_status()

    def _crashed(self, program: Program) -> None:
        assert program.proc is not None
        program.last_exit = program.proc.returncode
        if time.monotonic() - program.started >= HEALTHY_AFTER:
            program.backoff = BACKOFF_MIN
        program.due = time.monotonic() + program.backoff
        LOG.warning(
            "%s exited with %s; restarting in %.0f s",
            program.name,
            program.last_exit,
            program.backoff,
        )
        program.backoff = min(BACKOFF_MAX, program.backoff * 2)
        program.proc = None

    def _restart_due(self) -> None:
        now = time.monotonic()
        for program in self.programs:
            if program.due is not None and program.due <= now:
                program.restarts += 1
                self.spawn(program)
        self.write_status()

    def stop_all(self) -> None:
        running = [p for p in reversed(self.programs) if p.proc is not None]
        for program in running:
            assert program.proc is not None
            program.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for program in running:
            assert program.proc is not None
            try:
                program.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                LOG.warning("%s did not stop within %.0f s: killed", program.name, STOP_TIMEOUT)
                program.proc.kill()
                program.proc.wait()
        self.zygote.stop()

    def write_status(self) -> None:
        status: dict[str, Any] = {"supervisor": os.getpid(), "config": str(self.config)}
        status["zygote"] = self.zygote.pid
        status["programs"] = {
            p.name: {
                "binary": p.binary,
                "host": p.host,
                "pid": p.pid if p.proc is not None else None,
                "state": _state(p),
                "restarts": p.restarts,
                "last_exit": p.last_exit,
            }
            for p in self.programs
        }
        path = self.state / STATUS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=2))
        tmp.replace(path)


def _state(program: Program) -> str:
    if program.proc is None:
        return "restarting"
    return "running" if program.ready.is_set() else "starting"


def read_status(state: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((state / STATUS_FILE).read_text()))
    except (OSError, ValueError):
        return None
