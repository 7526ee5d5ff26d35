"""A flow a security group rule let in stops when the rule goes, as root: the L2 agent cuts
its conntrack entry (neutron's IpConntrackManager), which a stateful firewall would
otherwise keep passing for as long as the flow talks. Flows other rules allow keep their
entries. All traffic stays inside namespaces these tests create, gone after each test."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from labcloud.netns import procs
from tests.integration.network.harness import NeutronCloud, wait_until
from tests.system.conftest import Guests, ip_of
from tests.system.test_security_groups import boot, group, iptables, rule

__all__ = ["iptables"]  # the tools fixture, autouse here too


class Pings:
    """``ping -i 0.2`` from a guest, running: its replies, as they come."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def times(self) -> list[float]:
        text = self.log.read_text() if self.log.exists() else ""
        return [float(t) for t in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", text, re.M)]

    def count(self) -> int:
        return len(self.times())

    def silent_for(self, seconds: float) -> bool:
        """No reply for ``seconds`` (the replies stopped)."""
        times = self.times()
        return bool(times) and time.time() - times[-1] > seconds


@contextmanager
def pinging(guests: Guests, name: str, ip: str, log: Path) -> Iterator[Pings]:
    proc = procs.start(guests.ns(name), ["ping", "-D", "-i", "0.2", "-W", "1", ip], log=log)
    try:
        yield Pings(log)
    finally:
        procs.stop(proc)


def flow_ids(neutron: NeutronCloud, host: str, src: str, dst: str) -> list[str]:
    """conntrack's ids of the ICMP flows from ``src`` to ``dst`` in ``host``'s namespace."""
    ns = neutron.service.host_namespace(host)
    assert ns is not None
    argv = ["conntrack", "-L", "-p", "icmp", "-s", src, "-d", dst, "-o", "id"]
    return re.findall(r" id=(\d+)$", procs.run(ns, argv).stdout, re.M)


def test_a_deleted_rule_cuts_its_flow_and_no_other(
    neutron: NeutronCloud, guests: Guests, tmp_path: Path
) -> None:
    net_id, _ = neutron.network("10.77.0.0/24")
    locked = group(neutron, "locked")
    a = boot(guests, "a", "compute1", net_id)
    b = boot(guests, "b", "compute1", net_id)
    web = boot(guests, "web", "compute2", net_id, security_groups=[locked])
    from_a = rule(neutron, locked, protocol="icmp", remote_ip_prefix=f"{ip_of(a)}/32")
    rule(neutron, locked, protocol="icmp", remote_ip_prefix=f"{ip_of(b)}/32")
    wait_until(lambda: guests.pings("a", ip_of(web)), timeout=15, every=0.1)
    wait_until(lambda: guests.pings("b", ip_of(web)), timeout=15, every=0.1)
    with (
        pinging(guests, "a", ip_of(web), tmp_path / "a.ping") as pings_a,
        pinging(guests, "b", ip_of(web), tmp_path / "b.ping") as pings_b,
    ):
        wait_until(lambda: pings_a.count() >= 3 and pings_b.count() >= 3, timeout=10)
        b_flows = set(flow_ids(neutron, "compute2", ip_of(b), ip_of(web)))
        assert b_flows  # its ping's (and the checks' before, while they last)
        assert neutron.call("DELETE", f"/security-group-rules/{from_a}").status_code == 204
        # without the cut, conntrack would let a's echo requests in for as long as they come
        wait_until(lambda: pings_a.silent_for(1.5), timeout=15, every=0.2)
        stopped_at = pings_a.count()
        seen = pings_b.count()
        wait_until(lambda: pings_b.count() >= seen + 5, timeout=5)  # b's goes on ...
        assert b_flows <= set(flow_ids(neutron, "compute2", ip_of(b), ip_of(web)))  # uncut
        assert pings_a.count() == stopped_at
    assert not guests.pings("a", ip_of(web))  # and a new flow from a is not let in either


def test_a_member_leaving_the_group_loses_the_flows_its_membership_let_in(
    neutron: NeutronCloud, guests: Guests, tmp_path: Path
) -> None:
    """The default group lets its members in; vm2 leaves it for a group of its own: vm1's
    agent learns its address is no member any more and cuts vm2's flows into vm1."""
    net_id, _ = neutron.network("10.78.0.0/24")
    vm1 = boot(guests, "vm1", "compute1", net_id)
    vm2 = boot(guests, "vm2", "compute2", net_id)
    wait_until(lambda: guests.pings("vm2", ip_of(vm1)), timeout=15, every=0.1)
    with pinging(guests, "vm2", ip_of(vm1), tmp_path / "vm2.ping") as pings:
        wait_until(lambda: pings.count() >= 3, timeout=10)
        own = group(neutron, "own")  # lets everything out, nothing in
        body = {"port": {"security_groups": [own]}}
        assert neutron.call("PUT", f"/ports/{vm2['id']}", body).status_code == 200
        wait_until(lambda: pings.silent_for(1.5), timeout=15, every=0.2)
        assert flow_ids(neutron, "compute1", ip_of(vm2), ip_of(vm1)) == []
