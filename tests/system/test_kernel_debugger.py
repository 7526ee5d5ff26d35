"""JupyterLab's debugger, in-kernel: through the kernel's debug protocol (the messages
JupyterLab sends), a breakpoint in nova-scheduler's code stops a boot running in the
notebook's own cloud, and continuing finishes it."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

import labcloud.compute.scheduler.manager as scheduler_manager

pytestmark = pytest.mark.slow

BOOT = """
import threading, httpx
from labcloud.cloud import LabCloud
from labcloud.spec import CloudSpec
from labcloud.trace.flow import FlowRecorder
cloud = LabCloud(CloudSpec.demo()).start()
flow = FlowRecorder(cloud.bus)
token = cloud.login("demo")
h = {"X-Auth-Token": token}
image = httpx.get(cloud.urls["image"] + "/v2/images", headers=h).json()["images"][0]
body = {"server": {"name": "vm1", "flavorRef": "1", "imageRef": image["id"]}}
booted = []
def boot():  # a thread: at a breakpoint the debugger holds every thread, nova-api too
    answer = httpx.post(cloud.urls["compute"] + "/v2.1/servers", json=body, headers=h, timeout=120)
    booted.append(answer.json()["server"]["id"])
threading.Thread(target=boot).start()
"""


class Debugger:
    """Sends debug_request messages on the control channel, as JupyterLab does."""

    def __init__(self, kc: BlockingKernelClient) -> None:
        self.kc = kc
        self.seq = 0

    def __call__(self, command: str, **arguments: Any) -> dict[str, Any]:
        self.seq += 1
        content = {"type": "request", "seq": self.seq, "command": command, "arguments": arguments}
        msg = self.kc.session.msg("debug_request", content)
        self.kc.control_channel.send(msg)
        while True:
            reply = self.kc.control_channel.get_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                assert reply["content"]["success"], reply["content"]
                return dict(reply["content"])

    def wait_for_event(self, name: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.kc.iopub_channel.get_msg(timeout=1)
            except queue.Empty:
                continue
            if msg["msg_type"] == "debug_event" and msg["content"].get("event") == name:
                return dict(msg["content"])
        raise AssertionError(f"no {name!r} debug event within {timeout} s")


@pytest.fixture
def kernel() -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    km, kc = start_new_kernel()
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_kernel_debugger_stops_inside_a_service(
    kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    _, kc = kernel
    debug = Debugger(kc)
    source = Path(scheduler_manager.__file__)
    line = next(
        i
        for i, text in enumerate(source.read_text().splitlines(), 1)
        if 'ignore = set(request_spec.get("ignore_hosts")' in text
    )
    debug("initialize", clientID="test", adapterID="python", pathFormat="path", linesStartAt1=True)
    debug("attach")
    placed = debug("setBreakpoints", source={"path": str(source)}, breakpoints=[{"line": line}])
    assert placed["body"]["breakpoints"][0]["verified"]
    debug("configurationDone")

    kc.execute(BOOT)
    stopped = debug.wait_for_event("stopped")
    assert stopped["body"]["reason"] == "breakpoint"
    thread = stopped["body"]["threadId"]
    frames = debug("stackTrace", threadId=thread)["body"]["stackFrames"]
    assert frames[0]["name"] == "select_destinations"
    assert frames[0]["line"] == line
    scopes = debug("scopes", frameId=frames[0]["id"])["body"]["scopes"]
    local = debug("variables", variablesReference=scopes[0]["variablesReference"])
    assert "request_spec" in {v["name"] for v in local["body"]["variables"]}

    debug("setBreakpoints", source={"path": str(source)}, breakpoints=[])
    debug("continue", threadId=thread)
    out: list[str] = []
    kc.execute_interactive(
        "import time\n"
        "for _ in range(600):\n"
        "    if booted: break\n"
        "    time.sleep(0.05)\n"
        "print(flow.wait_for_state(booted[0], 'ACTIVE').status)\n"
        "cloud.stop()",
        timeout=120,
        output_hook=lambda m: (
            out.append(m["content"]["text"])
            if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
            else None
        ),
    )
    # stdout only: pydevd writes its own thread warnings ("thread._ident is None ...") to stderr
    assert "".join(out).strip().splitlines()[-1:] == ["ACTIVE"], out
