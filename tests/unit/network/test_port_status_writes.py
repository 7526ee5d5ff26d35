"""What the agents' port reports write and trace: each changed port row once (a DbEvent),
its new status (a StateEvent) when the status changed, in the order a session's flush
reports them; an unchanged port writes and traces nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from labcloud.context import RequestContext
from labcloud.network.manager import NetworkManager
from labcloud.network.models import Port
from labcloud.network.port_status import PortStatus
from labcloud.network.ports import PortManager
from labcloud.trace import TraceBus
from labcloud.trace.events import DbEvent, StateEvent

ADMIN = RequestContext(is_admin=True, roles=("admin",))


def _cloud() -> tuple[PortStatus, list[Any], list[dict[str, Any]]]:
    manager = NetworkManager("sqlite://", agents=True)
    ports = PortManager(manager)
    net = manager.create_network(ADMIN, {"name": "n", "project_id": "p"})
    manager.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": 4})
    body = {"network_id": net["id"], "device_id": "vm", "device_owner": "compute:nova"}
    made = [
        ports.create_port(ADMIN, body | {"binding:host_id": "h1"}),
        ports.create_port(ADMIN, body),  # not bound yet
    ]
    bus = TraceBus()
    seen = bus.collect(lambda e: isinstance(e, DbEvent | StateEvent))
    manager.db.trace(bus, "neutron-server", {Port: ("port", "status")})
    return PortStatus(ports), seen, made


def _events(seen: Any) -> list[tuple[str, ...]]:
    return [
        ("db", e.table, e.op, e.key) if isinstance(e, DbEvent) else ("state", e.id, e.status)
        for e in seen
    ]


def test_each_changed_row_traced_then_its_status() -> None:
    status, seen, (bound, unbound) = _cloud()
    devices = ["tap" + bound["id"][:11], "tap" + unbound["id"][:11]]
    with status.db.read() as c:
        before = dict(c.execute(select(Port.id, Port.updated_at)).all())
    found = status.set_statuses(devices, "BUILD", "h2", view=True)
    assert {d: p["status"] for d, p in found.items()} == dict.fromkeys(devices, "BUILD")
    # the bound port keeps its host; the unbound one takes the agent's
    assert [found[d]["binding:host_id"] for d in devices] == ["h1", "h2"]
    assert sorted(_events(seen), key=lambda e: e[-2:]) == sorted(
        [
            ("db", "ports", "update", bound["id"]),
            ("state", bound["id"], "BUILD"),
            ("db", "ports", "update", unbound["id"]),
            ("state", unbound["id"], "BUILD"),
        ],
        key=lambda e: e[-2:],
    )
    for i in range(0, 4, 2):  # a row's update, then its status
        assert _events(seen)[i][0] == "db"
        assert _events(seen)[i + 1][0] == "state"
    with status.db.read() as c:
        rows = {r.id: r for r in c.execute(select(Port.id, Port.host, Port.updated_at))}
    assert rows[unbound["id"]].host == "h2"
    assert all(rows[i].updated_at >= before[i] for i in before)

    seen.clear()
    status.set_statuses(devices, "BUILD", "h2")  # as it is already: nothing written
    assert _events(seen) == []

    status.port_provisioned([bound["id"], unbound["id"]])  # the bound one has its L2 block
    assert _events(seen) == [
        ("db", "ports", "update", unbound["id"]),
        ("state", unbound["id"], "ACTIVE"),
    ]
    seen.clear()
    status.devices_up(devices[:1], "h1")  # its agent says it is up: the block goes
    assert _events(seen) == [
        ("db", "provisioningblocks", "delete", f"{bound['id']}/L2"),
        ("db", "ports", "update", bound["id"]),
        ("state", bound["id"], "ACTIVE"),
    ]
    seen.clear()
    status.port_provisioned([bound["id"]])  # safe to repeat: ACTIVE already
    assert _events(seen) == []
