"""IPv6 meets the security groups too, as root: every guest has a link-local address from
the kernel, and without the ip6tables half of the firewall any guest reached any other over
it, whatever their groups. All traffic stays inside namespaces these tests create."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from labcloud.netns import procs
from labcloud.network.agents.firewall import link_local
from labcloud.network.agents.netfilter import PACKAGES
from tests.conftest import require
from tests.integration.network.harness import NeutronCloud, wait_until
from tests.system.conftest import Guests
from tests.system.test_flows_cut import pinging
from tests.system.test_security_groups import boot, group, rule


@pytest.fixture(autouse=True)
def iptables() -> None:
    for tool, package in PACKAGES.items():
        require(shutil.which(tool) is not None, f"{tool} is not installed (Debian: {package})")


def lla(port: dict[str, Any]) -> str:
    """The guest's link-local address, with its zone (the kernel's, from its MAC)."""
    return f"{link_local(port['mac_address'])}%eth0"


def settled(guests: Guests, *names: str) -> None:
    """Wait until the guests' link-local addresses passed duplicate address detection: a
    tentative one sends nothing, and a ping from it would fail whatever the firewall."""

    def done(name: str) -> bool:
        argv = ["ip", "-6", "addr", "show", "dev", "eth0", "scope", "link"]
        shown = procs.check(guests.ns(name), argv)
        return "inet6" in shown and "tentative" not in shown

    wait_until(lambda: all(done(n) for n in names), timeout=10, every=0.1)


def v6_of(port: dict[str, Any]) -> str:
    return next(ip["ip_address"] for ip in port["fixed_ips"] if ":" in ip["ip_address"])


def ping6(guests: Guests, name: str, address: str) -> bool:
    argv = ["ping", "-6", "-c", "1", "-W", "1", address]
    return procs.run(guests.ns(name), argv).returncode == 0


def page6(guests: Guests, name: str, address: str) -> str:
    """The guest's web page over IPv6 (busybox httpd listens on ``::``, both families)."""
    url = f"http://[{address.replace('%', '%25')}]/"
    return procs.run(guests.ns(name), ["curl", "-s", "-g", "-m", "2", url]).stdout.strip()


def configure(guests: Guests, name: str, port: dict[str, Any]) -> None:
    """The guest's IPv6 fixed address, set by hand (labcloud's IPv6 subnets have no RA
    and no DHCPv6: a guest with config drive sets it so)."""
    argv = ["ip", "-6", "addr", "add", f"{v6_of(port)}/64", "dev", "eth0", "nodad"]
    procs.check(guests.ns(name), argv)


def v6_network(neutron: NeutronCloud, v4: str, v6: str) -> str:
    net_id, _ = neutron.network(v4)
    body = {"network_id": net_id, "cidr": v6, "ip_version": 6, "enable_dhcp": False}
    neutron.make("subnet", body)
    return net_id


def test_ipv6_reaches_what_the_groups_allow(neutron: NeutronCloud, guests: Guests) -> None:
    net_id = v6_network(neutron, "10.73.0.0/24", "2001:db8:73::/64")
    vm1 = boot(guests, "vm1", "compute1", net_id)
    vm2 = boot(guests, "vm2", "compute2", net_id)
    other = boot(guests, "other", "compute1", net_id, security_groups=[group(neutron, "g")])
    for name, port in (("vm1", vm1), ("vm2", vm2)):
        configure(guests, name, port)
    # the default group lets its members in by their IPv6 addresses (its IPv6 rules)
    wait_until(lambda: ping6(guests, "vm1", v6_of(vm2)), timeout=15, every=0.1)
    assert ping6(guests, "vm2", v6_of(vm1))
    wait_until(lambda: page6(guests, "vm2", v6_of(vm1)) == "vm1", timeout=15, every=0.1)
    settled(guests, "vm1", "vm2", "other")
    # another group's guest reaches neither over its link-local address, nor they it
    assert not ping6(guests, "other", lla(vm1))
    assert page6(guests, "other", lla(vm1)) == ""
    assert not ping6(guests, "vm2", lla(other))
    assert page6(guests, "vm2", lla(other)) == ""


def test_a_group_rule_opens_ipv6_and_its_removal_closes_it(
    neutron: NeutronCloud, guests: Guests
) -> None:
    net_id, _ = neutron.network("10.74.0.0/24")
    locked = group(neutron, "locked")
    boot(guests, "client", "compute1", net_id)
    web = boot(guests, "web", "compute2", net_id, security_groups=[locked])
    settled(guests, "client", "web")
    assert not ping6(guests, "client", lla(web))
    allow = rule(neutron, locked, ethertype="IPv6", protocol="icmp")
    wait_until(lambda: ping6(guests, "client", lla(web)), timeout=15, every=0.1)
    assert page6(guests, "client", lla(web)) == ""  # ICMPv6 only: no HTTP
    assert neutron.call("DELETE", f"/security-group-rules/{allow}").status_code == 204
    wait_until(lambda: not ping6(guests, "client", lla(web)), timeout=15, every=0.1)


