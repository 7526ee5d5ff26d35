"""A remote group as an ipset, as root (neutron's ``enable_ipset``): the default group's
"ingress from its members" is one ``--match-set`` rule in each port's chain, and a member
coming or going changes the set in the host's namespace, not the chain. The chain not
being rewritten is seen by its rule's packet counter: a restore that named the chain
would flush it and start the counter again from 0. All traffic stays inside namespaces
these tests create, gone after each test."""

from __future__ import annotations

import re

from labcloud.netns import procs
from labcloud.network.agents.ipset import set_name
from tests.integration.network.harness import NeutronCloud, wait_until
from tests.system.conftest import Guests, ip_of
from tests.system.test_security_groups import WRAP, boot, group, iptables

__all__ = ["iptables"]  # the tools fixture, autouse here too


def run(neutron: NeutronCloud, host: str, argv: list[str]) -> str:
    ns = neutron.service.host_namespace(host)
    assert ns is not None
    return procs.run(ns, argv).stdout


def members(neutron: NeutronCloud, host: str, name: str) -> set[str]:
    """The addresses in set ``name`` in ``host``'s namespace."""
    listing = run(neutron, host, ["ipset", "list", name])
    return set(listing.partition("Members:")[2].split())


def set_rule(neutron: NeutronCloud, host: str, chain: str, name: str) -> tuple[int, str]:
    """(packets, rule) of the chain's one rule matching set ``name``."""
    listing = run(neutron, host, ["iptables", "-L", chain, "-n", "-v", "-x"])
    found = [line for line in listing.splitlines() if f"match-set {name} src" in line]
    assert len(found) == 1, listing
    return int(found[0].split()[0]), found[0].split(None, 2)[2]


def test_members_come_and_go_in_the_set_not_in_the_chain(
    neutron: NeutronCloud, guests: Guests
) -> None:
    net_id, _ = neutron.network("10.79.0.0/24")
    vm1 = boot(guests, "vm1", "compute1", net_id)
    vm2 = boot(guests, "vm2", "compute2", net_id)
    default = vm1["security_groups"][0]
    name = set_name(default, "IPv4")
    chain = f"{WRAP}i{vm1['id'][:10]}"
    rules = run(neutron, "compute1", ["iptables", "-S", chain])
    assert f"-m set --match-set {name} src" in rules
    assert f"-s {ip_of(vm2)}/32" not in rules  # no rule per member
    wait_until(lambda: guests.pings("vm2", ip_of(vm1)), timeout=15, every=0.1)
    assert members(neutron, "compute1", name) == {ip_of(vm1), ip_of(vm2)}
    packets, _ = set_rule(neutron, "compute1", chain, name)
    assert packets >= 1  # vm2's ping came in by the set

    vm3 = boot(guests, "vm3", "compute2", net_id)  # a member joins
    wait_until(lambda: ip_of(vm3) in members(neutron, "compute1", name), timeout=15, every=0.1)
    wait_until(lambda: guests.pings("vm3", ip_of(vm1)), timeout=15, every=0.1)
    assert run(neutron, "compute1", ["iptables", "-S", chain]) == rules
    joined, _ = set_rule(neutron, "compute1", chain, name)
    assert joined > packets  # counted on: the chain was not rewritten

    own = group(neutron, "own")  # a member leaves: vm3 no longer gets in
    body = {"port": {"security_groups": [own]}}
    assert neutron.call("PUT", f"/ports/{vm3['id']}", body).status_code == 200
    wait_until(lambda: ip_of(vm3) not in members(neutron, "compute1", name), timeout=15)
    assert not guests.pings("vm3", ip_of(vm1))
    assert guests.pings("vm2", ip_of(vm1))
    assert run(neutron, "compute1", ["iptables", "-S", chain]) == rules
    left, _ = set_rule(neutron, "compute1", chain, name)
    assert left > joined

    guests.by_host["compute1"].destroy({"uuid": "vm1"})  # the set goes with its last port
    wait_until(lambda: name not in run(neutron, "compute1", ["ipset", "list", "-n"]), timeout=10)
    neutron.service.stop_l2_agent("compute2")  # an agent stopping takes its sets along
    assert not re.search(r"^NIPv", run(neutron, "compute2", ["ipset", "list", "-n"]), re.M)
