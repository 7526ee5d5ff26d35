"""The DHCP agent applies port notifications to its cached copy of the network (neutron's
NetModel cache): no refetch per port, older revisions and updates of deleted ports ignored,
a fetch for a network it has no copy of. The ports it served are reported ready
(dhcp_ready_on_ports), again if the report failed."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from labcloud.context import RequestContext
from labcloud.messaging import get_transport
from labcloud.messaging.exceptions import MessagingTimeout
from labcloud.network.agents import dhcp
from labcloud.network.agents.dhcp import DhcpAgent

CTXT = RequestContext(is_admin=True)
SUBNET = {"id": "sub1", "enable_dhcp": True}


def _port(n: int, revision: int = 1, ip: str = "") -> dict[str, Any]:
    return {
        "id": f"port{n}",
        "network_id": "net1",
        "device_id": f"vm{n}",
        "device_owner": "compute:nova",
        "mac_address": f"fa:16:3e:00:00:{n:02x}",
        "fixed_ips": [{"subnet_id": "sub1", "ip_address": ip or f"10.0.0.{n}"}],
        "revision_number": revision,
    }


class FakePlugin:
    """What q-plugin would answer, counting the fetches."""

    def __init__(self) -> None:
        self.ports: dict[str, dict[str, Any]] = {}
        self.fetches = 0
        self.ready: list[list[str]] = []
        self.failures = 0  # how many dhcp_ready_on_ports to fail (a broker gone)
        self.reported = threading.Event()

    def get_network_info(self, ctxt: RequestContext, network_id: str) -> dict[str, Any]:
        self.fetches += 1
        return {"id": network_id, "subnets": [SUBNET], "ports": list(self.ports.values())}

    def create_dhcp_port(self, ctxt: RequestContext, port: dict[str, Any]) -> dict[str, Any]:
        dhcp = _port(99) | {"device_id": port["device_id"], "device_owner": "network:dhcp"}
        self.ports[dhcp["id"]] = dhcp
        return dhcp

    def dhcp_ready_on_ports(self, ctxt: RequestContext, port_ids: list[str]) -> None:
        if self.failures:
            self.failures -= 1
            raise MessagingTimeout(msg_id="lost", timeout=0.1)
        self.ready.append(port_ids)
        self.reported.set()


def _agent() -> tuple[DhcpAgent, FakePlugin]:
    agent = DhcpAgent(get_transport("memory://"), "controller")
    plugin = FakePlugin()
    agent.plugin = plugin  # type: ignore[assignment]
    return agent, plugin


def test_port_events_change_the_cached_network_without_a_fetch() -> None:
    agent, plugin = _agent()
    agent.network_create_end(CTXT, {"network": {"id": "net1"}})
    assert plugin.fetches == 1
    for n in range(1, 6):
        agent.port_create_end(CTXT, {"port": _port(n)})
    agent.port_update_end(CTXT, {"port": _port(2, revision=2, ip="10.0.0.22")})
    agent.port_delete_end(CTXT, {"port_id": "port3", "network_id": "net1"})
    assert plugin.fetches == 1
    table = agent.driver.reservations("net1")
    assert table == {
        "fa:16:3e:00:00:01": "10.0.0.1",
        "fa:16:3e:00:00:02": "10.0.0.22",
        "fa:16:3e:00:00:04": "10.0.0.4",
        "fa:16:3e:00:00:05": "10.0.0.5",
    }


def test_older_revisions_and_updates_of_deleted_ports_are_ignored() -> None:
    agent, _ = _agent()
    agent.network_create_end(CTXT, {"network": {"id": "net1"}})
    agent.port_create_end(CTXT, {"port": _port(1, revision=3, ip="10.0.0.11")})
    agent.port_update_end(CTXT, {"port": _port(1, revision=2, ip="10.0.0.12")})
    agent.port_create_end(CTXT, {"port": _port(2)})
    agent.port_delete_end(CTXT, {"port_id": "port2", "network_id": "net1"})
    agent.port_update_end(CTXT, {"port": _port(2, revision=5)})
    assert agent.driver.reservations("net1") == {"fa:16:3e:00:00:01": "10.0.0.11"}


def test_a_port_of_a_network_not_cached_fetches_the_network() -> None:
    agent, plugin = _agent()
    plugin.ports["port7"] = _port(7)
    agent.port_create_end(CTXT, {"port": _port(7)})
    assert plugin.fetches == 1
    assert agent.driver.reservations("net1") == {"fa:16:3e:00:00:07": "10.0.0.7"}
    agent.network_delete_end(CTXT, {"network_id": "net1"})
    agent.port_create_end(CTXT, {"port": _port(8)})
    assert plugin.fetches == 2  # the copy went with the network


def test_the_ports_served_are_reported_ready_after_a_failed_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fetched network: all its ports (its own too); a port event: that port; an
    ignored event: nothing. One report for the lot, tried again when it fails."""
    monkeypatch.setattr(dhcp, "READY_RETRY", 0.01)
    agent, plugin = _agent()
    plugin.ports["port1"] = _port(1)
    agent.network_create_end(CTXT, {"network": {"id": "net1"}})
    agent.port_create_end(CTXT, {"port": _port(2)})
    agent.port_delete_end(CTXT, {"port_id": "port3", "network_id": "net1"})
    agent.port_update_end(CTXT, {"port": _port(3, revision=5)})  # deleted: ignored
    plugin.failures = 1
    reporter = threading.Thread(target=agent._reporting_ready, daemon=True)
    agent._ready_wake.set()
    reporter.start()
    try:
        assert plugin.reported.wait(10)
    finally:
        agent._stop.set()
        agent._ready_wake.set()
        reporter.join(10)
    assert plugin.failures == 0  # the first report failed ...
    assert plugin.ready == [["port1", "port2", "port99"]]  # ... and went again, whole


def test_the_driver_s_table_kept_per_port_is_the_table_of_every_port() -> None:
    """NoopDhcp updates only the changed ports' entries: the same table as one built
    from every port (a port moved off DHCP, a MAC changed, a port gone, the DHCP port)."""
    from labcloud.network.agents.dhcp_driver import NoopDhcp, _reservations

    ports = {p["id"]: p for p in (_port(n) for n in range(1, 6))}
    ports["port99"] = _port(99) | {"device_owner": "network:dhcp"}
    network = {"id": "net1", "subnets": [SUBNET, {"id": "sub2", "enable_dhcp": False}]}
    driver = NoopDhcp()
    driver.enable(network | {"ports": list(ports.values())}, ports["port99"])
    changes: list[dict[str, Any] | None] = [
        _port(2) | {"fixed_ips": [{"subnet_id": "sub2", "ip_address": "10.1.0.2"}]},
        _port(3) | {"mac_address": "fa:16:3e:00:01:03"},
        None,  # port4 deleted
        _port(6),
    ]
    for port_id, port in zip(["port2", "port3", "port4", "port6"], changes, strict=True):
        if port is None:
            del ports[port_id]
        else:
            ports[port_id] = port
        whole = network | {"ports": list(ports.values())}
        driver.enable(whole, ports["port99"], {port_id: port})
        assert driver.reservations("net1") == _reservations(whole)
