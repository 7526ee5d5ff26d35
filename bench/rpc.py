"""RPC benchmark: labcloud against oslo.messaging on the same RabbitMQ, in one run.

    .venv/bin/python bench/rpc.py [--calls 2000] [--casts 10000] [--url amqp://...]

Each library's server runs in its own process (as services do); the client runs here.
Measured: call latency to a no-op (median, p99), cast throughput (10,000 casts, counted
when the server has received them all), and for memory:// the call latency and the CPU an
idle server uses. Prints each figure, the ratios, and whether the targets are met.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

URL = "amqp://guest:guest@127.0.0.1:5672//"


class Endpoint:
    def __init__(self) -> None:
        self.count = 0
        self.cond = threading.Condition()

    def noop(self, ctxt: Any) -> None:
        return None

    def inc(self, ctxt: Any) -> None:
        with self.cond:
            self.count += 1
            self.cond.notify_all()

    def wait_count(self, ctxt: Any, n: int) -> int:
        with self.cond:
            self.cond.wait_for(lambda: self.count >= n, timeout=120)
            return self.count


def oslo_conf() -> Any:
    from oslo_config import cfg

    if not cfg.CONF._args:
        cfg.CONF([], project="labcloud-bench")
    return cfg.CONF


def oslo_url(url: str) -> str:
    return url.replace("amqp://", "rabbit://").rstrip("/") + "/"


def serve(lib: str, url: str, exchange: str) -> None:
    """Child process: serve Endpoint until stdin closes."""
    if lib == "oslo":
        import oslo_messaging as om

        transport = om.get_rpc_transport(oslo_conf(), oslo_url(url))
        target = om.Target(exchange=exchange, topic="bench", server="s1")
        server: Any = om.get_rpc_server(transport, target, [Endpoint()])
    else:
        from labcloud.messaging import RPCServer, Target, get_transport

        transport = get_transport(url)
        server = RPCServer(
            transport, Target(exchange=exchange, topic="bench", server="s1"), [Endpoint()]
        )
    server.start()
    print("ready", flush=True)
    sys.stdin.read()
    server.stop()
    server.wait()
    transport.cleanup()


def client_for(lib: str, url: str, exchange: str) -> Any:
    if lib == "oslo":
        import oslo_messaging as om

        transport = om.get_rpc_transport(oslo_conf(), oslo_url(url))
        return om.get_rpc_client(transport, om.Target(exchange=exchange, topic="bench"), timeout=60)
    from labcloud.messaging import RPCClient, Target, get_transport

    return RPCClient(get_transport(url), Target(exchange=exchange, topic="bench"), timeout=60)


def latencies(call: Callable[[], Any], n: int) -> tuple[float, float]:
    for _ in range(min(200, n)):  # warm up connections and caches
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99) - 1] * 1e3


def cast_storm(client: Any, casts: int, threads: int, expected: int) -> tuple[float, float]:
    """Send ``casts`` casts from ``threads`` threads; rates when sent and when all arrived."""

    def send(n: int) -> None:
        for _ in range(n):
            client.cast({}, "inc")

    workers = [threading.Thread(target=send, args=(casts // threads,)) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    sent = time.perf_counter() - start
    assert client.call({}, "wait_count", n=expected) >= expected
    return casts / sent, casts / (time.perf_counter() - start)


def measure_rabbit(lib: str, url: str, calls: int, casts: int) -> dict[str, float]:
    exchange = f"bench-{lib}-{uuid.uuid4().hex[:6]}"
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", lib, "--url", url, "--exchange", exchange],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdin is not None
    assert child.stdout.readline().strip() == "ready", f"{lib} server did not start"
    try:
        client = client_for(lib, url, exchange)
        median, p99 = latencies(lambda: client.call({}, "noop"), calls)
        result = {"median": median, "p99": p99}
        expected = 0
        for threads in (1, 4):
            expected += casts
            sent, done = cast_storm(client, casts, threads, expected)
            result[f"casts_sent_{threads}"], result[f"casts_done_{threads}"] = sent, done
        return result
    finally:
        child.stdin.close()
        child.wait(timeout=60)


def measure_memory(calls: int, idle: float) -> dict[str, float]:
    from labcloud.messaging import RPCClient, RPCServer, Target, get_transport

    transport = get_transport("memory://")
    target = Target(exchange="bench", topic="bench", server="s1")
    with RPCServer(transport, target, [Endpoint()]):
        client = RPCClient(transport, Target(exchange="bench", topic="bench"))
        median, p99 = latencies(lambda: client.call({}, "noop"), calls)
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(idle)  # measuring idleness: nothing to wait for but the clock
        cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0) * 100
    transport.cleanup()
    return {"median": median, "p99": p99, "idle_cpu_pct": cpu}


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=URL)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--casts", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds to watch an idle server")
    parser.add_argument("--serve", choices=["labcloud", "oslo"], help=argparse.SUPPRESS)
    parser.add_argument("--exchange", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.url, args.exchange)
    print(f"labcloud RPC benchmark, {os.cpu_count()} cores, broker {args.url}")
    lab = measure_rabbit("labcloud", args.url, args.calls, args.casts)
    oslo = measure_rabbit("oslo", args.url, args.calls, args.casts)
    for name, r in (("labcloud", lab), ("oslo.messaging", oslo)):
        print(f"  {name:15} call median {r['median']:.3f} ms  p99 {r['p99']:.3f} ms")
        for threads in (1, 4):
            print(
                f"  {'':15} casts from {threads} thread(s): {r[f'casts_sent_{threads}']:,.0f}/s "
                f"sent, {r[f'casts_done_{threads}']:,.0f}/s delivered"
            )
    call_ratio = lab["median"] / oslo["median"]
    print(
        f"  call median ratio labcloud/oslo: {call_ratio:.2f}  (target <= 0.5: "
        f"{verdict(call_ratio <= 0.5)})"
    )
    for threads in (1, 4):
        ratio = lab[f"casts_done_{threads}"] / oslo[f"casts_done_{threads}"]
        print(
            f"  cast throughput ratio labcloud/oslo, {threads} thread(s): {ratio:.2f}  "
            f"(target >= 2.5: {verdict(ratio >= 2.5)})"
        )
    print(
        "  (labcloud waits for a publisher confirm on every cast, so a cast that returns is "
        "on the broker; oslo.messaging does not)"
    )
    mem = measure_memory(args.calls, args.idle)
    print(
        f"  memory:// call median {mem['median']:.3f} ms  p99 {mem['p99']:.3f} ms  "
        f"(target median <= 0.3 ms: {verdict(mem['median'] <= 0.3)})"
    )
    print(
        f"  memory:// idle server CPU {mem['idle_cpu_pct']:.2f} % of a core  "
        f"(target <= 1 %: {verdict(mem['idle_cpu_pct'] <= 1.0)})"
    )


if __name__ == "__main__":
    main()
