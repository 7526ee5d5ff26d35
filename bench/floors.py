"""What one boot is made of, and what that work costs at the floor of the stack labcloud uses.

    .venv/bin/python bench/floors.py [--instances 200] [--quick]

Issue 9 asks for 1,000 instances through the full flow in 10 s: 10 ms per instance, in one
process behind the GIL. This script says what an instance's share of that work is and what
the cheapest possible version of each part costs on this machine:

1. the work: N instances booted as one multi-create on the in-process cloud, counted as it
   happens: RPC messages delivered, HTTP requests between services, SQL statements and
   committed transactions, voluntary context switches; and the CPU per instance of a second,
   unwatched multi-create;
2. the floor of each kind of work, CPU per operation: a hand-off between two threads; an RPC
   cast and call on ``memory://`` to a no-op endpoint; an HTTP request to a no-op FastAPI
   route served by uvicorn, from labcloud's REST client (a bare app, and one with labcloud's
   own middleware); a SELECT by key and a one-UPDATE write transaction on SQLite through
   SQLAlchemy Core (labcloud's engine set-up), with raw ``sqlite3`` beside them;
3. the sum: each count times its floor, against the CPU one instance really costs.

No figure here has a target; the figures explain the boot benchmark's (bench/boot.py).
"""

from __future__ import annotations

import argparse
import functools
import queue
import resource
import sqlite3
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _figures import figure, load


