"""neutron's factories as ``labcloud run`` uses them: each binary from its settings alone, with
its own connection to the suite's RabbitMQ node, the agents on the no-op datapath reporting
to neutron-server and plugging a port it binds to their host."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from labcloud.binaries import BINARIES
from labcloud.binaries.network import NeutronServer
from labcloud.conf import parse
from labcloud.context import RequestContext
from labcloud.network.agents.dhcp_driver import NoopDhcp
from labcloud.network.agents.l2 import NoopL2
from labcloud.network.agents.l3_driver import NoopL3
from tests.integration.network.harness import wait_until

pytestmark = [pytest.mark.rabbitmq, pytest.mark.timeout(120)]
ADMIN = RequestContext(is_admin=True, roles=("admin",), project_id="p")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_neutron_server_and_its_agents_in_processes_of_their_own(
    rabbitmq_url: str, tmp_path: Path
) -> None:
    def conf(host: str) -> str:
        return (
            f"[DEFAULT]\ntransport_url = {rabbitmq_url}\nhost = {host}\n"
            f"state_path = {tmp_path}\nreport_interval = 0.5\n"
            "notify_nova_on_port_status_changes = false\n"
            f"[api]\nbind_port = {free_port()}\n"
        )

    names = ("neutron-server", "neutron-dhcp-agent", "neutron-l3-agent")
    built = [BINARIES[n].build(parse(conf("controller"), "neutron")) for n in names]
    l2 = BINARIES["neutron-linuxbridge-agent"].build(parse(conf("compute1"), "neutron"))
    server, dhcp, l3 = built
    assert isinstance(server.manager, NeutronServer)
    assert isinstance(dhcp.manager.driver, NoopDhcp)  # type: ignore[attr-defined]
    assert isinstance(l3.manager.driver, NoopL3)  # type: ignore[attr-defined]
    assert isinstance(l2.manager.datapath, NoopL2)  # type: ignore[attr-defined]
    assert len({id(b.transport) for b in [*built, l2]}) == 4  # a connection each
    neutron = server.manager
    started = []
    try:
        for binary in [*built, l2]:
            started.append(binary.start())
        wait_until(lambda: neutron.agents_db.hosts("Linux bridge agent") == ["compute1"])
        assert neutron.agents_db.hosts("DHCP agent") == ["controller"]
        net = neutron.manager.create_network(ADMIN, {"name": "n"})
        neutron.manager.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.5.0.0/24"})
        body = {"network_id": net["id"], "device_id": "vm1", "binding:host_id": "compute1"}
        port = neutron.ports.create_port(ADMIN, body)
        assert port["status"] == "DOWN"

        def active() -> bool:
            return bool(neutron.ports.get_port(ADMIN, port["id"])["status"] == "ACTIVE")

        wait_until(active, timeout=20)  # the agent was told of it, and plugged it
    finally:
        for binary in reversed(started):
            binary.stop()
