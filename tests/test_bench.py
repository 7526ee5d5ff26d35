"""Every benchmark in bench/ runs in its --quick mode, so none can rot unnoticed.

Each script runs in a subprocess as a person would run it; the test asserts that it exits 0
and prints its figure lines (``FIGURE <name>: ...``: those listed below, or for a script not
listed, at least one), never what the figures are.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require

BENCH = Path(__file__).resolve().parents[1] / "bench"

# the figure lines each script prints in --quick mode
FIGURES = {
    "boot.py": [
        "cold start, process start to first ACTIVE",
        "20 instances as one multi-create, to all ACTIVE",
        "20 instances as 20 POSTs from 10 threads, to all ACTIVE",
        "resident memory with 20 instances ACTIVE",
        "start of a cloud with 10 compute hosts",
        "resident memory of a cloud with 10 compute hosts",
    ],
    "floors.py": [
        "CPU per instance, unwatched multi-create",
        "RPC messages delivered per instance",
        "HTTP requests between services per instance",
        "SQL statements per instance",
        "committed transactions per instance",
        "RPC call on memory://, no-op endpoint",
        "HTTP GET, no-op route, bare FastAPI",
        "write transaction with one UPDATE, Core",
        "one instance's counted work at the stack's floor",
    ],
    "idle.py": [
        "idle cloud in this process, no dashboard",
        "idle cloud in this process, with a Dashboard",
        "idle Jupyter kernel alone",
        "idle lab kernel: cloud and its dashboard displayed",
    ],
    "rpc.py": [
        "labcloud call median",
        "oslo.messaging call median",
        "call median ratio labcloud/oslo.messaging",
        "cast throughput ratio labcloud/oslo.messaging, 1 thread(s)",
        "cast throughput ratio labcloud/oslo.messaging, 4 thread(s)",
        "memory:// call median",
        "floor/oslo.messaging casts, 1 thread(s)",  # asked for with --floor
    ],
    "network.py": ["port plug-to-ACTIVE, no-op datapath, median"],
    "scheduler.py": ["one scheduling decision among 200 hosts, median"],
    "trace.py": ["event-to-widget-state latency, p95", "trivial cell during the storm, worst"],
    "processes.py": [
        "labcloud up --processes to every API and service up",
        "CPU time the processes used to start",
        "resident memory of all the processes together, sum of RSS",
        "memory of all the processes together, sum of PSS",
        "boot latency, processes, median",
        "boot latency, in-kernel, median",
        "10 boots from 10 threads, processes",
        "10 boots from 10 threads, in-kernel",
    ],
}
NEEDS_RABBITMQ = {"rpc.py", "processes.py"}  # run by their own tests, with the suite's node
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def run_quick(script: str, *extra: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", *extra],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=BENCH.parent,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{out}\n{proc.stderr}"
    assert "\nFIGURE " in "\n" + out, f"{script} printed no figure:\n{out}"
    return out


def test_the_bench_scripts_are_found() -> None:
    assert {"boot.py", "rpc.py", "scheduler.py"} <= set(SCRIPTS), SCRIPTS


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("script", [s for s in SCRIPTS if s not in NEEDS_RABBITMQ])
def test_bench_quick(script: str) -> None:
    out = run_quick(script)
    for name in FIGURES.get(script, []):
        assert f"FIGURE {name}: " in out, f"{script} did not print {name!r}:\n{out}"


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.rabbitmq
@pytest.mark.interop
def test_rpc_bench_quick(rabbitmq_url: str) -> None:
    require(importlib.util.find_spec("oslo_messaging") is not None, "oslo.messaging missing")
    out = run_quick("rpc.py", "--url", rabbitmq_url, "--floor")
    for name in FIGURES["rpc.py"]:
        assert f"FIGURE {name}: " in out, f"rpc.py did not print {name!r}:\n{out}"


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.rabbitmq
def test_processes_bench_quick(rabbit: Any) -> None:
    """``labcloud up --processes`` on the suite's own node (a vhost of its own), SQLite."""
    out = run_quick("processes.py", "--url", rabbit.url, "--management-url", rabbit.management_url)
    for name in FIGURES["processes.py"]:
        assert f"FIGURE {name}: " in out, f"processes.py did not print {name!r}:\n{out}"
