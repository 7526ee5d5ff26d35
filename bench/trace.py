"""Trace-to-widget benchmark (targets from issue 4), in a real Jupyter kernel.

    .venv/bin/python bench/trace.py [--rate 1000] [--seconds 10] [--quick]

A kernel starts an in-process cloud with ``watch(cloud)`` (all four widgets), then a
thread casts RPC messages at ``--rate`` per second for ``--seconds``. Measured:

- event-to-widget-state latency: from an event's creation to the moment the publisher has
  folded it into the widgets' state (target p95 <= 200 ms);
- kernel responsiveness: a trivial cell (``1 + 1``) sent every 0.25 s during the storm,
  from request to reply (target <= 100 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from _figures import figure, load
from jupyter_client.manager import start_new_kernel

SETUP = """
import threading, time
from labcloud.cloud import LabCloud
from labcloud.notebook import watch
from labcloud.spec import CloudSpec
from labcloud.messaging import RPCClient, RPCServer, Target
from labcloud.trace.events import MessageEvent

cloud = LabCloud(CloudSpec.demo()).start()
board = watch(cloud)

class Latency:
    def __init__(self):
        self.samples = []
    def hold_sync(self):
        import contextlib
        return contextlib.nullcontext()
    def take(self, events):
        now = time.time()
        self.samples.extend(now - e.time for e in events if isinstance(e, MessageEvent))

latency = board.publisher.add(Latency())

class Sink:
    def noop(self, ctxt, i):
        return None

server = RPCServer(cloud.transport, Target("bench", "sink", server="s1"), [Sink()])
server.start()
client = RPCClient(cloud.transport, Target("bench", "sink"))
done = threading.Event()
sent = [0]

def storm(rate, seconds):
    start = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        client.cast({}, "noop", i=i)
        sent[0] += 1
        ahead = start + (i + 1) / rate - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
    done.set()
"""


def execute(kc: object, code: str, timeout: float = 120) -> tuple[float, dict[str, object]]:
    start = time.perf_counter()
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda msg: None)  # type: ignore[attr-defined]
    return time.perf_counter() - start, reply


def value(kc: object, expr: str) -> object:
    outputs: list[str] = []

    def hook(msg: dict[str, object]) -> None:
        if msg["msg_type"] == "stream":
            outputs.append(str(msg["content"]["text"]))  # type: ignore[index]

    kc.execute_interactive(f"print(json.dumps({expr}))", timeout=60, output_hook=hook)  # type: ignore[attr-defined]
    return json.loads("".join(outputs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--quick", action="store_true", help="200 messages/s for 2 s")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.seconds = 200, 2
    print(f"labcloud trace-to-widget benchmark; {load()}", flush=True)
    km, kc = start_new_kernel()
    try:
        execute(kc, SETUP + "\nimport json")
        execute(kc, f"threading.Thread(target=storm, args=({args.rate}, {args.seconds})).start()")
        cells = []
        while True:
            took, _ = execute(kc, "1 + 1")
            cells.append(took)
            if value(kc, "done.is_set()"):
                break
            time.sleep(0.25)
        execute(kc, "time.sleep(0.3); board.flush()")  # the last batch
        samples = sorted(value(kc, "latency.samples"))  # type: ignore[arg-type]
        sent = value(kc, "sent[0]")
        dropped = value(kc, "board.publisher.dropped")
        execute(kc, "server.stop(); server.wait(); board.close(); cloud.stop()")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    if not samples:
        raise SystemExit(f"FAILURE no trace event reached the widgets ({sent} messages sent)")
    p50 = statistics.median(samples) * 1000
    p95 = samples[int(len(samples) * 0.95)] * 1000
    print(
        f"  messages sent: {sent} at {args.rate:.0f}/s for {args.seconds:.0f} s; "
        f"trace events folded into widget state: {len(samples)} (dropped {dropped})"
    )
    judged = not args.quick
    figure(
        "event-to-widget-state latency, p95",
        p95,
        "ms",
        at_most=200,
        judged=judged,
        note=f"(p50 {p50:.0f} ms)",
        digits=0,
    )
    figure(
        "trivial cell during the storm, worst",
        max(cells) * 1000,
        "ms",
        at_most=100,
        judged=judged,
        note=f"(median {statistics.median(cells) * 1000:.0f} ms over {len(cells)} cells)",
        digits=0,
    )


if __name__ == "__main__":
    main()
