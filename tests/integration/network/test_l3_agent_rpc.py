"""neutron's L3 agent over RPC with the no-op datapath: the API's router and floating IP
changes reach the agent as ``routers_updated`` / ``router_deleted`` casts, the agent asks
``sync_routers`` on ``q-l3-plugin`` and holds each router as the server describes it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labcloud.network.agents.l3 import L3Agent
from labcloud.network.agents.l3_driver import NoopL3
from labcloud.trace.events import MessageEvent
from tests.conftest import Keystone
from tests.integration.network.harness import NeutronCloud, wait_until


@pytest.fixture
def neutron(keystone: Keystone) -> Iterator[NeutronCloud]:
    cloud = NeutronCloud(keystone, ["compute1"], report_interval=0.2)
    yield cloud
    cloud.stop()


def built(neutron: NeutronCloud) -> NoopL3:
    agent = neutron.service.l3_agent
    assert agent is not None
    assert isinstance(agent.driver, NoopL3)
    return agent.driver


def router_as_built(neutron: NeutronCloud, router_id: str) -> dict[str, Any] | None:
    return built(neutron).built.get(router_id)


def test_the_l3_agent_reports_and_listens_on_neutrons_names(neutron: NeutronCloud) -> None:
    agents = neutron.call("GET", "/agents", admin=True).json()["agents"]
    l3 = [a for a in agents if a["agent_type"] == "L3 agent"]
    assert [(a["host"], a["binary"], a["topic"], a["alive"]) for a in l3] == [
        ("controller", "neutron-l3-agent", "l3_agent", True)
    ]
    queues = {q.name for q in neutron.transport.snapshot().queues}
    assert {"l3_agent", "l3_agent.controller", "q-l3-plugin"} <= queues


def test_router_interface_gateway_and_floating_ip_reach_the_agent(
    neutron: NeutronCloud,
) -> None:
    public = neutron.make("network", {"name": "public", "router:external": True}, admin=True)
    neutron.make("subnet", {"network_id": public["id"], "cidr": "203.0.113.0/24"}, admin=True)
    net_id, subnet_id = neutron.network("10.30.0.0/24")
    casts = neutron.bus.collect(
        lambda e: (
            isinstance(e, MessageEvent) and e.event == "publish" and e.method == "routers_updated"
        )
    )
    router = neutron.make(
        "router", {"name": "r1", "external_gateway_info": {"network_id": public["id"]}}
    )
    wait_until(lambda: router_as_built(neutron, router["id"]) is not None)
    first = next(iter(casts))
    casts.close()
    assert (first.exchange, first.routing_key, first.kind) == (
        "neutron",
        "l3_agent.controller",
        "cast",
    )
    assert first.args == {"routers": [router["id"]]}

    answer = neutron.call(
        "PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": subnet_id}
    )
    assert answer.status_code == 200, answer.text
    wait_until(lambda: len(router_as_built(neutron, router["id"])["_interfaces"]) == 1)  # type: ignore[index]
    seen = router_as_built(neutron, router["id"])
    assert seen is not None
    assert seen["_interfaces"][0]["fixed_ips"][0]["ip_address"] == "10.30.0.1"
    assert seen["_interfaces"][0]["subnets"][0]["cidr"] == "10.30.0.0/24"
    assert seen["gw_port"]["subnets"][0]["gateway_ip"] == "203.0.113.1"
    assert seen["enable_snat"] is True

    port = neutron.make("port", {"network_id": net_id, "device_id": "vm1"})
    fip = neutron.make("floatingip", {"floating_network_id": public["id"], "port_id": port["id"]})

    def fip_built() -> list[dict[str, Any]]:
        return router_as_built(neutron, router["id"])["_floatingips"]  # type: ignore[index,no-any-return]

    wait_until(lambda: [f["id"] for f in fip_built()] == [fip["id"]])
    assert fip_built()[0]["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]

    def fip_status() -> str:
        return str(neutron.call("GET", f"/floatingips/{fip['id']}").json()["floatingip"]["status"])

    wait_until(lambda: fip_status() == "ACTIVE")  # the agent's update_floatingip_statuses

    neutron.call("PUT", f"/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    wait_until(lambda: fip_built() == [])
    assert fip_status() == "DOWN"

    neutron.call("DELETE", f"/floatingips/{fip['id']}")
    neutron.call(
        "PUT", f"/routers/{router['id']}/remove_router_interface", {"subnet_id": subnet_id}
    )
    gone = neutron.call("DELETE", f"/routers/{router['id']}")
    assert gone.status_code == 204, gone.text
    wait_until(lambda: router["id"] not in built(neutron).routers())


def test_the_agent_resyncs_its_routers_when_it_starts(neutron: NeutronCloud) -> None:
    """Routers made while no L3 agent ran are built by the next one (sync at start), and a
    router it still holds that the server no longer has is removed."""
    neutron.service.stop_l3_agent()
    router = neutron.make("router", {"name": "made-while-down"})
    stale = NoopL3()
    stale.process(
        {"id": "0dd0dead-0000-4000-8000-000000000000", "gw_port": None, "_floatingips": []}
    )
    agent = L3Agent(neutron.transport, "controller", stale, report_interval=0.2).start()
    try:
        wait_until(lambda: agent.driver.routers() == {router["id"]})
    finally:
        agent.stop()


def test_deleting_an_instances_port_takes_its_floating_ip_off_the_router(
    neutron: NeutronCloud,
) -> None:
    public = neutron.make("network", {"name": "public", "router:external": True}, admin=True)
    neutron.make("subnet", {"network_id": public["id"], "cidr": "203.0.113.0/24"}, admin=True)
    net_id, subnet_id = neutron.network("10.31.0.0/24")
    router = neutron.make("router", {"external_gateway_info": {"network_id": public["id"]}})
    neutron.call("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": subnet_id})
    port = neutron.make("port", {"network_id": net_id, "device_id": "vm1"})
    neutron.make("floatingip", {"floating_network_id": public["id"], "port_id": port["id"]})

    def floating() -> list[str]:
        seen = router_as_built(neutron, router["id"])
        return [f["port_id"] for f in seen["_floatingips"]] if seen else []

    wait_until(lambda: floating() == [port["id"]])
    assert neutron.call("DELETE", f"/ports/{port['id']}").status_code == 204
    wait_until(lambda: floating() == [])  # told at once, not at the next resync (120 s)
