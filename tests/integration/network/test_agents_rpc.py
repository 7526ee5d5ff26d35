"""neutron over RPC with the no-op datapath: agents report, ports go ACTIVE only when their
agent says update_device_list, the seed's neutron queues are on the broker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labcloud.messaging.exceptions import MessagingTimeout
from labcloud.netns.links import tap_name
from labcloud.trace.events import MessageEvent
from tests.conftest import Keystone
from tests.integration.network.harness import NeutronCloud, wait_until


@pytest.fixture
def neutron(keystone: Keystone) -> Iterator[NeutronCloud]:
    cloud = NeutronCloud(
        keystone, ["compute1", "compute2"], report_interval=0.2, agent_down_time=1.0
    )
    yield cloud
    cloud.stop()


def test_agents_report_and_are_listed_alive_or_down(neutron: NeutronCloud) -> None:
    answer = neutron.call("GET", "/agents", admin=True)
    assert answer.status_code == 200, answer.text
    agents = {(a["agent_type"], a["host"]): a for a in answer.json()["agents"]}
    assert set(agents) == {
        ("Linux bridge agent", "controller"),
        ("Linux bridge agent", "compute1"),
        ("Linux bridge agent", "compute2"),
        ("DHCP agent", "controller"),
        ("L3 agent", "controller"),
    }
    assert all(a["alive"] for a in agents.values())
    assert agents[("DHCP agent", "controller")]["binary"] == "neutron-dhcp-agent"
    assert neutron.call("GET", "/agents").status_code == 403  # admin only, as in neutron

    neutron.service.stop_l2_agent("compute2")

    def compute2_down() -> bool:
        listed = neutron.call("GET", "/agents", admin=True).json()["agents"]
        return {
            a["host"]: a["alive"] for a in listed if a["binary"] == "neutron-linuxbridge-agent"
        } == {
            "controller": True,
            "compute1": True,
            "compute2": False,
        }

    wait_until(compute2_down, timeout=10)


def test_a_port_is_active_only_when_its_agent_reports_it_up(neutron: NeutronCloud) -> None:
    log = neutron.bus.collect(lambda e: isinstance(e, MessageEvent))
    net_id, _ = neutron.network()
    unbound = neutron.make("port", {"network_id": net_id, "device_id": "vm0"})
    assert unbound["status"] == "DOWN"  # no host: no agent will ever plug it
    port = neutron.make(
        "port", {"network_id": net_id, "device_id": "vm1", "binding:host_id": "compute1"}
    )
    assert port["status"] == "DOWN"
    neutron.wait_port(port["id"], "ACTIVE")
    assert neutron.port_states(port["id"])[-2:] == ["BUILD", "ACTIVE"]
    assert neutron.call("GET", f"/ports/{unbound['id']}").json()["port"]["status"] == "DOWN"
    calls = [(e.routing_key, e.method) for e in list(log) if e.event == "publish"]
    assert ("q-plugin", "get_devices_details_list") in calls
    assert ("q-plugin", "update_device_list") in calls
    log.close()


def test_a_failed_round_is_followed_by_a_resync(
    neutron: NeutronCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent whose update_device_list is lost (a broker restart) treats every device
    again next round, as neutron's resync does: the port still reaches ACTIVE, and nova
    still gets its network-vif-plugged."""
    agent = neutron.service.l2_agents["compute1"]
    report = agent.plugin.update_device_list
    lost: list[list[str]] = []

    def lost_once(ctxt: Any, up: list[str], down: list[str]) -> Any:
        monkeypatch.setattr(agent.plugin, "update_device_list", report)
        lost.append(up)
        raise MessagingTimeout(msg_id="lost", timeout=0.1)

    monkeypatch.setattr(agent.plugin, "update_device_list", lost_once)
    net_id, _ = neutron.network()
    port = neutron.make(
        "port", {"network_id": net_id, "device_id": "vm1", "binding:host_id": "compute1"}
    )
    neutron.wait_port(port["id"], "ACTIVE")
    assert lost  # the first report was lost ...
    assert tap_name(port["id"]) in lost[0]  # ... and it was this port's


def test_the_seeds_neutron_queues_are_on_the_broker(neutron: NeutronCloud) -> None:
    snapshot = neutron.transport.snapshot()
    exchanges = {e.name for e in snapshot.exchanges}
    queues = {q.name for q in snapshot.queues}
    assert {
        "neutron",
        "q-agent-notifier-port-update_fanout",
        "q-agent-notifier-network-delete_fanout",
        "q-agent-notifier-security_group-update_fanout",
        "dhcp_agent_fanout",
        "l3_agent_fanout",
    } <= exchanges
    assert {
        "q-plugin",
        "q-l3-plugin",
        "q-reports-plugin",
        "dhcp_agent",
        "dhcp_agent.controller",
        "l3_agent",
        "l3_agent.controller",
    } <= queues
    for prefix in (
        "q-agent-notifier-port-update_fanout_",
        "dhcp_agent_fanout_",
        "l3_agent_fanout_",
    ):
        assert any(q.startswith(prefix) for q in queues), prefix


def test_the_dhcp_agent_reserves_what_ipam_allocated(neutron: NeutronCloud) -> None:
    net_id, _ = neutron.network("10.21.0.0/28")
    port = neutron.make(
        "port", {"network_id": net_id, "device_id": "vm1", "binding:host_id": "compute1"}
    )
    agent = neutron.service.dhcp_agent
    assert agent is not None
    wait_until(lambda: port["mac_address"] in agent.driver.reservations(net_id))
    assert agent.driver.reservations(net_id) == {
        port["mac_address"]: port["fixed_ips"][0]["ip_address"]
    }
    dhcp_ports = neutron.call(
        "GET", f"/ports?network_id={net_id}&device_owner=network:dhcp", admin=True
    )
    assert len(dhcp_ports.json()["ports"]) == 1
    assert neutron.call("DELETE", f"/ports/{port['id']}").status_code == 204
    wait_until(lambda: agent.driver.reservations(net_id) == {})
