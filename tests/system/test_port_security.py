"""Port security, as root: a guest sends only from its own MAC and addresses, its ARP
packets cannot poison a neighbour's cache and a DHCP server it runs answers no one (the
iptables firewall's spoof chains, ebtables' MAC and ARP chains); with port security off,
each of these goes through, so every check here can fail. All traffic stays inside
namespaces these tests create, gone after each test, passed or failed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from labcloud.netns import links, procs
from tests.integration.network.harness import NeutronCloud, wait_until
from tests.system.conftest import Guests, ip_of
from tests.system.test_security_groups import boot, group, iptables, rule

__all__ = ["iptables"]  # the tools fixture, autouse here too
STRANGER_MAC = "fa:16:3e:de:ad:01"


def open_group(neutron: NeutronCloud) -> str:
    """Everything in and out: what stops a spoofed packet here is port security alone."""
    made = group(neutron, "open")
    rule(neutron, made)
    return made


def sh(guests: Guests, name: str, command: str) -> str:
    answer = procs.run(guests.ns(name), ["sh", "-c", command])
    assert answer.returncode == 0, f"{command}: {answer.stderr}"
    return answer.stdout


def reaches(guests: Guests, spy: str, target: str, target_ip: str, **disguise: str) -> bool:
    """Does ``spy`` ping ``target`` from another ``address`` (with its prefix) or ``mac``?
    Both ARP caches are flushed first, so nothing learnt before helps; the spy is itself
    again after."""
    own = sh(guests, spy, "ip -4 -o addr show dev eth0").split()[3]
    own_mac = mac_of(guests, spy)
    try:
        if "address" in disguise:
            sh(guests, spy, f"ip addr flush dev eth0 && ip addr add {disguise['address']} dev eth0")
        if "mac" in disguise:
            sh(guests, spy, f"ip link set eth0 address {disguise['mac']}")
        forget(guests, spy, target)
        return guests.pings(spy, target_ip)
    finally:
        sh(guests, spy, f"ip link set eth0 address {own_mac}")
        sh(guests, spy, f"ip addr flush dev eth0 && ip addr add {own} dev eth0")
        forget(guests, spy, target)


def mac_of(guests: Guests, name: str) -> str:
    """The guest's MAC (``ip``, not /sys: nsenter leaves the host's sysfs mounted)."""
    return sh(guests, name, "ip -o link show dev eth0").split("link/ether ")[1].split()[0]


def forget(guests: Guests, *names: str) -> None:
    """Empty the guests' ARP caches."""
    for name in names:
        sh(guests, name, "ip neigh flush dev eth0")


def poisons(guests: Guests, spy: str, victim: str, ip: str) -> bool:
    """``spy`` announces ``ip`` (a neighbour's) as its own, gratuitous ARP: does
    ``victim``'s cache, which knew the true owner, take the spy's MAC?"""
    spy_mac = mac_of(guests, spy)
    sh(guests, spy, f"ip addr add {ip}/32 dev eth0")  # busybox arping sends from its own
    try:
        sh(guests, spy, f"busybox arping -U -c 2 -I eth0 -s {ip} {ip}")
    finally:
        sh(guests, spy, f"ip addr del {ip}/32 dev eth0")
    entry = sh(guests, victim, f"ip neigh show {ip} dev eth0")
    return f"lladdr {spy_mac} " in entry


def arp_drops(neutron: NeutronCloud, host: str, port: dict[str, Any]) -> int:
    """Packets the port's ARP chain dropped at the bridge."""
    ns = neutron.service.host_namespace(host)
    assert ns is not None
    tap = links.tap_name(port["id"])
    listed = procs.run(ns, ["ebtables", "-t", "nat", "-L", f"neutronARP-{tap}", "--Lc"]).stdout
    drops = re.findall(r"^-j DROP , pcnt = (\d+)", listed, re.M)
    return int(drops[0]) if drops else 0


