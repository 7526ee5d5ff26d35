"""The supervisor's spawner: a fork server that imports the binaries' code once and forks each
binary from it, as Android's zygote or gunicorn's ``preload_app`` do.

Started one by one, every ``labcloud run`` spends its first second importing FastAPI,
SQLAlchemy, pydantic, kombu ... — sixteen of them at once on two cores took most of ``up
--processes``'s start-up, and each held its own copy of those modules. The zygote imports
them before forking anything (and freezes them out of the garbage collector, so the
children's pages stay shared), then forks a binary per request; each child redirects its
output to its log, names itself after its binary (setproctitle) and runs exactly what
``labcloud run NAME --config FILE`` runs. systemd still starts each binary with ``labcloud
run`` (``labcloud deploy units``): the zygote is only how ``up --processes`` spawns them.

The zygote forks twice, so that each binary becomes the supervisor's own child (the
supervisor is a child subreaper, ``prctl(PR_SET_CHILD_SUBREAPER)``): it waits for their exit
and signals them as it would processes it started itself. Once reparented, a binary asks
for SIGTERM when its supervisor dies (``PR_SET_PDEATHSIG``): a supervisor killed with -9
takes its binaries down with it rather than leaving them to init.

Protocol (one JSON line each way, on the zygote's stdin and stdout)::

    -> {"binary": "nova-compute", "config": "...", "host": "compute1", "log": "...",
        "env": {"NOTIFY_SOCKET": "..."}}
    <- {"pid": 12345}
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36  # prctl(2)
REPARENT_TIMEOUT = 10.0  # seconds a forked binary waits to become the supervisor's child
PAUSE = threading.Event()  # never set: .wait(t) paces the wait for the reparenting


def _prctl(option: int, value: int, what: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), what)


def become_subreaper() -> None:
    """Orphaned descendants (the binaries the zygote double-forks) become this process's."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1, "prctl(PR_SET_CHILD_SUBREAPER)")


def _die_with(supervisor: int) -> None:
    """Once reparented to ``supervisor``, get SIGTERM when it dies (exit if it already has)."""
    deadline = time.monotonic() + REPARENT_TIMEOUT
    while os.getppid() != supervisor:  # the middle process is exiting
        if time.monotonic() > deadline:
            raise OSError(f"not reparented to the supervisor (pid {supervisor})")
        PAUSE.wait(0.001)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM, "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != supervisor:  # it died before the request took effect
        raise SystemExit(1)


# -- the zygote process ----------------------------------------------------------------------
def preload() -> None:
    """Import what every binary runs: the runner and each factory's module."""
    from labcloud.binaries import BINARIES

    importlib.import_module("labcloud.binaries.runner")
    importlib.import_module("setproctitle")
    importlib.import_module("labcloud.compute.virt.fake")  # nova-compute's default driver
    for info in BINARIES.values():
        importlib.import_module(f"labcloud.binaries.{info.factory.partition(':')[0]}")


def _child(request: dict[str, Any], supervisor: int) -> None:
    """In the forked binary: its log as stdout and stderr, its environment, then ``run``."""
    code = 1
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        # ignored, as the interpreter sets it at start-up: a write to a socket its peer
        # closed (a broker killed) raises BrokenPipeError; SIG_DFL killed every binary then
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        _die_with(supervisor)
        os.environ.update(request.get("env", {}))
        sys.argv = ["labcloud", "run", request["binary"], "--config", request["config"]]
        from labcloud.binaries.runner import run

        code = run(request["binary"], request["config"], host=request.get("host"))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)


def fork(request: dict[str, Any], supervisor: int) -> int:
    """Fork a binary as a grandchild (its parent exits at once, so it is reparented to the
    subreaper, ``supervisor``); its pid."""
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(r)
        try:
            pid = os.fork()
            if pid == 0:
                os.close(w)
                _child(request, supervisor)
            os.write(w, str(pid).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as answer:
        pid_text = answer.read()
    os.waitpid(middle, 0)  # once reaped, the binary has been reparented
    if not pid_text:
        raise OSError("the zygote's fork failed")
    return int(pid_text)


def serve(requests: IO[str], answers: IO[str]) -> None:
    supervisor = os.getppid()
    for line in requests:
        try:
            answer: dict[str, Any] = {"pid": fork(json.loads(line), supervisor)}
        except Exception as exc:  # a request it cannot serve is answered, not fatal
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main() -> int:
    import setproctitle

    setproctitle.setproctitle("labcloud-zygote")
    preload()
    if threading.active_count() != 1:  # forking with other threads could copy held locks
        print(f"the zygote has threads after its imports: {threading.enumerate()}", file=sys.stderr)
        return 1
    gc.collect()
    gc.freeze()  # the imported objects: never scanned by a child's GC, their pages stay shared
    serve(sys.stdin, sys.stdout)
    return 0


# -- the supervisor's side -------------------------------------------------------------------
class Forked:
    """A binary the zygote forked, now the supervisor's child: the part of Popen's interface
    the supervisor uses (pid, returncode, poll, wait, send_signal, kill)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._exited = threading.Event()
        threading.Thread(target=self._reap, name=f"reap-{pid}", daemon=True).start()

    def _reap(self) -> None:
        _, status = os.waitpid(self.pid, 0)
        self.returncode = os.waitstatus_to_exitcode(status)  # -N when killed by signal N
        self._exited.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """The fork server, seen from the supervisor (which must be a subreaper first)."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start it now (it imports the binaries' code before it answers anything)."""
        with self._lock:
            self._started()

    def _started(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            with self.log.open("ab") as log:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "labcloud.binaries.zygote"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
        return self._proc

    def spawn(
        self, binary: str, config: Path, host: str | None, log: Path, env: dict[str, str]
    ) -> Forked:
        request = {"binary": binary, "config": str(config), "host": host, "log": str(log)}
        with self._lock:
            proc = self._started()
            assert proc.stdin is not None
            assert proc.stdout is not None
            proc.stdin.write(json.dumps(request | {"env": env}) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        if not line:
            raise OSError(f"the zygote exited ({proc.poll()}); see {self.log}")
        answer = json.loads(line)
        if "pid" not in answer:
            raise OSError(f"the zygote could not fork {binary}: {answer.get('error')}")
        return Forked(int(answer["pid"]))

    def stop(self) -> None:
        """Close its stdin: it exits (forked binaries are not its children any more)."""
        with self._lock:
            if self._proc is None:
                return
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


if __name__ == "__main__":
    raise SystemExit(main())
