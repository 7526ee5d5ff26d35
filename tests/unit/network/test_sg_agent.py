"""SecurityGroupAgentRpc: security group notifications coalesce into at most one refresh
per interval, new ports are filtered at once, and nothing marked is lost."""

from __future__ import annotations

from typing import Any

import pytest

from labcloud.context import RequestContext
from labcloud.messaging import MessagingError, get_transport
from labcloud.network.agents.firewall import NoopFirewall
from labcloud.network.agents.linuxbridge import LinuxBridgeAgent
from labcloud.network.agents.sg_agent import SecurityGroupAgentRpc

CTXT = RequestContext(is_admin=True)


class Server:
    """security_group_info_for_devices as neutron-server answers it, for one group "web"."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def security_group_info_for_devices(
        self, ctxt: RequestContext, devices: list[str]
    ) -> dict[str, Any]:
        self.asked.append(list(devices))
        port = {"fixed_ips": ["10.0.0.3"], "security_groups": ["web"]}
        port |= {"security_group_source_groups": ["web"], "port_security_enabled": True}
        return {
            "devices": {d: port | {"id": d} for d in devices},
            "security_groups": {"web": []},
            "sg_member_ips": {},
        }


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def agent(interval: float = 2.0) -> tuple[SecurityGroupAgentRpc, Server, Clock]:
    server, clock = Server(), Clock()
    sg = SecurityGroupAgentRpc(server, NoopFirewall(), refresh_interval=interval, clock=clock)  # type: ignore[arg-type]
    return sg, server, clock


def test_member_updates_within_an_interval_cost_one_refresh() -> None:
    sg, server, clock = agent()
    sg.setup_port_filters(CTXT, ["tap1", "tap2"])
    sg.security_groups_member_updated(["web"])
    assert sg.refresh_due_in() == 0.0  # nothing refreshed yet: due at once
    assert sg.setup_port_filters(CTXT, ["tap3"]) == {"tap1", "tap2"}
    assert server.asked[-1] == ["tap1", "tap2", "tap3"]  # one call for new and marked
    for _ in range(5):  # five more ports join the group within the interval
        sg.security_groups_member_updated(["web"])
        assert sg.setup_port_filters(CTXT, []) == set()
    assert server.asked[-1] == ["tap1", "tap2", "tap3"]  # no refresh since
    assert sg.refresh_due_in() == 2.0
    clock.now += 2.0
    assert sg.setup_port_filters(CTXT, []) == {"tap1", "tap2", "tap3"}
    assert server.asked[-1] == ["tap1", "tap2", "tap3"]
    assert sg.refresh_due_in() is None  # nothing left marked
    assert len(server.asked) == 3


def test_new_ports_are_filtered_at_once_even_when_no_refresh_is_due() -> None:
    sg, server, clock = agent()
    sg.setup_port_filters(CTXT, ["tap1"])
    sg.security_groups_member_updated(["web"])
    sg.setup_port_filters(CTXT, [])  # the refresh: the next is 2 s away
    sg.security_groups_member_updated(["web"])
    sg.setup_port_filters(CTXT, ["tap2"])
    assert server.asked[-1] == ["tap2"]  # filtered now, without waiting for the refresh
    assert "tap2" in sg.firewall.ports()
    clock.now += 2.0
    assert sg.setup_port_filters(CTXT, []) == {"tap1"}  # tap1 still marked, tap2 fetched since


def test_a_marked_port_filtered_anew_needs_no_refresh() -> None:
    sg, server, clock = agent()
    sg.setup_port_filters(CTXT, ["tap1"])
    sg.security_groups_member_updated(["web"])
    sg.setup_port_filters(CTXT, [])
    sg.security_groups_rule_updated(["web"])
    sg.setup_port_filters(CTXT, ["tap1"])  # a port_update brings it back in a round
    assert sg.refresh_due_in() is None
    clock.now += 2.0
    assert sg.setup_port_filters(CTXT, []) == set()
    assert server.asked == [["tap1"], ["tap1"], ["tap1"]]  # no fourth: nothing was due


def test_without_an_interval_every_round_refreshes() -> None:
    sg, server, _ = agent(interval=0.0)
    sg.setup_port_filters(CTXT, ["tap1"])
    for _ in range(3):
        sg.security_groups_member_updated(["web"])
        assert sg.setup_port_filters(CTXT, []) == {"tap1"}
    assert len(server.asked) == 4


class OneRound:
    """The agent's wake event: records how long the loop would wait, and stops it there."""

    def __init__(self, agent: LinuxBridgeAgent) -> None:
        self.agent = agent
        self.waits: list[float] = []

    def clear(self) -> None:
        pass

    def set(self) -> None:
        pass

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        self.agent._stop.set()
        return False


