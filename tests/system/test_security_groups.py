"""Security groups enforced on the datapath, as root: the L2 agents' iptables firewall in
each host's namespace lets in what the groups allow and nothing else, statefully. All
traffic stays inside namespaces these tests create (``lc-<tag>-``), gone after each test,
passed or failed (with the iptables rules in them)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from labcloud.netns import procs
from labcloud.network.agents.netfilter import PACKAGES
from tests.conftest import require
from tests.integration.network.harness import NeutronCloud, wait_until
from tests.system.conftest import Guests, ip_of

WRAP = "neutron-linuxbri-"


@pytest.fixture(autouse=True)
def iptables() -> None:
    """The firewall's tools, checked before the neutron fixture builds anything."""
    for tool, package in PACKAGES.items():
        require(shutil.which(tool) is not None, f"{tool} is not installed (Debian: {package})")


def boot(guests: Guests, name: str, host: str, net_id: str, **port: Any) -> dict[str, Any]:
    """A guest whose port is the project's (not nova's admin one), with ``port``'s attributes
    (security_groups ...), once it has its lease."""
    made = guests.boot(name, host, net_id, admin=False, **port)
    wait_until(lambda: guests.address(name) == ip_of(made), timeout=20, every=0.1)
    return made


def group(neutron: NeutronCloud, name: str) -> str:
    """A new group: it lets everything out and nothing in."""
    answer = neutron.call("POST", "/security-groups", {"security_group": {"name": name}})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["security_group"]["id"])


def rule(neutron: NeutronCloud, group_id: str, **body: Any) -> str:
    body = {"security_group_id": group_id, "direction": "ingress", "ethertype": "IPv4"} | body
    answer = neutron.call("POST", "/security-group-rules", {"security_group_rule": body})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["security_group_rule"]["id"])


def chains(neutron: NeutronCloud, host: str) -> set[str]:
    """The firewall's chains in ``host``'s namespace now."""
    ns = neutron.service.host_namespace(host)
    assert ns is not None
    saved = procs.run(ns, ["iptables-save", "-t", "filter"]).stdout
    return {line[1:].split()[0] for line in saved.splitlines() if line.startswith(":" + WRAP)}


def dhcp_address(neutron: NeutronCloud, net_id: str) -> str:
    ports = neutron.call("GET", f"/ports?network_id={net_id}", admin=True).json()["ports"]
    return next(ip_of(p) for p in ports if p["device_owner"] == "network:dhcp")


def test_the_default_group_lets_its_members_in(neutron: NeutronCloud, guests: Guests) -> None:
    net_id, _ = neutron.network("10.70.0.0/24")
    vm1 = boot(guests, "vm1", "compute1", net_id)
    vm2 = boot(guests, "vm2", "compute2", net_id)
    assert vm1["security_groups"] == vm2["security_groups"]  # the project's default
    wait_until(lambda: guests.pings("vm1", ip_of(vm2)), timeout=15, every=0.1)
    assert guests.pings("vm2", ip_of(vm1))
    # any protocol from a member (its web server may start just after the kernel answers ping)
    wait_until(lambda: guests.page("vm2", ip_of(vm1)) == "vm1", timeout=15, every=0.1)
    assert {WRAP + k + vm1["id"][:10] for k in "ios"} <= chains(neutron, "compute1")


def test_ingress_is_what_the_rules_allow_and_replies_come_back(
    neutron: NeutronCloud, guests: Guests
) -> None:
    net_id, _ = neutron.network("10.71.0.0/24")
    locked = group(neutron, "locked")
    boot(guests, "client", "compute1", net_id)
    web = boot(guests, "web", "compute2", net_id, security_groups=[locked])
    # filtered before it was plugged: not one ping gets through, from the first
    assert not guests.pings("client", ip_of(web))
    # its egress is open, and the answers come back in by conntrack (it has no ingress rule)
    assert guests.pings("web", dhcp_address(neutron, net_id))

    allow = rule(neutron, locked, protocol="icmp")
    wait_until(lambda: guests.pings("client", ip_of(web)), timeout=15, every=0.1)
    wait_until(lambda: guests.page("web", "127.0.0.1") == "web", timeout=10)  # it serves
    assert guests.page("client", ip_of(web)) == ""  # ICMP only: no HTTP

    assert neutron.call("DELETE", f"/security-group-rules/{allow}").status_code == 204
    wait_until(lambda: not guests.pings("client", ip_of(web)), timeout=15, every=0.1)


