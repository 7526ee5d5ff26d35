"""Idle cost: the CPU an in-kernel cloud uses while nothing happens (target from issue 9).

    .venv/bin/python bench/idle.py [--seconds 30] [--quick]

What decides how many students share a server. Measured, each after a settling pause:

- in this process: a started LabCloud (demo spec) alone, then with a Dashboard attached
  (``watch(cloud)``: the four views and their publisher), from ``resource.getrusage``;
- in a real Jupyter kernel (as a lab runs it): the kernel alone, then the kernel with the
  cloud started and its dashboard displayed, from the kernel's /proc/<pid>/stat (every thread
  counted).

Both count the CPU of the child processes waited for too: graphviz's ``dot``, which lays out
a view's graph when its topology changes, is work the lab's kernel asks for.

Target: an idle lab kernel with its widgets uses <= 0.2 % of a core.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable

from _figures import figure, load

TARGET = 0.2  # % of one core
SETTLE = 3.0  # seconds after a start before measuring


def self_cpu() -> float:
    """This process's CPU time, with that of the children it waited for (graphviz's ``dot``,
    which lays out the broker and topology views, runs as a child)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def pid_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime + stime, and cutime + cstime: the children it waited for (graphviz's dot)
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def percent(cpu: Callable[[], float], seconds: float) -> float:
    """% of one core used over ``seconds`` of wall time, read from ``cpu()``."""
    cpu0, wall0 = cpu(), time.monotonic()
    time.sleep(seconds)  # measuring idleness: nothing to wait for but the clock
    return float((cpu() - cpu0) / (time.monotonic() - wall0) * 100)


def in_process(seconds: float, settle: float) -> tuple[float, float]:
    from labcloud.cloud import LabCloud
    from labcloud.notebook import watch
    from labcloud.spec import CloudSpec

    with LabCloud(CloudSpec.demo()) as cloud:
        time.sleep(settle)  # let start-up work (first reports, threads) finish
        alone = percent(self_cpu, seconds)
        watch(cloud)
        time.sleep(settle)
        watched = percent(self_cpu, seconds)
    return alone, watched


LAB = """
from labcloud.cloud import LabCloud
from labcloud.notebook import watch
from labcloud.spec import CloudSpec
cloud = LabCloud(CloudSpec.demo()).start()
board = watch(cloud)
board
"""


def in_kernel(seconds: float, settle: float) -> tuple[float, float]:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel()
    try:
        pid = km.provisioner.pid  # type: ignore[union-attr]
        time.sleep(settle)
        bare = percent(lambda: pid_cpu(pid), seconds)
        reply = kc.execute_interactive(LAB, timeout=120, output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the lab cell failed: {reply['content']}")
        time.sleep(settle)
        lab = percent(lambda: pid_cpu(pid), seconds)
        kc.execute_interactive("cloud.stop()", timeout=120, output_hook=lambda msg: None)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return bare, lab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="each measuring window")
    parser.add_argument("--quick", action="store_true", help="2 s windows")
    args = parser.parse_args()
    settle = SETTLE
    if args.quick:
        args.seconds, settle = 2.0, 1.0
    judged = args.seconds >= 20  # /proc counts 10 ms ticks: short windows are too coarse
    print(f"labcloud idle benchmark, {args.seconds:g} s windows; {load()}", flush=True)
    alone, watched = in_process(args.seconds, settle)
    figure("idle cloud in this process, no dashboard", alone, "% of a core", digits=3)
    figure("idle cloud in this process, with a Dashboard", watched, "% of a core", digits=3)
    bare, lab = in_kernel(args.seconds, settle)
    figure("idle Jupyter kernel alone", bare, "% of a core", digits=3)
    figure(
        "idle lab kernel: cloud and its dashboard displayed",
        lab,
        "% of a core",
        at_most=TARGET,
        judged=judged,
        digits=3,
    )


if __name__ == "__main__":
    main()
