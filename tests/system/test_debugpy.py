"""`labcloud up --debug-port`: a debugger attaches over DAP (as VS Code does), a breakpoint in
nova-scheduler's code stops the boot there, and continuing finishes it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import labcloud.compute.scheduler.manager as scheduler_manager
from tests.system.dap import DapClient
from tests.system.test_remote_stepping import Up

pytestmark = pytest.mark.slow
PAUSE = threading.Event()  # never set: paces a bounded poll of another process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.fixture(scope="module")
def up_debug(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Up, int]]:
    port = free_port()
    cloud = Up(tmp_path_factory.mktemp("labcloud-debug"), "memory://")
    started = cloud.labcloud("up", "--debug-port", str(port))
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"127.0.0.1:{port}" in started.stdout
    yield cloud, port
    stopped = cloud.labcloud("down")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_a_breakpoint_in_the_scheduler_stops_a_boot(up_debug: tuple[Up, int]) -> None:
    up, port = up_debug
    source = Path(scheduler_manager.__file__)
    line = line_of(source, 'ignore = set(request_spec.get("ignore_hosts")')
    dap = DapClient("127.0.0.1", port)
    try:
        dap.request("initialize", adapterID="labcloud-test", linesStartAt1=True, pathFormat="path")
        attach = dap.send("attach", justMyCode=False)
        dap.wait(event="initialized")
        placed = dap.request(
            "setBreakpoints", source={"path": str(source)}, breakpoints=[{"line": line}]
        )
        assert placed["body"]["breakpoints"][0]["verified"], placed
        dap.request("configurationDone")
        dap.wait(response_to=attach)

        token = up.token()
        booted: list[str] = []
        # debugpy stops every thread of the process at a breakpoint (unlike labcloud's
        # stepper, which holds one): nova-api may be frozen mid-answer, so boot from a thread
        booting = threading.Thread(target=lambda: booted.append(up.boot(token, timeout=120)))
        booting.start()
        stopped = dap.wait(event="stopped")
        assert stopped["body"]["reason"] == "breakpoint"
        thread = stopped["body"]["threadId"]
        frames = dap.request("stackTrace", threadId=thread)["body"]["stackFrames"]
        assert frames[0]["name"].endswith("select_destinations")
        assert frames[0]["line"] == line

        dap.request("setBreakpoints", source={"path": str(source)}, breakpoints=[])
        dap.request("continue", threadId=thread)
        booting.join(timeout=120)
        (uuid,) = booted
        for _ in range(200):
            if up.server(token, uuid)["status"] == "ACTIVE":
                break
            PAUSE.wait(0.05)
        assert up.server(token, uuid)["status"] == "ACTIVE"
        dap.send("disconnect", terminateDebuggee=False)
    finally:
        dap.close()
