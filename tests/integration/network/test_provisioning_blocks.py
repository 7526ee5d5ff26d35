"""Provisioning blocks (neutron/db/provisioning_blocks.py) over RPC, no-op datapath: a port
bound to a host goes ACTIVE only when its L2 agent (update_device_list) and the DHCP agent
(dhcp_ready_on_ports) have both provisioned it, whichever comes last; a block is only
written when someone will complete it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from labcloud.context import RequestContext
from labcloud.netns.links import tap_name
from labcloud.network.models import ProvisioningBlock
from labcloud.network.plugin_rpc import RpcCallbacks
from tests.conftest import Keystone
from tests.integration.network.harness import NO_SUCH, NeutronCloud, wait_until


class Held:
    """An agent's call to neutron-server, held until ``release()``; records the first
    list argument of each call once the server has answered it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, client: Any, method: str) -> None:
        self.real = getattr(client, method)
        self.gate = threading.Event()
        self.answered: list[list[str]] = []
        self._changed = threading.Condition()
        monkeypatch.setattr(client, method, self)

    def __call__(self, ctxt: RequestContext, items: list[str], *rest: Any) -> Any:
        assert self.gate.wait(30), "never released"
        result = self.real(ctxt, items, *rest)
        with self._changed:
            self.answered.append(list(items))
            self._changed.notify_all()
        return result

    def release(self) -> None:
        self.gate.set()

    def wait_answered(self, item: str, since: int = 0, timeout: float = 10.0) -> None:
        """Until a call naming ``item`` (after the first ``since`` calls) was answered."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: any(item in items for items in self.answered[since:]), timeout
            )
        assert done, f"{item} was never answered"


@pytest.fixture
def neutron(keystone: Keystone) -> Iterator[NeutronCloud]:
    cloud = NeutronCloud(keystone, ["compute1"], report_interval=0.2, agent_down_time=1.0)
    yield cloud
    cloud.stop()


@pytest.fixture
def hold(neutron: NeutronCloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Held]]:
    """``hold("l2")``: compute1's update_device_list; ``hold("dhcp")``: dhcp_ready_on_ports.
    Released at the end whatever happens, so the agents can stop."""
    made: list[Held] = []

    def hold_(which: str) -> Held:
        if which == "l2":
            held = Held(
                monkeypatch, neutron.service.l2_agents["compute1"].plugin, "update_device_list"
            )
        else:
            assert neutron.service.dhcp_agent is not None
            held = Held(monkeypatch, neutron.service.dhcp_agent.plugin, "dhcp_ready_on_ports")
        made.append(held)
        return held

    yield hold_
    for held in made:
        held.release()


def blocks(neutron: NeutronCloud, port_id: str) -> set[str]:
    with neutron.service.manager.db.reader() as s:
        query = select(ProvisioningBlock.entity).where(ProvisioningBlock.port_id == port_id)
        return set(s.scalars(query))


def status(neutron: NeutronCloud, port_id: str) -> str:
    return str(neutron.call("GET", f"/ports/{port_id}").json()["port"]["status"])


def bound_port(neutron: NeutronCloud, net_id: str, name: str = "vm1") -> dict[str, Any]:
    body = {"network_id": net_id, "device_id": name, "binding:host_id": "compute1"}
    return neutron.make("port", body)


def test_a_port_plugged_by_its_l2_agent_waits_for_dhcp(
    neutron: NeutronCloud, hold: Callable[[str], Held]
) -> None:
    dhcp, l2 = hold("dhcp"), hold("l2")
    l2.release()
    net_id, _ = neutron.network()
    port = bound_port(neutron, net_id)
    l2.wait_answered(tap_name(port["id"]))
    assert blocks(neutron, port["id"]) == {"DHCP"}
    assert status(neutron, port["id"]) == "BUILD"  # plugged, but dnsmasq does not know it
    dhcp.release()
    neutron.wait_port(port["id"], "ACTIVE")
    assert blocks(neutron, port["id"]) == set()
    assert neutron.port_states(port["id"])[-2:] == ["BUILD", "ACTIVE"]


def test_a_port_served_by_dhcp_waits_for_its_l2_agent(
    neutron: NeutronCloud, hold: Callable[[str], Held]
) -> None:
    dhcp, l2 = hold("dhcp"), hold("l2")
    dhcp.release()
    net_id, _ = neutron.network()
    port = bound_port(neutron, net_id)
    dhcp.wait_answered(port["id"])
    assert blocks(neutron, port["id"]) == {"L2"}
    assert status(neutron, port["id"]) in ("DOWN", "BUILD")
    l2.release()
    neutron.wait_port(port["id"], "ACTIVE")
    assert blocks(neutron, port["id"]) == set()
    assert neutron.port_states(port["id"]).count("ACTIVE") == 1


def test_a_port_with_no_dhcp_subnet_has_only_the_l2_block(
    neutron: NeutronCloud, hold: Callable[[str], Held]
) -> None:
    l2 = hold("l2")
    net = neutron.make("network", {"name": "n"})
    neutron.make("subnet", {"network_id": net["id"], "cidr": "10.22.0.0/24", "enable_dhcp": False})
    port = bound_port(neutron, net["id"])
    assert blocks(neutron, port["id"]) == {"L2"}
    l2.release()
    neutron.wait_port(port["id"], "ACTIVE")


def test_no_dhcp_block_without_a_live_dhcp_agent(
    neutron: NeutronCloud, hold: Callable[[str], Held]
) -> None:
    """neutron adds the DHCP block only when a DHCP agent hosts the network: with none
    alive, nobody would complete it and the port would never go ACTIVE."""
    l2 = hold("l2")
    neutron.service.dhcp.stop()  # neutron-dhcp-agent stops
    assert neutron.service.dhcp_agent is None

    def dhcp_agent_dead() -> bool:
        listed = neutron.call("GET", "/agents?binary=neutron-dhcp-agent", admin=True)
        return not any(a["alive"] for a in listed.json()["agents"])

    wait_until(dhcp_agent_dead)
    net_id, _ = neutron.network()
    port = bound_port(neutron, net_id)
    assert blocks(neutron, port["id"]) == {"L2"}
    l2.release()
    neutron.wait_port(port["id"], "ACTIVE")


def test_an_unbound_port_is_not_made_active_by_dhcp(
    neutron: NeutronCloud, hold: Callable[[str], Held]
) -> None:
    """No host, no L2 block: DHCP completes the only block, and ML2 leaves an unbound
    port as it is."""
    dhcp = hold("dhcp")
    net_id, _ = neutron.network()
    port = neutron.make("port", {"network_id": net_id, "device_id": "vm0"})
    assert blocks(neutron, port["id"]) == {"DHCP"}
    dhcp.release()
    dhcp.wait_answered(port["id"])
    assert blocks(neutron, port["id"]) == set()
    assert status(neutron, port["id"]) == "DOWN"


def test_a_block_completed_for_a_deleted_port_is_harmless(
    neutron: NeutronCloud, hold: Callable[[str], Held]
) -> None:
    dhcp = hold("dhcp")
    net_id, _ = neutron.network()
    port = bound_port(neutron, net_id)
    assert "DHCP" in blocks(neutron, port["id"])
    assert neutron.call("DELETE", f"/ports/{port['id']}").status_code == 204
    assert blocks(neutron, port["id"]) == set()  # they went with the port
    dhcp.release()
    dhcp.wait_answered(port["id"])  # the server answered, no error
    assert "ACTIVE" not in neutron.port_states(port["id"])
    server = RpcCallbacks(neutron.service.manager, neutron.service.ports)
    server.dhcp_ready_on_ports(RequestContext(is_admin=True), [port["id"], NO_SUCH])


def test_new_addresses_wait_for_dhcp_again(
    neutron: NeutronCloud, hold: Callable[[str], Held]
) -> None:
    """A port's fixed_ips changed: a new DHCP block, completed once dnsmasq has them; the
    port stays ACTIVE meanwhile (as in neutron: a block holds back only the way to ACTIVE)."""
    dhcp = hold("dhcp")
    dhcp.release()
    net_id, subnet_id = neutron.network()
    port = bound_port(neutron, net_id)
    neutron.wait_port(port["id"], "ACTIVE")
    # the port goes ACTIVE inside the agent's call, before its answer is counted: wait for
    # it, or it would count as the answer to the report of the new addresses
    dhcp.wait_answered(port["id"])
    dhcp.gate.clear()  # hold the next reports
    since = len(dhcp.answered)
    body = {"port": {"fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.20.0.200"}]}}
    answer = neutron.call("PUT", f"/ports/{port['id']}", body)
    assert answer.status_code == 200, answer.text
    assert blocks(neutron, port["id"]) == {"DHCP"}
    dhcp.release()
    dhcp.wait_answered(port["id"], since)
    agent = neutron.service.dhcp_agent
    assert agent is not None
    assert agent.driver.reservations(net_id)[port["mac_address"]] == "10.20.0.200"
    assert blocks(neutron, port["id"]) == set()
    assert status(neutron, port["id"]) == "ACTIVE"
