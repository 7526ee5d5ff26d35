"""The seed's lists of exchanges and queues (RabbitMQ under a Grizzly-era OpenStack, one host
called ``localhost``) beside a running cloud's, each match, difference and its reason.

Names are compared by their shape: a per-server fanout queue's uuid is ``<uuid>``, a
per-host queue's host is ``<host>`` (the seed's ``compute.localhost`` and this cloud's
``compute.compute1`` are the same queue on different hosts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labcloud.messaging.brokerview import BrokerSnapshot

# as the seed prints them (its list of exchanges and their types, and of queues)
SEED_EXCHANGES: dict[str, str] = {
    "": "direct", "cinder-scheduler_fanout": "fanout", "conductor_fanout": "fanout",
    "amq.topic": "topic", "cinder": "topic", "amq.rabbitmq.trace": "topic",
    "compute_fanout": "fanout", "amq.rabbitmq.log": "topic", "amq.fanout": "fanout",
    "q-agent-notifier-network-delete_fanout": "fanout", "cinder-volume_fanout": "fanout",
    "amq.headers": "headers", "nova": "topic", "scheduler_fanout": "fanout",
    "quantum": "topic", "amq.match": "headers", "dhcp_agent_fanout": "fanout",
    "q-agent-notifier-security_group-update_fanout": "fanout",
    "q-agent-notifier-port-update_fanout": "fanout",
}  # fmt: skip
SEED_QUEUES: tuple[str, ...] = (
    "scheduler_fanout_300bc05b412948ca91e9c2609022d94a", "compute.localhost",
    "cinder-scheduler", "q-agent-notifier-port-update_fanout_e84cd1190d3d4d6fab9c92b9903ad1ee",
    "compute_fanout_ae1e11827f144d5886f96cdcaba7f90b",
    "cinder-scheduler_fanout_ebe88ad41b7d450a95b183e6e7a404f0",
    "conductor_fanout_d82adea2be344983bdc36756e58849f9", "q-plugin", "dhcp_agent",
    "q-agent-notifier-network-delete_fanout_68eb13d73ccb4d97b84e2534f7181f02",
    "conductor.localhost", "compute", "scheduler.localhost", "scheduler",
    "dhcp_agent_fanout_d00b708d17994e31bdad92876dcbafc5",
    "q-agent-notifier-security_group-update_fanout_62f50e6f6327453ca02efb9e67212a53",
    "conductor", "cinder-scheduler.localhost", "dhcp_agent.localhost",
)  # fmt: skip

RABBITMQ_OWN = "RabbitMQ's own; this broker has only amq.direct/fanout/topic"
WHY_ONLY_SEED = {
    "amq.rabbitmq.trace": "RabbitMQ's firehose tracer; this broker has none",
    "amq.rabbitmq.log": "RabbitMQ's log exchange of the time (today: only when configured)",
    "amq.headers": RABBITMQ_OWN, "amq.match": RABBITMQ_OWN,
}  # fmt: skip
THREE_QUEUES = "each server has topic, topic.<host>, topic_fanout_<uuid>; the seed lists some"
WHY_ONLY_HERE = {
    "neutron": "quantum was renamed neutron (2013, a trademark): same topic exchange",
    "q-reports-plugin": "today's neutron agents report their state on a topic of its own",
    "q-agent-notifier-port-delete": "today's neutron tells agents about deleted ports too",
    "cinder-volume": "this cloud runs cinder-volume; the seed's list caught none of its queues",
    "l3_agent": "this cloud runs neutron's L3 agent (routers); the seed's host ran none",
    "q-l3-plugin": "what L3 agents ask neutron-server (the routers to build)",
    "reply": "a caller's reply queue (the seed's list shows one, its name lost)",
    "q-plugin_fanout": "neutron-server's fanout (the seed lists its queue, not this exchange)",
    "amq.direct": "RabbitMQ's own (every RabbitMQ has it; the seed's list leaves it out)",
}
RENAMED = {"quantum": "neutron"}


@dataclass(frozen=True)
class Row:
    seed: str  # the seed's name, in shape ("" when only this cloud has it)
    here: str  # this cloud's, in shape ("" when only the seed has it)
    mark: str  # "=" the same, "~" the same but renamed, "seed only", "here only"
    why: str


def shape(name: str, *, queue: bool = True) -> str:
    """``compute_fanout_ae1e…`` → ``compute_fanout_<uuid>``, ``compute.localhost`` and
    ``compute.compute1`` → ``compute.<host>`` (queues only), ``reply_9f…`` → ``reply_<uuid>``."""
    name = re.sub(r"_[0-9a-f]{32}$", "_<uuid>", name)
    return re.sub(r"^([a-z][a-z0-9_-]*)\.[A-Za-z0-9@_-]+$", r"\1.<host>", name) if queue else name


def _stem(name: str) -> str:
    return re.sub(r"(_fanout)?(_<uuid>|\.<host>)?$", "", name)


def _why(name: str, table: dict[str, str], topics: set[str]) -> str:
    stem = _stem(name)
    found = table.get(name) or table.get(stem) or table.get(stem.split("_")[0], "")
    return found or (THREE_QUEUES if stem in topics else "")


def compare(seed: list[str], here: list[str], *, queue: bool = True) -> list[Row]:
    """One row per name in either list, by shape, the seed's order first."""
    mine = {shape(n, queue=queue) for n in here}
    topics = {_stem(shape(n, queue=queue)) for n in seed}
    rows, seen = [], set()
    for name in dict.fromkeys(shape(n, queue=queue) for n in seed):
        renamed = RENAMED.get(name)
        if name in mine:
            rows.append(Row(name, name, "=", ""))
            seen.add(name)
        elif renamed in mine:
            rows.append(Row(name, renamed, "~", WHY_ONLY_HERE[renamed]))
            seen.add(renamed)
        else:
            rows.append(Row(name, "", "seed only", _why(name, WHY_ONLY_SEED, set())))
    for name in sorted(mine - seen):
        rows.append(Row("", name, "here only", _why(name, WHY_ONLY_HERE, topics)))
    return rows


def exchanges(snapshot: BrokerSnapshot) -> list[Row]:
    return compare(list(SEED_EXCHANGES), [e.name for e in snapshot.exchanges], queue=False)


def queues(snapshot: BrokerSnapshot) -> list[Row]:
    """The trace's own queues (the notebook's watcher) are left out."""
    here = [q.name for q in snapshot.queues if not q.name.startswith("labcloud.trace")]
    return compare(list(SEED_QUEUES), here)


def table(rows: list[Row]) -> str:
    """The rows as text, one a line: ``=  nova``, ``~  quantum → neutron  (why)``."""
    lines = []
    for r in rows:
        name = r.seed or r.here
        if r.mark == "~":
            name = f"{r.seed} → {r.here}"
        text = f"{r.mark:9} {name or '(default)'}"
        lines.append(f"{text:54} {r.why}".rstrip())
    return "\n".join(lines)
