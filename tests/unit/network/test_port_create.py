"""A new port as neutron-server writes it: what it reads in one read transaction, the rows
it writes in one transaction (one INSERT per table), what the trace is told of them, and
the retry when another port took its MAC or its address first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from labcloud.context import RequestContext
from labcloud.network import allocations, ipam
from labcloud.network.agents_db import DHCP, AgentsDb
from labcloud.network.manager import NetworkManager
from labcloud.network.models import Port, ProvisioningBlock, SecurityGroupPortBinding
from labcloud.network.ports import PortManager
from labcloud.trace import TraceBus
from labcloud.trace.events import DbEvent, StateEvent

ADMIN = RequestContext(is_admin=True, roles=("admin",), project_id="p")


@pytest.fixture
def ports(tmp_path: Path) -> Iterator[PortManager]:
    """neutron-server with agents (a port waits for them), a network with a /29 subnet,
    the project's default group made, and one DHCP agent hosting every network."""
    manager = NetworkManager(f"sqlite:///{tmp_path}/neutron.sqlite", agents=True)
    net = manager.create_network(ADMIN, {"name": "n"})
    manager.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.0.0.0/29"})
    made = PortManager(manager)
    made.groups.default_group("p")
    made.dhcp_agents = lambda network_id, c: ["net1"]
    yield made
    manager.db.dispose()


def network_id(ports: PortManager) -> str:
    return str(ports.networks.list_networks(ADMIN, {})[0]["id"])


def body(ports: PortManager, **extra: Any) -> dict[str, Any]:
    return {"network_id": network_id(ports), "device_id": "vm", "binding:host_id": "c1"} | extra


def test_one_read_transaction_and_one_write_of_one_insert_per_table(ports: PortManager) -> None:
    engine, asked = ports.db.engine, body(ports)
    statements: list[str] = []
    begins: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    event.listen(engine, "begin", lambda conn: begins.append("begin"))
    port = ports.create_port(ADMIN, asked)
    verbs = [" ".join(s.split()[:3]) for s in statements]
    assert verbs == [
        "SELECT networks.id, networks.name,",  # the read transaction: network, default group
        "SELECT default_security_group.security_group_id FROM",
        "SELECT subnets.id, subnets.network_id,",  # the write: subnets, taken addresses
        "SELECT ipallocations.ip_address FROM",
        "INSERT INTO ports",
        "INSERT INTO ipallocations",
        "INSERT INTO securitygroupportbindings",
        "INSERT INTO provisioningblocks",  # L2 and DHCP in one statement
    ]
    assert len(begins) == 2
    assert port["status"] == "DOWN"  # its L2 agent and its DHCP agent provision it first
    with ports.db.reader() as s:
        blocks = set(s.scalars(select(ProvisioningBlock.entity)))
        groups = list(s.scalars(select(SecurityGroupPortBinding.security_group_id)))
    assert blocks == {"L2", "DHCP"}
    assert groups == port["security_groups"] == [ports.groups.default_group("p")]


def test_the_dhcp_agents_are_read_in_the_read_transaction(ports: PortManager) -> None:
    """neutron-server reads its live DHCP agents (the agents table) with the network and
    the default group: still one read transaction and one write."""
    agents = AgentsDb(ports.db)
    agents.report_state({"agent_type": DHCP[0], "host": "net1", "binary": DHCP[1]})
    ports.dhcp_agents = lambda network_id, c: agents.hosts(DHCP[0], c=c)
    engine, asked = ports.db.engine, body(ports)
    statements: list[str] = []
    begins: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    event.listen(engine, "begin", lambda conn: begins.append("begin"))
    ports.create_port(ADMIN, asked)
    assert [" ".join(s.split()[:2]) for s in statements[:4]] == [
        "SELECT networks.id,",
        "SELECT default_security_group.security_group_id",
        "SELECT agents.host,",
        "SELECT subnets.id,",  # the write transaction
    ]
    assert len(begins) == 2
    with ports.db.reader() as s:
        assert set(s.scalars(select(ProvisioningBlock.entity))) == {"L2", "DHCP"}


def test_the_trace_hears_of_each_row_and_the_ports_first_state(ports: PortManager) -> None:
    bus = TraceBus()
    ports.db.trace(bus, "neutron-server", {Port: ("port", "status")})
    log = bus.collect(types=(DbEvent, StateEvent))
    port = ports.create_port(ADMIN, body(ports))
    writes = [(e.table, e.op, e.key) for e in log if isinstance(e, DbEvent)]
    ip_ids = [k for table, _, k in writes if table == "ipallocations"]
    assert writes == [
        ("ports", "insert", port["id"]),
        ("ipallocations", "insert", ip_ids[0]),
        ("securitygroupportbindings", "insert", f"{port['id']}/{port['security_groups'][0]}"),
        ("provisioningblocks", "insert", f"{port['id']}/L2"),
        ("provisioningblocks", "insert", f"{port['id']}/DHCP"),
    ]
    assert ip_ids[0].isdigit()
    states = [(e.resource, e.id, e.status) for e in log if isinstance(e, StateEvent)]
    assert states == [("port", port["id"], "DOWN")]
    log.close()


def test_a_mac_another_port_took_first_is_tried_again(
    ports: PortManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ports.create_port(ADMIN, body(ports))
    macs = iter([first["mac_address"], "fa:16:3e:00:00:01"])
    monkeypatch.setattr(ipam, "random_mac", lambda: next(macs))
    second = ports.create_port(ADMIN, body(ports))
    assert second["mac_address"] == "fa:16:3e:00:00:01"


def test_an_address_another_port_took_first_is_tried_again(
    ports: PortManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first look finds the address free (the other port had not committed yet); the
    unique constraint refuses it, and the second attempt looks again."""
    first = ports.create_port(ADMIN, body(ports))
    taken = first["fixed_ips"][0]["ip_address"]
    real_taken = allocations._taken
    looks: list[int] = []

    def stale_once(s: Any, subnet_id: str, addresses: list[str]) -> set[str]:
        looks.append(1)
        return set() if len(looks) == 1 else real_taken(s, subnet_id, addresses)

    real_candidates = ipam.candidates
    monkeypatch.setattr(allocations, "_taken", stale_once)
    monkeypatch.setattr(
        ipam, "candidates", lambda pools, t: iter([taken, *real_candidates(pools, t)])
    )
    second = ports.create_port(ADMIN, body(ports))
    assert second["fixed_ips"][0]["ip_address"] != taken
    assert len(looks) == 2
    with ports.db.reader() as s:
        assert s.scalar(select(Port.id).where(Port.id == second["id"])) == second["id"]
