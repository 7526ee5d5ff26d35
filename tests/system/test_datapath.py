"""The real datapath, as root: neutron's agents build Linux bridges, VXLAN and dnsmasq in
namespaces, and the fake hypervisor's guests (namespaces too) get their addresses by DHCP
and ping each other. All traffic stays inside namespaces these tests create (``lc-<tag>-``),
and every one of them is gone after each test, passed or failed."""

from __future__ import annotations

from typing import Any

import pytest

from labcloud.netns import links, procs
from tests.integration.network.harness import NeutronCloud, wait_until
from tests.system.conftest import Guests, ip_of


def eventually_pings(guests: Guests, name: str, ip: str) -> None:
    wait_until(lambda: guests.pings(name, ip), timeout=15, every=0.1)


def eventually_serves(guests: Guests, name: str, ip: str, page: str) -> None:
    """``name`` gets ``page`` from ``ip``: the guest's web server may start a little after
    the kernel answers ping (a wrong page never turns into the right one: it times out)."""
    wait_until(lambda: guests.page(name, ip) == page, timeout=15, every=0.1)


def test_dhcp_leases_are_the_ipam_reservations_and_instances_ping(
    neutron: NeutronCloud, guests: Guests
) -> None:
    net_id, _ = neutron.network("10.40.0.0/24")
    vm1 = guests.boot("vm1", "compute1", net_id)
    vm2 = guests.boot("vm2", "compute2", net_id)
    wait_until(lambda: guests.address("vm1") == ip_of(vm1), timeout=20, every=0.1)
    wait_until(lambda: guests.address("vm2") == ip_of(vm2), timeout=20, every=0.1)
    agent = neutron.service.dhcp_agent
    assert agent is not None
    expected = {(vm1["mac_address"], ip_of(vm1)), (vm2["mac_address"], ip_of(vm2))}

    def leases() -> set[tuple[str, str]]:
        return {(lease.mac, lease.ip) for lease in agent.driver.leases(net_id)}

    # dnsmasq writes its lease file a moment after the ACK the guest acted on
    wait_until(lambda: leases() == expected, timeout=10, every=0.1)
    assert leases() == expected
    eventually_pings(guests, "vm1", ip_of(vm2))  # across hosts: VXLAN over the data network
    eventually_serves(guests, "vm1", ip_of(vm2), "vm2")
    bridge = "brq" + net_id[:11]
    with links.iproute(neutron.service.host_namespace("compute1")) as ipr:
        ports = links.bridge_ports(ipr, bridge)
    assert ports == sorted(
        [
            "tap" + vm1["id"][:11],
            f"vxlan-{neutron.service.manager.segment(net_id)['segmentation_id']}",
        ]
    )


def test_a_paused_guest_is_plugged_but_asks_dhcp_only_once_it_boots(
    neutron: NeutronCloud, guests: Guests
) -> None:
    """nova-compute's wait for network-vif-plugged: the L2 agent plugs the paused guest's
    tap (its port goes ACTIVE), and nothing runs in the guest until it boots."""
    net_id, _ = neutron.network("10.44.0.0/24")
    port = guests.boot("vm1", "compute1", net_id, paused=True)  # returns once ACTIVE
    assert procs.pids_in(guests.ns("vm1")) == []  # no DHCP client, no web page
    assert guests.address("vm1") is None
    guests.by_host["compute1"].boot({"uuid": "vm1"})
    wait_until(lambda: guests.address("vm1") == ip_of(port), timeout=20, every=0.1)
    assert procs.pids_in(guests.ns("vm1"))  # udhcpc and httpd run now


def test_two_projects_with_the_same_cidr_do_not_meet(neutron: NeutronCloud, guests: Guests) -> None:
    blue, _ = neutron.network("10.50.0.0/24")
    red, _ = neutron.network("10.50.0.0/24", admin=True)
    guests.boot("blue1", "compute1", blue, "10.50.0.10")
    guests.boot("blue2", "compute2", blue, "10.50.0.12")
    guests.boot("red1", "compute1", red, "10.50.0.11")
    guests.boot("red2", "compute2", red, "10.50.0.10")  # the same address as blue1
    eventually_pings(guests, "blue1", "10.50.0.12")
    eventually_pings(guests, "red1", "10.50.0.10")
    eventually_serves(guests, "red1", "10.50.0.10", "red2")  # its own network's .10, not blue1
    eventually_serves(guests, "blue2", "10.50.0.10", "blue1")
    assert not guests.pings("blue1", "10.50.0.11")  # red1: on another network


@pytest.mark.parametrize(
    ("network", "cidr"),
    [
        ({"provider:network_type": "vlan", "provider:segmentation_id": 101}, "10.60.0.0/24"),
        (
            {"provider:network_type": "flat", "provider:physical_network": "physnet1"},
            "10.61.0.0/24",
        ),
    ],
    ids=["vlan", "flat"],
)
def test_provider_networks_between_two_hosts(
    neutron: NeutronCloud, guests: Guests, network: dict[str, Any], cidr: str
) -> None:
    net_id, _ = neutron.network(cidr, admin=True, **network)
    vm1 = guests.boot("p1", "compute1", net_id)
    vm2 = guests.boot("p2", "compute2", net_id)
    wait_until(lambda: guests.address("p1") == ip_of(vm1), timeout=20, every=0.1)
    wait_until(lambda: guests.address("p2") == ip_of(vm2), timeout=20, every=0.1)
    eventually_pings(guests, "p1", ip_of(vm2))
    with links.iproute(neutron.service.host_namespace("compute1")) as ipr:
        ports = links.bridge_ports(ipr, "brq" + net_id[:11])
    # flat: the host's physical interface is in the bridge; vlan without 8021q: VNI = VLAN id
    assert ("phy0" if network["provider:network_type"] == "flat" else "vxlan-101") in ports


def test_flat_without_dhcp_injects_the_address(neutron: NeutronCloud, guests: Guests) -> None:
    made = neutron.make("network", {"name": "flat", "provider:network_type": "flat"}, admin=True)
    neutron.make(
        "subnet",
        {"network_id": made["id"], "cidr": "10.62.0.0/24", "enable_dhcp": False},
        admin=True,
    )
    vm1 = guests.boot("f1", "compute1", made["id"])
    vm2 = guests.boot("f2", "compute2", made["id"])
    assert guests.address("f1") == ip_of(vm1)  # at once: no DHCP exchange
    assert not any(ns.startswith(neutron.service.fabric.ns("qdhcp-")) for ns in links.namespaces())  # type: ignore[union-attr]
    eventually_pings(guests, "f1", ip_of(vm2))
