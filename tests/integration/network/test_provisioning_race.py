"""Two entities completing one port's blocks at once (the L2 agent's update_device_list
and the DHCP agent's dhcp_ready_on_ports): each removes its block and looks for the other's
in one transaction, so the second must wait for the first's commit, or each would still
see the other's block and the port would never go ACTIVE."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Connection, select

from labcloud.context import RequestContext
from labcloud.network import provisioning_blocks as blocks
from labcloud.network.manager import NetworkManager
from labcloud.network.models import Port
from labcloud.network.port_status import PortStatus
from labcloud.network.ports import PortManager

ADMIN = RequestContext(is_admin=True, roles=("admin",))


def test_two_entities_completing_at_once_leave_the_port_active(db_url: str) -> None:
    manager = NetworkManager(db_url, agents=True)
    try:
        ports = PortManager(manager)
        ports.dhcp_agents = lambda network_id, c: ["controller"]  # a DHCP block too
        net = manager.create_network(ADMIN, {"name": "n", "project_id": "p"})
        manager.create_subnet(
            ADMIN, {"network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": 4}
        )
        port = ports.create_port(
            ADMIN,
            {"network_id": net["id"], "device_id": "vm", "binding:host_id": "h1"},
        )
        status = PortStatus(ports)
        first_in, second_in = threading.Event(), threading.Event()

        def first(c: Connection, ids: list[str]) -> Callable[[], None]:
            first_in.set()  # its block is gone, not committed: the second comes now
            second_in.wait(1.0)  # it cannot get here while this transaction holds the port
            return status.provisioned_in(c, ids)

        def second(c: Connection, ids: list[str]) -> Callable[[], None]:
            second_in.set()
            return status.provisioned_in(c, ids)

        l2 = threading.Thread(
            target=blocks.provisioning_complete,
            args=(manager.db, [port["id"]], blocks.L2_AGENT_ENTITY, first),
        )
        l2.start()
        assert first_in.wait(10)
        blocks.provisioning_complete(manager.db, [port["id"]], blocks.DHCP_ENTITY, second)
        l2.join(10)
        with manager.db.read() as c:
            assert c.scalar(select(Port.status).where(Port.id == port["id"])) == "ACTIVE"
    finally:
        manager.db.dispose()
