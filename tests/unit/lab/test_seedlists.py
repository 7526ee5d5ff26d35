"""The seed's exchanges and queues beside a cloud's: matches by shape, renames, reasons."""

from __future__ import annotations

from labcloud.lab import seedlists
from labcloud.messaging.brokerview import BrokerSnapshot, ExchangeInfo, QueueInfo


def snapshot(exchanges: list[str], queues: list[str]) -> BrokerSnapshot:
    return BrokerSnapshot(
        "memory",
        tuple(ExchangeInfo(n, "topic") for n in exchanges),
        tuple(QueueInfo(n) for n in queues),
        (),
    )


def test_queues_match_by_shape_not_by_host_or_uuid() -> None:
    snap = snapshot([], ["compute.compute1", "compute_fanout_" + "a" * 32, "labcloud.trace.x"])
    rows = {r.here: r for r in seedlists.queues(snap) if r.here}
    assert rows["compute.<host>"].mark == "="  # the seed's compute.localhost
    assert rows["compute_fanout_<uuid>"].seed == "compute_fanout_<uuid>"
    assert "labcloud.trace.x" not in rows  # the watcher's own queue is not the cloud's


def test_quantum_is_neutron_and_rabbitmqs_own_exchanges_are_explained() -> None:
    rows = {r.seed or r.here: r for r in seedlists.exchanges(snapshot(["", "nova", "neutron"], []))}
    assert (rows["quantum"].here, rows["quantum"].mark) == ("neutron", "~")
    assert "renamed neutron" in rows["quantum"].why
    assert rows["nova"].mark == "="
    assert rows[""].mark == "="  # the default exchange
    assert rows["amq.headers"].mark == "seed only"
    assert "RabbitMQ" in rows["amq.headers"].why
    assert "tracer" in rows["amq.rabbitmq.trace"].why


def test_a_queue_only_here_says_why() -> None:
    rows = seedlists.queues(snapshot([], ["q-reports-plugin", "q-plugin.controller"]))
    why = {r.here: r.why for r in rows if r.mark == "here only"}
    assert "report their state" in why["q-reports-plugin"]
    assert "topic.<host>" in why["q-plugin.<host>"]  # a per-host queue of a seed topic
    assert "quantum → neutron" not in seedlists.table(rows)
    assert seedlists.table(rows).splitlines()[0].startswith("seed only")
