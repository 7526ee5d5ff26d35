"""Routers and floating IPs on the real datapath, as root: neutron's L3 agent builds a
``qrouter-`` namespace with iptables NAT, an instance (a namespace) reaches "the internet"
(a namespace on the external network these tests create) as the router's gateway address,
and a floating IP makes it reachable from there until it is disassociated. All traffic
stays inside the test's namespaces, and every one of them is gone after each test."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labcloud.netns import links, nat, procs
from labcloud.netns.internet import Internet, serve_whoami, whoami_from
from tests.conftest import require
from tests.integration.network.harness import NeutronCloud, wait_until
from tests.system.conftest import Guests, ip_of

EXTERNAL = "203.0.113.0/24"
UPSTREAM = "203.0.113.1"  # the external subnet's gateway: the internet namespace


@pytest.fixture
def internet(neutron: NeutronCloud, tmp_path: Path) -> Iterator[Internet]:
    for tool, package in (("iptables-restore", "iptables"), ("conntrack", "conntrack")):
        require(
            shutil.which(tool) is not None, f"{package} is not installed (`./run test` installs it)"
        )
    fabric = neutron.service.fabric
    assert fabric is not None
    made = Internet(fabric, f"{UPSTREAM}/24", tmp_path / "internet")
    try:
        yield made.start()
    finally:
        made.stop()


def external_network(neutron: NeutronCloud) -> str:
    """A flat external network on physnet1 (the fabric's bridge the internet is on)."""
    made = neutron.make(
        "network",
        {
            "name": "public",
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "physnet1",
        },
        admin=True,
    )
    subnet = {"network_id": made["id"], "cidr": EXTERNAL, "enable_dhcp": False}
    neutron.make("subnet", subnet | {"gateway_ip": UPSTREAM}, admin=True)
    return str(made["id"])


def router_ns(neutron: NeutronCloud, router_id: str) -> str:
    assert neutron.service.fabric is not None
    return neutron.service.fabric.ns(f"qrouter-{router_id}")


def put(
    neutron: NeutronCloud,
    path: str,
    body: dict[str, Any],
    *,
    admin: bool = False,
) -> dict[str, Any]:
    answer = neutron.call("PUT", path, body, admin=admin)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def allow(neutron: NeutronCloud, group_id: str, what: dict[str, Any]) -> None:
    ports = {"port_range_max": what["port_range_min"]} if "port_range_min" in what else {}
    body = {"security_group_id": group_id, "direction": "ingress", "ethertype": "IPv4"}
    body |= {"remote_ip_prefix": "0.0.0.0/0"} | what | ports
    answer = neutron.call(
        "POST", "/security-group-rules", {"security_group_rule": body}, admin=True
    )
    assert answer.status_code == 201, answer.text


def test_snat_floating_ip_and_router_delete(
    neutron: NeutronCloud,
    guests: Guests,
    internet: Internet,
    tmp_path: Path,
) -> None:
    public = external_network(neutron)
    net_id, subnet_id = neutron.network("10.70.0.0/24")
    router = neutron.make("router", {"name": "r1", "external_gateway_info": {"network_id": public}})
    put(neutron, f"/routers/{router['id']}/add_router_interface", {"subnet_id": subnet_id})
    gateway_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    vm = guests.boot("vm1", "compute1", net_id)
    wait_until(lambda: guests.address("vm1") == ip_of(vm), timeout=20, every=0.1)
    # the default group lets in only its own members: the outside needs rules (ping, the web)
    for group_id in vm["security_groups"]:
        for allowed in ({"protocol": "icmp"}, {"protocol": "tcp", "port_range_min": 8080}):
            allow(neutron, group_id, allowed)

    # SNAT: the instance reaches a host beyond the upstream router, seen as the gateway IP
    far = internet.far
    wait_until(lambda: whoami_from(guests.ns("vm1"), far) == gateway_ip, timeout=20, every=0.1)
    assert not internet.pings(ip_of(vm))  # the private address is not routed from outside

    # a floating IP: reachable from outside, the instance sees the outside's own address
    # (the guest's port is the admin's: Guests.boot makes it as nova does, with admin rights)
    fip = neutron.make(
        "floatingip", {"floating_network_id": public, "port_id": vm["id"]}, admin=True
    )
    address = fip["floating_ip_address"]
    wait_until(lambda: internet.pings(address), timeout=20, every=0.1)
    server = serve_whoami(guests.ns("vm1"), tmp_path / "vm1-www", 8080)
    try:
        wait_until(lambda: whoami_from(internet.ns, address, 8080) != "", timeout=10)
        assert whoami_from(internet.ns, address, 8080) == UPSTREAM
        assert whoami_from(guests.ns("vm1"), far) == address  # its own traffic leaves as it
    finally:
        procs.stop(server)
    ns = router_ns(neutron, router["id"])
    assert (
        f"-A neutron-l3-agent-PREROUTING -d {address}/32 -j DNAT --to-destination {ip_of(vm)}"
        in (nat.save(ns, "nat"))
    )

    # disassociated: once the agent took the NAT away, it answers no more
    put(neutron, f"/floatingips/{fip['id']}", {"floatingip": {"port_id": None}}, admin=True)
    wait_until(lambda: not any(address in rule for rule in nat.save(ns, "nat")), timeout=20)
    # and its tracked flows are forgotten (else a flow NATed before would go on being NATed)
    wait_until(lambda: nat.flows(ns, address) == [], timeout=10)
    assert not internet.pings(address)
    assert whoami_from(guests.ns("vm1"), far) == gateway_ip

    # deleted: no namespace, no veth on the network host, no rules (they lived in the namespace)
    ports = neutron.call("GET", f"/ports?device_id={router['id']}", admin=True).json()["ports"]
    taps = {links.tap_name(p["id"]) for p in ports}
    assert len(taps) == 2  # its interface and its gateway
    neutron.call("DELETE", f"/floatingips/{fip['id']}", admin=True)
    put(neutron, f"/routers/{router['id']}/remove_router_interface", {"subnet_id": subnet_id})
    assert neutron.call("DELETE", f"/routers/{router['id']}").status_code == 204
    wait_until(lambda: ns not in links.namespaces(ns), timeout=20)
    host = neutron.service.host_namespace("controller")
    assert host is not None

    def host_taps() -> set[str]:
        with links.iproute(host) as ipr:
            return set(links.link_names(ipr, "tap"))

    # the kernel destroys a deleted namespace's links a moment later, in its own worker
    wait_until(lambda: not (taps & host_taps()), timeout=10)


def test_the_agent_removes_its_routers_when_it_stops(
    neutron: NeutronCloud,
    internet: Internet,
) -> None:
    public = external_network(neutron)
    router = neutron.make("router", {"name": "r2", "external_gateway_info": {"network_id": public}})
    ns = router_ns(neutron, router["id"])
    gateway_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    wait_until(lambda: internet.pings(gateway_ip), timeout=20, every=0.1)
    neutron.service.stop_l3_agent()
    assert ns not in links.namespaces(ns)
    out = subprocess.run(["ip", "netns"], capture_output=True, text=True, check=False).stdout
    assert "qrouter-" + router["id"] not in out


def test_the_next_agent_picks_up_a_crashed_ones_routers(
    neutron: NeutronCloud,
    internet: Internet,
) -> None:
    """A crash leaves the routers' namespaces; the next agent's resync at start keeps the
    routers the server still has and removes the one deleted while no agent ran."""
    public = external_network(neutron)
    gateway = {"external_gateway_info": {"network_id": public}}
    keep = neutron.make("router", {"name": "keep"} | gateway)
    drop = neutron.make("router", {"name": "drop"} | gateway)
    for router in (keep, drop):
        address = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        wait_until(lambda a=address: internet.pings(a), timeout=20, every=0.1)
    crashed = neutron.service.l3_agent
    assert crashed is not None
    neutron.service.stop_l3_agent(cleanup=False)
    assert {keep["id"], drop["id"]} <= crashed.driver.routers()
    assert neutron.call("DELETE", f"/routers/{drop['id']}").status_code == 204

    agent = neutron.service.start_l3_agent()  # a new one, over the namespaces left behind
    gone = router_ns(neutron, drop["id"])
    wait_until(lambda: gone not in links.namespaces(gone), timeout=20)
    assert agent.driver.routers() == {keep["id"]}
    assert internet.pings(keep["external_gateway_info"]["external_fixed_ips"][0]["ip_address"])
