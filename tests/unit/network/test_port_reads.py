"""What neutron-server reads once, not again: the ports an agent's devices name (one
statement, whatever their number), and, for a new port, its network and the DHCP agents."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.messaging import get_transport
from labcloud.network.models import Base, Network, Port
from labcloud.network.notifier import AgentNotifier
from labcloud.network.port_status import by_key_ranges, devices_where, key_params, key_ranges

IDS = ("0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d", "0a1b2c3d-4e00-4000-8000-000000000000")


def test_one_statement_for_any_number_of_devices() -> None:
    """SQLAlchemy compiles a statement once per shape: the shape must not grow with the
    devices (an agent's round may name hundreds)."""

    def sql(devices: list[str]) -> str:
        return str(select(Port.id).where(devices_where(devices)).compile(dialect=sqlite.dialect()))

    assert sql(["tap0a1b2c3d-4e"]) == sql([f"tap{i:011d}" for i in range(40)])


def test_devices_name_their_ports() -> None:
    """A tap name (11 characters of the id), a whole id and a shorter prefix all find the
    ports they name, and only those."""
    db = Database("sqlite://", Base.metadata)
    db.create_all()
    stamp = datetime(2026, 1, 1)
    with db.session() as s:
        s.add(Network(id="net", project_id="p", created_at=stamp, updated_at=stamp))
        s.flush()
        for n, port_id in enumerate((*IDS, "ffffffff-0000-4000-8000-000000000000")):
            s.add(
                Port(
                    id=port_id,
                    network_id="net",
                    project_id="p",
                    mac_address=f"fa:16:3e:00:00:0{n}",
                    created_at=stamp,
                    updated_at=stamp,
                )
            )

    def found(devices: list[str]) -> set[str]:
        with db.reader() as s:
            return set(s.scalars(select(Port.id).where(devices_where(devices))))

    assert found(["tap0a1b2c3d-4e"]) == {IDS[0], IDS[1]}  # both share those 11 characters
    assert found([IDS[1]]) == {IDS[1], IDS[0]}  # whole ids: the caller checks the rest
    assert found(["tap0a1b"]) == {IDS[0], IDS[1]}
    assert found(["tapffffffff-00", "tap12345678-90"]) == {"ffffffff-0000-4000-8000-000000000000"}

    def ranged(keys: list[str]) -> set[str]:  # a round's few tap names: the key's index
        with db.read() as c:
            query = select(Port.id).where(key_ranges(len(keys)))
            return set(c.execute(query, key_params(keys)).scalars())

    for devices in (["tap0a1b2c3d-4e"], ["tapffffffff-00", "tap12345678-90"], ["tap0a1b2c3d-4f"]):
        assert ranged(sorted(d[3:] for d in devices)) == found(devices)
    with db.read() as c:  # on SQLite (text compared byte by byte), for a round's few
        assert by_key_ranges(c, [f"{i:011d}" for i in range(16)])
        assert not by_key_ranges(c, [f"{i:011d}" for i in range(17)])
    # a locale's collation may sort "0a1b2c3d-4e~" before "0a1b2c3d-4e5f-...": not there
    postgresql = SimpleNamespace(dialect=SimpleNamespace(name="postgresql"))
    assert not by_key_ranges(postgresql, ["0a1b2c3d-4e"])  # type: ignore[arg-type]
    db.dispose()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def port_update(self, ctxt: RequestContext, port: dict[str, Any], segment: Any) -> None:
        self.calls.append(("port_update", port["id"], segment))

    def notify(self, ctxt: RequestContext, hosts: list[str], method: str, **payload: Any) -> None:
        self.calls.append((method, hosts))


def test_a_new_port_reads_neither_its_network_nor_the_dhcp_agents_again() -> None:
    reads: list[str] = []

    def dhcp_hosts() -> list[str]:
        reads.append("dhcp agents")
        return ["net1"]

    def segment(network_id: str) -> dict[str, Any]:
        reads.append("segment")
        return {"network_type": "flat", "physical_network": "physnet1", "segmentation_id": None}

    notifier = AgentNotifier(get_transport("memory://"), dhcp_hosts, segment)
    notifier.agents = notifier.dhcp = recorder = Recorder()  # type: ignore[assignment]
    port = {"id": "p1", "network_id": "n1", "binding:host_id": "compute1"}
    network = {
        "id": "n1",
        "provider:network_type": "vxlan",
        "provider:physical_network": None,
        "provider:segmentation_id": 7,
    }
    ctxt = RequestContext(is_admin=True)
    notifier.plug_port(ctxt, port, network=network, dhcp_hosts=["net1"])
    assert reads == []
    assert recorder.calls == [
        (
            "port_update",
            "p1",
            {"network_type": "vxlan", "physical_network": None, "segmentation_id": 7},
        ),
        ("port_create_end", ["net1"]),
    ]
    notifier.plug_port(ctxt, port)  # told nothing: it reads them
    assert reads == ["segment", "dhcp agents"]