def test_a_guest_sends_only_as_itself(neutron: NeutronCloud, guests: Guests) -> None:
    net_id, _ = neutron.network("10.80.0.0/24")
    opened = open_group(neutron)
    vm1 = boot(guests, "vm1", "compute1", net_id, security_groups=[opened])
    vm2 = boot(guests, "vm2", "compute1", net_id, security_groups=[opened])
    spy = boot(guests, "spy", "compute2", net_id, security_groups=[opened])
    wait_until(lambda: guests.pings("spy", ip_of(vm1)), timeout=15, every=0.1)
    assert not reaches(guests, "spy", "vm1", ip_of(vm1), address="10.80.0.200/24")
    assert not reaches(guests, "spy", "vm1", ip_of(vm1), mac=STRANGER_MAC)
    wait_until(lambda: guests.pings("spy", ip_of(vm1)), timeout=5)  # as itself, it does
    assert guests.pings("vm1", ip_of(vm2))  # vm1 knows vm2's MAC ...
    assert not poisons(guests, "spy", "vm1", ip_of(vm2))  # ... and keeps it
    assert arp_drops(neutron, "compute2", spy) >= 2  # dropped at the spy's bridge
    assert guests.pings("vm1", ip_of(vm2))


def test_a_guests_dhcp_server_answers_no_one(
    neutron: NeutronCloud, guests: Guests, tmp_path: Path
) -> None:
    """On a network without neutron's DHCP, a guest's server alone could answer."""
    made = neutron.make("network", {"name": "flat"})
    body = {"network_id": made["id"], "cidr": "10.81.0.0/24", "enable_dhcp": False}
    neutron.make("subnet", body)
    opened = open_group(neutron)
    rogue = boot(guests, "rogue", "compute1", made["id"], security_groups=[opened])
    boot(guests, "client", "compute2", made["id"], security_groups=[opened])
    conf = tmp_path / "udhcpd.conf"
    conf.write_text(
        "interface eth0\nstart 10.81.0.150\nend 10.81.0.160\nmax_leases 10\n"
        f"lease_file {tmp_path}/udhcpd.leases\npidfile {tmp_path}/udhcpd.pid\n"
        "option subnet 255.255.255.0\n"
    )
    server = procs.start(guests.ns("rogue"), ["busybox", "udhcpd", "-f", str(conf)])
    lease = ["busybox", "udhcpc", "-n", "-q", "-B", "-t", "3", "-T", "1", "-i", "eth0"]
    lease += ["-s", "/bin/true"]
    try:
        assert procs.run(guests.ns("client"), lease, timeout=20).returncode != 0  # no offer
        off = {"port": {"port_security_enabled": False, "security_groups": []}}
        assert neutron.call("PUT", f"/ports/{rogue['id']}", off).status_code == 200
        wait_until(
            lambda: procs.run(guests.ns("client"), lease, timeout=20).returncode == 0, timeout=30
        )
    finally:
        procs.stop(server)


def test_without_port_security_a_guest_may_send_as_anyone(
    neutron: NeutronCloud, guests: Guests
) -> None:
    net_id, _ = neutron.network("10.82.0.0/24")
    opened = open_group(neutron)
    vm1 = boot(guests, "vm1", "compute1", net_id, security_groups=[opened])
    vm2 = boot(guests, "vm2", "compute1", net_id, security_groups=[opened])
    unchecked = {"port_security_enabled": False, "security_groups": []}
    boot(guests, "spy", "compute2", net_id, **unchecked)
    wait_until(lambda: guests.pings("spy", ip_of(vm1)), timeout=15, every=0.1)
    assert reaches(guests, "spy", "vm1", ip_of(vm1), address="10.82.0.200/24")
    assert reaches(guests, "spy", "vm1", ip_of(vm1), mac=STRANGER_MAC)
    assert guests.pings("vm1", ip_of(vm2))
    wait_until(lambda: poisons(guests, "spy", "vm1", ip_of(vm2)), timeout=10)
