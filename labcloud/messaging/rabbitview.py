"""A snapshot of a real RabbitMQ: exchanges, queues and bindings, with current depths.

The lists come from the management plugin's HTTP API (one request each). Its message
counts lag by seconds (statistics are collected every few seconds), so each queue's depth
and consumer count are then read again with a passive ``queue.declare``, which the broker
answers from the queue itself, at that moment. Unacked counts come from the API and can lag.

Where the management API listens is not something AMQP can tell: RabbitMQ's defaults are 5672
and 15672, so labcloud looks at the AMQP port + 10000 unless given ``management_url`` (the
test suite's own node keeps to the same rule).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote, urlsplit

import amqp
import amqp.exceptions
import httpx

from labcloud.messaging.brokerview import BindingInfo, BrokerSnapshot, ExchangeInfo, QueueInfo
from labcloud.messaging.exceptions import MessagingError

MANAGEMENT_OFFSET = 10_000  # management port = AMQP port + 10000 (5672 → 15672)


def url_parts(amqp_url: str) -> tuple[str, int, str, str, str]:
    url = urlsplit(amqp_url)
    path = url.path[1:] if url.path.startswith("/") else url.path
    vhost = unquote(path) if path else "/"
    return (
        url.hostname or "127.0.0.1",
        url.port or 5672,
        unquote(url.username or "guest"),
        unquote(url.password or "guest"),
        vhost,
    )


def management_url_for(amqp_url: str) -> str:
    """``amqp://guest:guest@127.0.0.1:5672//`` → ``http://127.0.0.1:15672``."""
    host, port, *_ = url_parts(amqp_url)
    return f"http://{host}:{port + MANAGEMENT_OFFSET}"


def _get(http: httpx.Client, base: str, path: str, columns: str) -> list[dict[str, Any]]:
    try:
        answer = http.get(f"{base}/api/{path}", params={"columns": columns})
    except httpx.HTTPError as exc:
        raise MessagingError(
            f"RabbitMQ's management API does not answer at {base} ({exc}): the broker view "
            "needs it. Enable it with `rabbitmq-plugins enable rabbitmq_management`, or say "
            "where it listens (management_url=...)"
        ) from exc
    if answer.status_code == 401:
        raise MessagingError(f"RabbitMQ's management API at {base} refused the credentials")
    if answer.status_code != 200:
        raise MessagingError(
            f"RabbitMQ's management API at {base} answered "
            f"{answer.status_code}: {answer.text[:200]}"
        )
    return list(answer.json())


def current_counts(amqp_url: str, names: list[str]) -> dict[str, tuple[int, int]]:
    """(ready messages, consumers) of each queue right now; queues gone meanwhile are left out."""
    host, port, user, password, vhost = url_parts(amqp_url)
    counts: dict[str, tuple[int, int]] = {}
    with amqp.Connection(
        f"{host}:{port}", userid=user, password=password, virtual_host=vhost, connect_timeout=5
    ) as conn:
        conn.connect()
        channel = conn.channel()
        for name in names:
            try:
                _, messages, consumers = channel.queue_declare(name, passive=True)
            except amqp.exceptions.NotFound:  # deleted since it was listed; the channel closed
                channel = conn.channel()
                continue
            counts[name] = (messages, consumers)
    return counts


def rabbitmq_snapshot(
    amqp_url: str, *, management_url: str | None = None, timeout: float = 5.0
) -> BrokerSnapshot:
    base = (management_url or management_url_for(amqp_url)).rstrip("/")
    _, _, user, password, vhost = url_parts(amqp_url)
    v = quote(vhost, safe="")
    with httpx.Client(auth=(user, password), timeout=timeout) as http:
        exchanges = _get(http, base, f"exchanges/{v}", "name,type,durable,auto_delete,internal")
        queues = _get(
            http,
            base,
            f"queues/{v}",
            "name,durable,auto_delete,exclusive,arguments,messages_unacknowledged",
        )
        bindings = _get(
            http, base, f"bindings/{v}", "source,destination,destination_type,routing_key"
        )
    counts = current_counts(amqp_url, [q["name"] for q in queues])
    return BrokerSnapshot(
        source="rabbitmq",
        exchanges=tuple(
            ExchangeInfo(
                e["name"],
                e["type"],
                bool(e.get("durable")),
                bool(e.get("auto_delete")),
                bool(e.get("internal")),
            )
            for e in exchanges
        ),
        queues=tuple(
            QueueInfo(
                q["name"],
                messages=counts[q["name"]][0],
                unacked=int(q.get("messages_unacknowledged") or 0),
                consumers=counts[q["name"]][1],
                durable=bool(q.get("durable")),
                auto_delete=bool(q.get("auto_delete")),
                exclusive=bool(q.get("exclusive")),
                arguments=dict(q.get("arguments") or {}),
            )
            for q in queues
            if q["name"] in counts
        ),
        bindings=tuple(
            BindingInfo(b["source"], b["routing_key"], b["destination"])
            for b in bindings
            if b.get("destination_type") == "queue" and b["destination"] in counts
        ),
    )