def test_a_spoofed_ipv6_source_reaches_no_one(neutron: NeutronCloud, guests: Guests) -> None:
    net_id, _ = neutron.network("10.75.0.0/24")
    open_ = group(neutron, "open")
    rule(neutron, open_, ethertype="IPv6")  # anything in, from anywhere
    boot(guests, "liar", "compute1", net_id, security_groups=[open_])
    target = boot(guests, "target", "compute2", net_id, security_groups=[open_])
    wait_until(lambda: ping6(guests, "liar", lla(target)), timeout=15, every=0.1)
    # the liar takes another link-local address (not its MAC's) and tries again
    ns = guests.ns("liar")
    procs.check(ns, ["ip", "-6", "addr", "flush", "dev", "eth0", "scope", "link"])
    procs.check(ns, ["ip", "-6", "addr", "add", "fe80::bad/64", "dev", "eth0", "nodad"])
    assert not ping6(guests, "liar", lla(target))
    assert page6(guests, "liar", lla(target)) == ""


LISTEN = """
import socket, sys, time
sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
sock.settimeout(0.2)
end, seen = time.monotonic() + float(sys.argv[2]), set()
while time.monotonic() < end:
    try:
        data, (source, *_) = sock.recvfrom(2048)
    except TimeoutError:
        continue
    if source.split("%")[0] == sys.argv[1]:
        seen.add(data[0])
print(" ".join(str(t) for t in sorted(seen)), flush=True)
"""
SEND = """
import socket, sys, time
sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
all_nodes = ("ff02::1", 0, 0, socket.if_nametoindex("eth0"))
for n in range(10):  # an advertisement, then an echo request (the kernel sums them)
    sock.sendto(bytes([134, 0, 0, 0, 64, 0, 7, 8]) + bytes(8), all_nodes)
    sock.sendto(bytes([128, 0, 0, 0, 0, 1, 0, n]), all_nodes)
    time.sleep(0.2)
"""


def test_a_guest_router_advertisement_is_dropped(
    neutron: NeutronCloud, guests: Guests, tmp_path: Path
) -> None:
    net_id, _ = neutron.network("10.76.0.0/24")
    open_ = group(neutron, "open")
    rule(neutron, open_, ethertype="IPv6")  # anything in, from anywhere
    rogue = boot(guests, "rogue", "compute1", net_id, security_groups=[open_])
    boot(guests, "victim", "compute2", net_id, security_groups=[open_])
    settled(guests, "rogue", "victim")
    log = tmp_path / "heard"
    listener = procs.start(
        guests.ns("victim"),
        [sys.executable, "-c", LISTEN, link_local(rogue["mac_address"]), "4"],
        log=log,
    )
    try:
        procs.check(guests.ns("rogue"), [sys.executable, "-c", SEND])
        listener.wait(timeout=10)
    finally:
        procs.stop(listener)
    # the echo requests get through (the group lets everything in), the advertisements not;
    # the rogue's neighbour advertisements (136), answering the victim's solicitations when
    # it replies, are allowed ND and may be heard too
    heard = log.read_text().split()
    assert "128" in heard, heard
    assert "134" not in heard, heard


def test_a_deleted_ipv6_rule_cuts_its_flow(
    neutron: NeutronCloud, guests: Guests, tmp_path: Path
) -> None:
    """conntrack's IPv6 entries are cut as its IPv4 ones (``conntrack -D -f ipv6``)."""
    net_id, _ = neutron.network("10.79.0.0/24")
    locked = group(neutron, "locked")
    boot(guests, "client", "compute1", net_id)
    web = boot(guests, "web", "compute2", net_id, security_groups=[locked])
    allow = rule(neutron, locked, ethertype="IPv6", protocol="icmp")
    wait_until(lambda: ping6(guests, "client", lla(web)), timeout=15, every=0.1)
    with pinging(guests, "client", lla(web), tmp_path / "client.ping") as pings:
        wait_until(lambda: pings.count() >= 3, timeout=10)
        assert neutron.call("DELETE", f"/security-group-rules/{allow}").status_code == 204
        # without the cut, conntrack would let its echo requests in for as long as they come
        wait_until(lambda: pings.silent_for(1.5), timeout=15, every=0.2)