@pytest.mark.parametrize("fails", [False, True])
def test_the_loop_wakes_for_a_due_refresh_only_after_a_round_that_worked(fails: bool) -> None:
    """A refresh due at once shortens the L2 agent's wait after a round that worked; a
    round that failed (the broker gone, say) waits the whole interval, not a busy loop."""
    transport = get_transport("memory://")
    agent = LinuxBridgeAgent(transport, "compute1", polling_interval=0.2)
    agent.sg.plugin = Server()  # type: ignore[assignment]
    agent.sg.setup_port_filters(CTXT, ["tap1"])
    agent.sg.security_groups_rule_updated(["web"])
    assert agent.sg.refresh_due_in() == 0.0
    wake = OneRound(agent)
    agent._wake = wake  # type: ignore[assignment]
    agent._next_report = float("inf")

    def scan() -> None:
        if fails:
            raise MessagingError("the broker is gone")

    agent.scan = scan  # type: ignore[method-assign]
    try:
        agent._loop()
    finally:
        transport.cleanup()
    assert wake.waits == [0.2 if fails else 0.0]


def test_a_device_filtered_from_the_same_inputs_is_not_filtered_again() -> None:
    """A refresh whose answer for a device is what it was filtered from (its port, its
    groups' rules, its remote groups' members) leaves its filter as it is; a change of
    any of them filters it anew; a removed device is filtered anew when it comes back."""
    sg, server, _ = agent(interval=0.0)
    handed: list[list[str]] = []
    prepare = sg.firewall.prepare_port_filters

    def recorded(ports: list[dict[str, Any]]) -> None:
        handed.append(sorted(p["device"] for p in ports))
        prepare(ports)

    sg.firewall.prepare_port_filters = recorded  # type: ignore[method-assign]
    sg.setup_port_filters(CTXT, ["tap1", "tap2"])
    sg.security_groups_member_updated(["web"])
    assert sg.setup_port_filters(CTXT, []) == {"tap1", "tap2"}
    assert handed == [["tap1", "tap2"], []]  # asked again, nothing changed
    answer = server.security_group_info_for_devices
    addresses = ["10.0.0.9"]

    def joined(ctxt: RequestContext, devices: list[str]) -> dict[str, Any]:
        rule = {"direction": "ingress", "ethertype": "IPv4", "remote_group_id": "web"}
        members = {"web": {"IPv4": list(addresses)}}  # a new answer's, as off the wire
        return answer(ctxt, devices) | {
            "security_groups": {"web": [rule]},
            "sg_member_ips": members,
        }

    server.security_group_info_for_devices = joined  # type: ignore[method-assign]
    sg.security_groups_member_updated(["web"])
    sg.setup_port_filters(CTXT, [])
    assert handed[-1] == ["tap1", "tap2"]  # a rule and a member: both anew
    sg.security_groups_member_updated(["web"])
    sg.setup_port_filters(CTXT, [])
    assert handed[-1] == []  # the same again
    addresses.append("10.0.0.10")
    sg.security_groups_member_updated(["web"])
    sg.setup_port_filters(CTXT, [])
    assert handed[-1] == ["tap1", "tap2"]  # a member joined: both anew
    rules = sg.firewall.ports()["tap1"]["security_group_rules"]
    assert {"direction": "ingress", "ethertype": "IPv4", "source_ip_prefix": "10.0.0.9/32"} in [
        {k: r[k] for k in ("direction", "ethertype", "source_ip_prefix") if k in r} for r in rules
    ]
    sg.remove_devices_filter(["tap2"])
    sg.security_groups_member_updated(["web"])
    assert sg.setup_port_filters(CTXT, ["tap2"]) == {"tap1"}
    assert handed[-1] == ["tap2"]  # back: filtered anew; tap1 unchanged


def test_notifications_wake_the_loop_only_when_this_agent_has_work() -> None:
    """Every L2 agent hears of every port and group change: another host's port, or a
    group change marking nothing new, leaves the loop asleep (its round would find
    nothing to do); this host's port, a tap it has, or a newly marked port wakes it."""
    transport = get_transport("memory://")
    agent = LinuxBridgeAgent(transport, "compute1", polling_interval=0.2)
    agent.sg.plugin = Server()  # type: ignore[assignment]
    try:
        agent.port_update(CTXT, {"id": "elsewhere-0000", "binding:host_id": "compute2"})
        assert not agent._wake.is_set()
        agent.port_update(CTXT, {"id": "mine-00000000", "binding:host_id": "compute1"})
        assert agent._wake.is_set()
        agent.known.add("tapmine-000000")  # as its round plugs it, filtered (group "web")
        agent.sg.setup_port_filters(CTXT, ["tapmine-000000"])
        agent._wake.clear()
        agent.port_update(CTXT, {"id": "mine-00000000", "binding:host_id": "compute2"})
        assert agent._wake.is_set()  # a tap it has: its round asks about it again
        agent._wake.clear()
        agent.security_groups_member_updated(CTXT, ["other"])
        assert not agent._wake.is_set()  # none of its ports is in that group
        agent.security_groups_member_updated(CTXT, ["web"])
        assert agent._wake.is_set()
        agent._wake.clear()
        agent.security_groups_member_updated(CTXT, ["web"])
        assert not agent._wake.is_set()  # marked already: its refresh is as due as it was
        assert agent.sg.refresh_due_in() == 0.0
    finally:
        transport.cleanup()
