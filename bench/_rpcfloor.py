"""The floor under a confirmed cast: bare py-amqp (through kombu), one confirm per publish.

What no RPC library on py-amqp can beat when every cast waits for its publisher confirm:
a loop that publishes a cast's body (oslo's envelope, delivery_mode 2, mandatory) on a
confirm-mode channel and waits for each confirm, from 1 thread, and from 4 threads with a
connection each (as labcloud's publisher pool gives them). It counts confirms, not
deliveries: its queue has no consumer, so the broker does less than for an RPC cast.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import amqp
import kombu

BODY = json.dumps(
    {
        "oslo.version": "2.0",
        "oslo.message": json.dumps({"method": "inc", "args": {}, "_unique_id": "0" * 32}),
    }
).encode()


def _publish(url: str, queue: str, n: int, started: threading.Barrier) -> None:
    with kombu.Connection(url, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
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
            channel.basic_publish(message, exchange="", routing_key=queue, mandatory=True)


def confirmed_per_second(url: str, casts: int, threads: int) -> float:
    """Publishes confirmed per second from ``threads`` threads, on a queue of its own."""
    queue = f"bench-floor-{uuid.uuid4().hex[:12]}"
    with kombu.Connection(url) as conn:
        channel: Any = conn.channel()
        channel.queue_declare(queue, auto_delete=False)
        try:
            started = threading.Barrier(threads + 1)
            workers = [
                threading.Thread(target=_publish, args=(url, queue, casts // threads, started))
                for _ in range(threads)
            ]
            for w in workers:
                w.start()
            started.wait()
            start = time.perf_counter()
            for w in workers:
                w.join()
            return casts / (time.perf_counter() - start)
        finally:
            channel.queue_delete(queue)
