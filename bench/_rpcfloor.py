"""The floor under a confirmed cast: bare py-amqp (through kombu), one confirm per publish.

What no RPC library on py-amqp can beat when every cast waits for its publisher confirm:
a loop (with the same shortcuts past py-amqp's per-frame costs as labcloud's amqp driver)
that publishes a cast's body (oslo's envelope, delivery_mode 2, mandatory) on a
confirm-mode channel and waits for each confirm, from 1 thread, and from 4 threads with a
connection each (as labcloud's publisher pool gives them), to a queue that a bare py-amqp
consumer in another process drains, acknowledging each message as an RPC server does (and
doing nothing else). Counted, as the bench counts casts, when the consumer has them all.

    python bench/_rpcfloor.py URL QUEUE N    # the consumer: prints "ready", then "done"
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import amqp
import amqp.spec
import kombu

Publish = amqp.spec.Basic.Publish
CONFIRMS = [amqp.spec.Basic.Ack, amqp.spec.Basic.Nack]
BODY = json.dumps(
    {
        "oslo.version": "2.0",
        "oslo.message": json.dumps({"method": "inc", "args": {}, "_unique_id": "0" * 32}),
    }
).encode()


def _publish(url: str, queue: str, n: int, started: threading.Barrier) -> None:
    with kombu.Connection(url, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        channel.confirm_select()
        started.wait()
        for _ in range(n):
            message = amqp.Message(
                BODY,
                priority=0,
                content_type="application/json",
                content_encoding="utf-8",
                application_headers={},
                delivery_mode=2,
            )
            # as labcloud's publisher does it (amqp.py): no connection.blocked poll first
            channel.send_method(Publish, "Bssbb", (0, "", queue, True, False), message)
            channel.wait(CONFIRMS)


def consume(url: str, queue: str, n: int) -> None:
    """Child process: ack ``n`` messages from ``queue``, then say so."""
    with kombu.Connection(url) as conn:
        channel: Any = conn.channel()
        channel.basic_qos(0, 64, False)
        got = 0

        def on_message(message: Any) -> None:
            nonlocal got
            channel.basic_ack(message.delivery_tag)
            got += 1

        channel.basic_consume(queue=queue, callback=on_message)
        conn.connection.transport.sock.settimeout(60)  # set once, as labcloud's consumers do
        print("ready", flush=True)
        while got < n:
            conn.drain_events(timeout=60)
        print("done", flush=True)


def delivered_per_second(url: str, casts: int, threads: int) -> float:
    """Casts per second from ``threads`` threads, counted when the consumer has them all."""
    queue = f"bench-floor-{uuid.uuid4().hex[:12]}"
    with kombu.Connection(url) as conn:
        channel: Any = conn.channel()
        channel.queue_declare(queue, auto_delete=False)
        per_thread = casts // threads
        child = subprocess.Popen(
            [sys.executable, __file__, url, queue, str(per_thread * threads)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        try:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("the floor's consumer did not start")
            started = threading.Barrier(threads + 1)
            workers = [
                threading.Thread(target=_publish, args=(url, queue, per_thread, started))
                for _ in range(threads)
            ]
            for w in workers:
                w.start()
            started.wait()
            start = time.perf_counter()
            for w in workers:
                w.join()
            if child.stdout.readline().strip() != "done":
                raise RuntimeError("the floor's consumer did not get every message")
            return per_thread * threads / (time.perf_counter() - start)
        finally:
            child.kill()
            child.wait()
            channel.queue_delete(queue)


if __name__ == "__main__":
    consume(sys.argv[1], sys.argv[2], int(sys.argv[3]))