def test_a_tcp_rule_opens_its_port_only(
    neutron: NeutronCloud, guests: Guests, tmp_path: Path
) -> None:
    net_id, _ = neutron.network("10.72.0.0/24")
    locked = group(neutron, "web")
    boot(guests, "client", "compute1", net_id)
    web = boot(guests, "web", "compute2", net_id, security_groups=[locked])
    site = tmp_path / "8080"
    site.mkdir()
    (site / "index.html").write_text("web on 8080\n")
    procs.start(guests.ns("web"), ["busybox", "httpd", "-f", "-p", "8080", "-h", str(site)])

    def local(port: int) -> str:  # inside web itself: no bridge, no firewall
        url = f"http://127.0.0.1:{port}/"
        return procs.run(guests.ns("web"), ["curl", "-s", "-m", "2", url]).stdout.strip()

    wait_until(lambda: local(8080) == "web on 8080" and local(80) == "web", timeout=10)
    rule(neutron, locked, protocol="tcp", port_range_min=80, port_range_max=80)
    wait_until(lambda: guests.page("client", ip_of(web)) == "web", timeout=15, every=0.1)
    answer = procs.run(guests.ns("client"), ["curl", "-s", "-m", "2", f"http://{ip_of(web)}:8080/"])
    assert answer.stdout == ""
    assert answer.returncode == 28  # curl's timeout: the SYN was dropped, not refused
    assert not guests.pings("client", ip_of(web))


def test_a_new_member_is_let_in_and_rules_go_with_the_port(
    neutron: NeutronCloud, guests: Guests
) -> None:
    net_id, _ = neutron.network("10.73.0.0/24")
    vm1 = boot(guests, "vm1", "compute1", net_id)
    port_chains = {WRAP + k + vm1["id"][:10] for k in "ios"}
    assert port_chains <= chains(neutron, "compute1")
    boot(guests, "vm2", "compute2", net_id)  # vm1's filter learns vm2's address
    wait_until(lambda: guests.pings("vm2", ip_of(vm1)), timeout=15, every=0.1)

    guests.by_host["compute1"].destroy({"uuid": "vm1"})  # its tap goes: the agent unplugs it
    wait_until(lambda: not port_chains & chains(neutron, "compute1"), timeout=10)
    neutron.service.stop_l2_agent("compute2")  # an agent stopping takes its rules along
    assert chains(neutron, "compute2") == set()
    ns = neutron.service.host_namespace("compute2")
    assert ns is not None
    forward = procs.run(ns, ["iptables", "-S", "FORWARD"]).stdout
    assert WRAP not in forward


def test_a_port_without_port_security_is_not_filtered(
    neutron: NeutronCloud, guests: Guests
) -> None:
    net_id, _ = neutron.network("10.74.0.0/24")
    locked = group(neutron, "locked")
    boot(guests, "client", "compute1", net_id)
    web = boot(guests, "web", "compute2", net_id, security_groups=[locked])
    assert not guests.pings("client", ip_of(web))
    body = {"port": {"port_security_enabled": False, "security_groups": []}}
    answer = neutron.call("PUT", f"/ports/{web['id']}", body)
    assert answer.status_code == 200, answer.text
    wait_until(lambda: guests.pings("client", ip_of(web)), timeout=15, every=0.1)
    assert not {WRAP + k + web["id"][:10] for k in "ios"} & chains(neutron, "compute2")


def test_a_restarted_agent_with_no_port_left_still_sweeps(
    neutron: NeutronCloud, guests: Guests
) -> None:
    """neutron's first round applies the firewall even with nothing to filter: the rules of
    a port deleted while no agent ran go, though the host has no port left."""
    net_id, _ = neutron.network("10.76.0.0/24")
    vm1 = boot(guests, "vm1", "compute1", net_id)
    gone = {WRAP + k + vm1["id"][:10] for k in "ios"}
    neutron.service.stop_l2_agent("compute1", cleanup=False)  # as if it crashed
    assert gone <= chains(neutron, "compute1")
    guests.by_host["compute1"].destroy({"uuid": "vm1"})
    neutron.service.start_l2_agent("compute1")
    wait_until(lambda: not gone & chains(neutron, "compute1"), timeout=10)


def test_a_restarted_agent_removes_what_a_crashed_one_left(
    neutron: NeutronCloud, guests: Guests
) -> None:
    net_id, _ = neutron.network("10.75.0.0/24")
    vm1 = boot(guests, "vm1", "compute1", net_id)
    vm2 = boot(guests, "vm2", "compute1", net_id)
    gone, kept = ({WRAP + k + vm["id"][:10] for k in "ios"} for vm in (vm1, vm2))
    neutron.service.stop_l2_agent("compute1", cleanup=False)  # as if it crashed
    assert gone | kept <= chains(neutron, "compute1")  # its rules outlive it
    guests.by_host["compute1"].destroy({"uuid": "vm1"})  # while no agent watched
    neutron.service.start_l2_agent("compute1")
    wait_until(lambda: not gone & chains(neutron, "compute1"), timeout=10)
    assert kept <= chains(neutron, "compute1")
    dhcp = dhcp_address(neutron, net_id)
    wait_until(lambda: guests.pings("vm2", dhcp), timeout=10, every=0.1)