def cpu_per(op: Callable[[], object], n: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the process's CPU per call of ``op``, in microseconds."""
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(n):
            op()
        samples.append((time.process_time() - start) / n * 1e6)
    return statistics.median(samples)


# -- 1. the work ---------------------------------------------------------------------------
def boot_many(count: int, watch: bool) -> dict[str, float]:
    """A multi-create of ``count`` on a fresh cloud: CPU per instance, or (``watch``) the
    messages, HTTP requests, statements and transactions per instance."""
    import httpx
    from boot import Builds, bench_spec, image_id, post, server_body
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from labcloud.cloud import LabCloud
    from labcloud.trace.events import HttpEvent, MessageEvent

    cloud = LabCloud(bench_spec(8)).start()
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def on_event(e: Any) -> None:
        kind = "http" if isinstance(e, HttpEvent) else "message"
        if kind == "http" or e.event == "deliver":
            with lock:
                seen[kind] += 1

    def on_statement(*_: Any) -> None:
        with lock:
            seen["statement"] += 1

    def on_commit(*_: Any) -> None:
        with lock:
            seen["transaction"] += 1

    token = cloud.login("demo")
    image = image_id(cloud, token)
    builds = Builds(cloud.bus)
    sub = cloud.bus.subscribe(on_event, types=(MessageEvent, HttpEvent)) if watch else None
    if watch:
        event.listen(Engine, "before_cursor_execute", on_statement)
        event.listen(Engine, "commit", on_commit)
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    cpu = time.process_time()
    with httpx.Client(headers={"X-Auth-Token": token}, timeout=600) as client:
        post(client, cloud, server_body("floor", image, count))
    builds.wait(count)
    result = {
        "cpu_ms": (time.process_time() - cpu) / count * 1e3,
        "switches": (resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - switches) / count,
    }
    if watch:
        event.remove(Engine, "before_cursor_execute", on_statement)
        event.remove(Engine, "commit", on_commit)
        result |= {k: v / count for k, v in seen.items()}
    if sub is not None:
        sub.close()
    builds.close(cloud.bus)
    cloud.stop()
    return result


# -- 2. the floors -------------------------------------------------------------------------
def hand_off(n: int) -> float:
    """One hand-off between two threads (half a SimpleQueue round trip)."""
    there: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    back: queue.SimpleQueue[int] = queue.SimpleQueue()

    def echo() -> None:
        while (item := there.get()) is not None:
            back.put(item)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()

    def trip() -> None:
        there.put(1)
        back.get()

    per_trip = cpu_per(trip, n)
    there.put(None)
    thread.join()
    return per_trip / 2


class NoOp:
    def noop(self, ctxt: Any) -> None:
        return None


def rpc(n: int) -> tuple[float, float]:
    """CPU per call and per cast on memory://, to a no-op endpoint (both sides counted)."""
    from labcloud.messaging import RPCClient, RPCServer, Target, get_transport

    transport = get_transport("memory://")
    with RPCServer(transport, Target(exchange="floor", topic="floor", server="s1"), [NoOp()]):
        client = RPCClient(transport, Target(exchange="floor", topic="floor"))
        call = cpu_per(lambda: client.call({}, "noop"), n)
        done = threading.Semaphore(0)
        endpoint = NoOp()
        endpoint.noop = lambda ctxt: done.release()  # type: ignore[method-assign]
    with RPCServer(transport, Target(exchange="floor", topic="cast", server="s1"), [endpoint]):
        caster = RPCClient(transport, Target(exchange="floor", topic="cast"))

        def cast_and_run() -> None:
            caster.cast({}, "noop")
            done.acquire()

        cast = cpu_per(cast_and_run, n)
    transport.cleanup()
    return call, cast


def http(n: int) -> tuple[float, float]:
    """CPU per GET of a no-op async route: a bare FastAPI app; one with labcloud's shell."""
    from fastapi import FastAPI

    from labcloud.rest.app import create_app
    from labcloud.rest.client import ServiceClient
    from labcloud.rest.server import ApiServer

    figures = []
    for app in (FastAPI(), create_app("floor", "nova")):

        @app.get("/thing/{thing_id}")
        async def thing(thing_id: str) -> dict[str, str]:
            return {"id": thing_id, "status": "active"}

        server = ApiServer(app, name="floor").start()
        client = ServiceClient(server.url, source="floor", target="floor")
        figures.append(cpu_per(functools.partial(client.get, "/thing/t1"), n))
        client.close()
        server.stop()
    return figures[0], figures[1]


def sql(n: int) -> dict[str, float]:
    """CPU per SELECT by key and per one-UPDATE write transaction: Core on labcloud's
    engine (WAL, synchronous=NORMAL), and raw sqlite3 with the same pragmas."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select, update

    from labcloud.db import Database

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "floor.sqlite"
        meta = MetaData()
        rows = Table("rows", meta, Column("id", String, primary_key=True), Column("n", Integer))
        db = Database(f"sqlite:///{path}", meta)
        db.create_all()
        with db.transaction() as c:
            c.execute(rows.insert(), [{"id": str(i), "n": 0} for i in range(1000)])
        read = select(rows.c.n).where(rows.c.id == bindparam("k"))
        write = update(rows).where(rows.c.id == bindparam("k")).values(n=rows.c.n + 1)

        def core_read() -> None:
            with db.read() as c:
                c.execute(read, {"k": "7"}).first()

        def core_write() -> None:
            with db.transaction() as c:
                c.execute(write, {"k": "7"})

        with db.read() as c:
            per_select = cpu_per(lambda: c.execute(read, {"k": "7"}).first(), n * 4)
        out = {
            "core_select": per_select,
            "core_read_txn": cpu_per(core_read, n),
            "core_write_txn": cpu_per(core_write, n),
        }
        db.dispose()
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("PRAGMA synchronous=NORMAL")

        def raw_write() -> None:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("UPDATE rows SET n = n + 1 WHERE id = ?", ("7",))
            raw.execute("COMMIT")

        out["raw_select"] = cpu_per(
            lambda: raw.execute("SELECT n FROM rows WHERE id = ?", ("7",)).fetchone(), n * 4
        )
        out["raw_write_txn"] = cpu_per(raw_write, n)
        raw.close()
    return out


# -- 3. the sum ----------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20 instances, fewer samples")
    args = parser.parse_args()
    count, n = (20, 200) if args.quick else (args.instances, 2000)
    print(f"labcloud floors benchmark; {load()}", flush=True)

    cpu = boot_many(count, watch=False)
    work = boot_many(count, watch=True)
    note = f"(multi-create of {count}, counted as it ran)"
    figure("CPU per instance, unwatched multi-create", cpu["cpu_ms"], "ms", note=note)
    for key, name in (
        ("message", "RPC messages delivered per instance"),
        ("http", "HTTP requests between services per instance"),
        ("statement", "SQL statements per instance"),
        ("transaction", "committed transactions per instance"),
    ):
        figure(name, work.get(key, 0.0), "", digits=1)
    figure("voluntary context switches per instance", cpu["switches"], "", digits=0)

    hop = hand_off(n)
    call, cast = rpc(n)
    bare, shell = http(n // 4)
    db = sql(n)
    figure("thread hand-off", hop, "µs", digits=1)
    figure("RPC cast on memory://, no-op endpoint", cast, "µs", digits=0)
    figure("RPC call on memory://, no-op endpoint", call, "µs", digits=0)
    figure("HTTP GET, no-op route, bare FastAPI", bare, "µs", digits=0)
    figure("HTTP GET, no-op route, labcloud's app shell", shell, "µs", digits=0)
    figure("SELECT by key, SQLAlchemy Core", db["core_select"], "µs", digits=1)
    figure("SELECT by key, raw sqlite3", db["raw_select"], "µs", digits=1)
    figure("read transaction with one SELECT, Core", db["core_read_txn"], "µs", digits=1)
    figure("write transaction with one UPDATE, Core", db["core_write_txn"], "µs", digits=1)
    figure("write transaction with one UPDATE, raw sqlite3", db["raw_write_txn"], "µs", digits=1)

    # every message a cast's cost (a call's reply is a message too); every statement a
    # SELECT's, every transaction's set-up and commit the rest of a one-UPDATE transaction
    floor_us = (
        work.get("message", 0.0) * cast
        + work.get("http", 0.0) * bare
        + work.get("statement", 0.0) * db["core_select"]
        + work.get("transaction", 0.0) * max(db["core_write_txn"] - db["core_select"], 0.0)
    )
    figure(
        "one instance's counted work at the stack's floor",
        floor_us / 1e3,
        "ms",
        note=f"(the instance really costs {cpu['cpu_ms']:.1f} ms; 1,000 in 10 s is 10 ms each)",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
