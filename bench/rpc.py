"""RPC benchmark: labcloud against oslo.messaging on the same RabbitMQ, interleaved.

    .venv/bin/python bench/rpc.py [--url amqp://...] [--rounds 5] [--calls 2000]
                                  [--casts 10000] [--quick] [--floor]

The broker is ``--url``, else $LABCLOUD_BENCH_RABBIT_URL, else the machine's RabbitMQ on
127.0.0.1:5672. Runs alternate, labcloud, oslo.messaging, labcloud, ... so that a change in
the machine's load lands on both libraries rather than in their ratio. Every run has its
own exchange and topic (``bench-<uuid>``), so its own queues; each run's server runs in a
process of its own (as services do) and the client here. Every queue and exchange a run
declared (recorded at py-amqp's ``queue_declare``/``exchange_declare``, which both
libraries go through) is deleted when the run ends, and checked gone.

Measured per run: call latency to a no-op (after a warm-up), and cast throughput from 1 and
4 threads, counted when the server has received every cast. labcloud waits for the broker's
publisher confirm on every cast (a cast that returned is on the broker); oslo.messaging
does not. Targets (issue 9): labcloud's call median <= 0.5 x oslo's, casts >= 2.5 x.
``--floor`` adds to each round a bare py-amqp loop with a confirm per publish, drained by a
bare consumer that acks each message (_rpcfloor.py): the most any library that confirms
every cast can reach on this broker, against oslo's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import _rpcfloor as rpcfloor
from _figures import figure, load

URL = os.environ.get("LABCLOUD_BENCH_RABBIT_URL", "amqp://guest:guest@127.0.0.1:5672//")
LIBS = ("labcloud", "oslo")
CAST_THREADS = (1, 4)


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


# -- what a run declared, so that it can all be deleted -------------------------------------
DECLARED: dict[str, set[str]] = {"queues": set(), "exchanges": set()}


def record_declarations() -> None:
    """Note every queue and exchange declared through py-amqp (kombu's transport)."""
    from amqp.channel import Channel

    queue_declare, exchange_declare = Channel.queue_declare, Channel.exchange_declare

    def on_queue(self: Any, queue: str = "", *args: Any, **kwargs: Any) -> Any:
        result = queue_declare(self, queue, *args, **kwargs)
        DECLARED["queues"].add(queue or getattr(result, "queue", ""))
        return result

    def on_exchange(self: Any, exchange: str, *args: Any, **kwargs: Any) -> Any:
        DECLARED["exchanges"].add(exchange)
        return exchange_declare(self, exchange, *args, **kwargs)

    Channel.queue_declare, Channel.exchange_declare = on_queue, on_exchange


def delete_declared(url: str, queues: set[str], exchanges: set[str]) -> list[str]:
    """Delete the queues and exchanges; the names of any still there afterwards."""
    import kombu

    exchanges = {e for e in exchanges if e and not e.startswith("amq.")}
    left = []
    with kombu.Connection(url) as conn:
        channel = conn.channel()
        for q in queues:
            channel.queue_delete(q)
        for e in exchanges:
            channel.exchange_delete(e)
        for q in queues:
            try:
                conn.channel().queue_declare(q, passive=True)
                left.append(f"queue {q}")
            except Exception:  # 404 NOT_FOUND: gone, as it should be
                pass
        channel.close()
    return left


# -- the two libraries ---------------------------------------------------------------------
def oslo_conf() -> Any:
    from oslo_config import cfg

    if not cfg.CONF._args:
        cfg.CONF([], project="labcloud-bench")
    return cfg.CONF


def oslo_url(url: str) -> str:
    """The same broker and vhost as oslo writes it: ``rabbit://user:pass@host:port/<vhost>``
    (``amqp://...//``, the default vhost, becomes ``.../``; ``amqp://.../bench`` keeps
    ``bench``, not ``bench/``, which RabbitMQ would take for another vhost)."""
    rabbit = url.replace("amqp://", "rabbit://", 1)
    _, sep, vhost = rabbit.partition("@")[2].partition("/")
    base = rabbit[: len(rabbit) - len(vhost)] if sep else rabbit + "/"
    return base if vhost in ("", "/") else base + vhost


def serve(lib: str, url: str, topic: str) -> None:
    """Child process: serve Endpoint on exchange and topic ``topic`` until stdin closes."""
    record_declarations()
    if lib == "oslo":
        import oslo_messaging as om

        transport: Any = om.get_rpc_transport(oslo_conf(), oslo_url(url))
        target = om.Target(exchange=topic, topic=topic, server="s1")
        server: Any = om.get_rpc_server(transport, target, [Endpoint()])
    else:
        from labcloud.messaging import RPCServer, Target, get_transport

        transport = get_transport(url)
        server = RPCServer(
            transport, Target(exchange=topic, topic=topic, server="s1"), [Endpoint()]
        )
    server.start()
    print("ready", flush=True)
    sys.stdin.read()
    server.stop()
    server.wait()
    transport.cleanup()
    print("DECLARED " + json.dumps({k: sorted(v) for k, v in DECLARED.items()}), flush=True)


def client_for(lib: str, url: str, topic: str) -> tuple[Any, Any]:
    if lib == "oslo":
        import oslo_messaging as om

        transport = om.get_rpc_transport(oslo_conf(), oslo_url(url))
        target = om.Target(exchange=topic, topic=topic)
        return om.get_rpc_client(transport, target, timeout=60), transport
    from labcloud.messaging import RPCClient, Target, get_transport

    lab = get_transport(url)
    return RPCClient(lab, Target(exchange=topic, topic=topic), timeout=60), lab


def latencies(call: Callable[[], Any], n: int) -> list[float]:
    for _ in range(min(200, n)):  # warm up connections and caches
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def cast_storm(client: Any, casts: int, threads: int, expected: int) -> float:
    """Casts per second from ``threads`` threads, counted when the server has them all."""

    def send(n: int) -> None:
        for _ in range(n):
            client.cast({}, "inc")

    workers = [threading.Thread(target=send, args=(casts // threads,)) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    got = client.call({}, "wait_count", n=expected)
    if got < expected:
        raise RuntimeError(f"the server received {got} of {expected} casts")
    return casts / (time.perf_counter() - start)


def stop(child: subprocess.Popen[str]) -> str:
    """Close the server child's stdin (it stops) and return what it printed."""
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        child.stdin.close()
        out = child.stdout.read()
        child.wait(timeout=60)
        return out
    except Exception:
        child.kill()
        child.wait()
        return ""


def one_run(lib: str, url: str, calls: int, casts: int) -> dict[str, Any]:
    """One library's run on its own exchange, topic and queues, all deleted at the end."""
    topic = f"bench-{uuid.uuid4().hex[:12]}"
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", lib, "--url", url, "--topic", topic],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONWARNINGS": "ignore::DeprecationWarning"},  # eventlet's
    )
    assert child.stdout is not None
    result: dict[str, Any] = {}
    DECLARED["queues"].clear()
    DECLARED["exchanges"].clear()
    try:
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {lib} server did not start")
        client, transport = client_for(lib, url, topic)
        try:
            result["calls"] = latencies(lambda: client.call({}, "noop"), calls)
            expected = 0
            for threads in CAST_THREADS:
                expected += casts
                result[f"casts_{threads}"] = cast_storm(client, casts, threads, expected)
        finally:
            transport.cleanup()
    finally:
        out = stop(child)
        queues, exchanges = set(DECLARED["queues"]), set(DECLARED["exchanges"])
        for line in out.splitlines():
            if line.startswith("DECLARED "):
                theirs = json.loads(line[len("DECLARED ") :])
                queues |= set(theirs["queues"])
                exchanges |= set(theirs["exchanges"])
        queues |= {topic, f"{topic}.s1"}
        exchanges |= {topic, f"{topic}_fanout"}
        result["left"] = delete_declared(url, queues, exchanges)
        result["queues"] = len(queues)
    return result


def memory_call_median(calls: int) -> float:
    from labcloud.messaging import RPCClient, RPCServer, Target, get_transport

    transport = get_transport("memory://")
    target = Target(exchange="bench", topic="bench", server="s1")
    with RPCServer(transport, target, [Endpoint()]):
        client = RPCClient(transport, Target(exchange="bench", topic="bench"))
        samples = latencies(lambda: client.call({}, "noop"), calls)
    transport.cleanup()
    return statistics.median(samples) * 1e3


def summarize(runs: dict[str, list[dict[str, Any]]], casts: int) -> list[str]:
    lab, oslo = runs["labcloud"], runs["oslo"]
    median = {
        lib: statistics.median(s for r in runs[lib] for s in r["calls"]) * 1e3 for lib in LIBS
    }
    for lib, name in (("labcloud", "labcloud"), ("oslo", "oslo.messaging")):
        p99 = sorted(s for r in runs[lib] for s in r["calls"])
        figure(
            f"{name} call median",
            median[lib],
            "ms",
            note=f"(p99 {p99[int(len(p99) * 0.99) - 1] * 1e3:.3f} ms; {len(runs[lib])} runs)",
            digits=3,
        )
    paired = statistics.median(
        statistics.median(a["calls"]) / statistics.median(b["calls"])
        for a, b in zip(lab, oslo, strict=True)
    )
    figure(
        "call median ratio labcloud/oslo.messaging",
        median["labcloud"] / median["oslo"],
        "",
        at_most=0.5,
        note=f"(median of the per-round ratios {paired:.2f})",
    )
    for threads in CAST_THREADS:
        rates = {lib: statistics.median(r[f"casts_{threads}"] for r in runs[lib]) for lib in LIBS}
        for lib, name in (("labcloud", "labcloud"), ("oslo", "oslo.messaging")):
            figure(f"{name} casts delivered/s from {threads} thread(s)", rates[lib], "/s", digits=0)
        figure(
            f"cast throughput ratio labcloud/oslo.messaging, {threads} thread(s)",
            rates["labcloud"] / rates["oslo"],
            "",
            at_least=2.5,
            note=f"({casts:,} casts per run; labcloud confirms every cast, oslo does not)",
        )
    return [f"{r['left']} left on the broker" for lib in LIBS for r in runs[lib] if r["left"]]


def summarize_floor(floors: list[dict[str, float]], runs: dict[str, list[dict[str, Any]]]) -> None:
    for threads in CAST_THREADS:
        rate = statistics.median(f[f"casts_{threads}"] for f in floors)
        oslo = statistics.median(r[f"casts_{threads}"] for r in runs["oslo"])
        figure(
            f"floor: bare py-amqp casts confirmed and delivered/s from {threads} thread(s)",
            rate,
            "/s",
            digits=0,
        )
        figure(
            f"floor/oslo.messaging casts, {threads} thread(s)",
            rate / oslo,
            "",
            note="(the most a library confirming every cast could reach here)",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=URL)
    parser.add_argument("--rounds", type=int, default=5, help="runs of each library")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--casts", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1 round, 100 calls, 400 casts")
    parser.add_argument("--floor", action="store_true", help="also run _rpcfloor.py's loop")
    parser.add_argument("--serve", choices=LIBS, help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.url, args.topic)
    if args.quick:
        args.rounds, args.calls, args.casts = 1, 100, 400
    record_declarations()
    print(f"labcloud RPC benchmark, broker {args.url}; {load()}", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {lib: [] for lib in LIBS}
    floors: list[dict[str, float]] = []
    for i in range(args.rounds):
        for lib in LIBS:  # interleaved: labcloud, oslo, labcloud, oslo, ...
            runs[lib].append(one_run(lib, args.url, args.calls, args.casts))
        if args.floor:
            floors.append(
                {
                    f"casts_{threads}": rpcfloor.delivered_per_second(args.url, args.casts, threads)
                    for threads in CAST_THREADS
                }
            )
        print(f"  round {i + 1} of {args.rounds} done ({load()})", flush=True)
    left = summarize(runs, args.casts)
    if floors:
        summarize_floor(floors, runs)
    figure("memory:// call median", memory_call_median(args.calls), "ms", digits=3)
    for problem in left:
        print(f"FAILURE {problem}")
    if left:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
