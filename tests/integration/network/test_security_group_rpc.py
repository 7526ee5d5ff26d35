"""Security groups over neutron's RPC, with the no-op datapath and firewall: what the
server answers ``security_group_rules_for_devices``, and each L2 agent's firewall kept in
step by the server's security_group notifications."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labcloud.context import RequestContext
from labcloud.netns.links import tap_name
from labcloud.trace.events import MessageEvent
from tests.conftest import Keystone
from tests.integration.network.harness import NeutronCloud, wait_until


@pytest.fixture
def neutron(keystone: Keystone) -> Iterator[NeutronCloud]:
    cloud = NeutronCloud(keystone, ["compute1", "compute2"], polling_interval=0.1)
    yield cloud
    cloud.stop()


def boot(neutron: NeutronCloud, net_id: str, host: str, **body: Any) -> dict[str, Any]:
    made = neutron.make(
        "port", {"network_id": net_id, "device_id": "vm", "binding:host_id": host} | body
    )
    neutron.wait_port(made["id"], "ACTIVE")
    return made


def filtered(neutron: NeutronCloud, host: str, port: dict[str, Any]) -> dict[str, Any]:
    """The port as the firewall of ``host``'s agent filters it now."""
    return neutron.service.l2_agents[host].sg.firewall.ports().get(tap_name(port["id"]), {})


def ingress_from(neutron: NeutronCloud, host: str, port: dict[str, Any]) -> set[str]:
    rules = filtered(neutron, host, port).get("security_group_rules", [])
    return {r["source_ip_prefix"] for r in rules if "source_ip_prefix" in r}


def ip(port: dict[str, Any]) -> str:
    return str(port["fixed_ips"][0]["ip_address"])


def test_the_server_expands_remote_groups_and_adds_dhcp(neutron: NeutronCloud) -> None:
    net_id, _ = neutron.network("10.30.0.0/24")
    vm1 = boot(neutron, net_id, "compute1")
    vm2 = boot(neutron, net_id, "compute2")
    rpc = neutron.service.l2_agents["compute1"].sg.plugin
    device = tap_name(vm1["id"])
    answer = rpc.security_group_rules_for_devices(
        RequestContext(is_admin=True), [device, "tapnone"]
    )
    assert list(answer) == [device]  # a device of no port: left out
    port = answer[device]
    assert port["fixed_ips"] == [ip(vm1)]
    assert port["mac_address"] == vm1["mac_address"]
    assert port["security_group_source_groups"] == vm1["security_groups"]
    rules = [
        {k: v for k, v in r.items() if k != "security_group_id"}
        for r in port["security_group_rules"]
    ]
    assert {
        "direction": "ingress",
        "ethertype": "IPv4",
        "source_ip_prefix": f"{ip(vm2)}/32",
    } in rules
    assert not any(r.get("source_ip_prefix") == f"{ip(vm1)}/32" for r in rules)  # not itself
    assert {"direction": "egress", "ethertype": "IPv4"} in rules
    dhcp = [r["dest_ip_prefix"] for r in rules if r.get("source_port_range_min") == 67]
    assert dhcp == [f"{ip(vm1)}/32", "255.255.255.255/32"]


def test_info_for_devices_sends_each_port_as_the_api_shows_it(neutron: NeutronCloud) -> None:
    """security_group_info_for_devices: each device's port (a device of no port left out,
    many devices in one call), each group's rules and members once."""
    net_id, _ = neutron.network("10.33.0.0/24")
    vms = [boot(neutron, net_id, "compute1") for _ in range(3)]
    rpc = neutron.service.l2_agents["compute1"].sg.plugin
    devices = [tap_name(vm["id"]) for vm in vms]
    answer = rpc.security_group_info_for_devices(
        RequestContext(is_admin=True), [*devices, "tapnone", "tap"]
    )
    assert sorted(answer["devices"]) == sorted(devices)
    for vm, device in zip(vms, devices, strict=True):
        shown = neutron.call("GET", f"/ports/{vm['id']}", admin=True).json()["port"]
        port = answer["devices"][device]
        for key in ("id", "network_id", "mac_address", "device_owner", "security_groups"):
            assert port[key] == shown[key], key
        assert port["port_security_enabled"] is shown["port_security_enabled"] is True
        assert port["fixed_ips"] == [a["ip_address"] for a in shown["fixed_ips"]]
        assert port["allowed_address_pairs"] == shown["allowed_address_pairs"] == []
    (group,) = vms[0]["security_groups"]
    assert set(answer["security_groups"]) == {group}
    assert {ip(vm) for vm in vms} <= set(answer["sg_member_ips"][group]["IPv4"])


def test_agents_refresh_on_member_and_rule_changes(neutron: NeutronCloud) -> None:
    log = neutron.bus.collect(lambda e: isinstance(e, MessageEvent) and e.event == "publish")
    net_id, _ = neutron.network("10.31.0.0/24")
    vm1 = boot(neutron, net_id, "compute1")
    assert filtered(neutron, "compute1", vm1)["security_groups"] == vm1["security_groups"]
    vm2 = boot(neutron, net_id, "compute2")
    # vm2 joined vm1's group: compute1's agent hears it and lets vm2 in
    wait_until(lambda: ingress_from(neutron, "compute1", vm1) == {f"{ip(vm2)}/32"})

    body = {
        "security_group_id": vm1["security_groups"][0],
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": "192.0.2.0/24",
    }
    made = neutron.call("POST", "/security-group-rules", {"security_group_rule": body})
    assert made.status_code == 201, made.text
    wait_until(lambda: "192.0.2.0/24" in ingress_from(neutron, "compute1", vm1))
    rule_id = made.json()["security_group_rule"]["id"]
    assert neutron.call("DELETE", f"/security-group-rules/{rule_id}").status_code == 204
    wait_until(lambda: "192.0.2.0/24" not in ingress_from(neutron, "compute2", vm2))

    assert neutron.call("DELETE", f"/ports/{vm2['id']}", admin=True).status_code == 204
    wait_until(lambda: ingress_from(neutron, "compute1", vm1) == set())  # vm2 left the group
    wait_until(lambda: filtered(neutron, "compute2", vm2) == {})  # its filter went with it
    casts = {(e.exchange, e.method) for e in list(log)}
    fanout = "q-agent-notifier-security_group-update_fanout"
    for method in ("security_groups_member_updated", "security_groups_rule_updated"):
        assert (fanout, method) in casts, sorted(casts)
    log.close()


def test_port_security_off_means_no_groups_and_no_filter(neutron: NeutronCloud) -> None:
    net_id, _ = neutron.network("10.32.0.0/24")
    group = neutron.call("GET", "/security-groups").json()["security_groups"][0]["id"]
    body = {"network_id": net_id, "port_security_enabled": False, "security_groups": [group]}
    refused = neutron.call("POST", "/ports", {"port": body})
    assert refused.status_code == 400, refused.text
    vm = boot(neutron, net_id, "compute1")
    assert vm["port_security_enabled"] is True
    assert vm["security_groups"] == [group]
    off = neutron.call("PUT", f"/ports/{vm['id']}", {"port": {"port_security_enabled": False}})
    assert off.status_code == 409, off.text  # its group first
    body = {"port": {"port_security_enabled": False, "security_groups": []}}
    off = neutron.call("PUT", f"/ports/{vm['id']}", body)
    assert off.status_code == 200, off.text
    assert off.json()["port"]["security_groups"] == []
    wait_until(lambda: filtered(neutron, "compute1", vm).get("port_security_enabled") is False)
    opened = boot(neutron, net_id, "compute2", port_security_enabled=False)
    assert opened["security_groups"] == []  # not the default group
    assert filtered(neutron, "compute2", opened)["port_security_enabled"] is False


def test_a_device_gone_before_its_plug_is_not_left_filtered(
    neutron: NeutronCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tap listed in a round and gone before the agent plugs it (a guest destroyed right
    then) loses its filter in that round: nothing later would remove it."""
    agent = neutron.service.l2_agents["compute1"]
    plug = agent.datapath.plug
    vanished: list[str] = []

    def gone_meanwhile(devices: list[dict[str, Any]]) -> list[str]:
        vanished.extend(d["device"] for d in devices)
        agent.datapath.unplugged(vanished)  # the tap disappears under the agent
        monkeypatch.setattr(agent.datapath, "plug", plug)
        return []

    monkeypatch.setattr(agent.datapath, "plug", gone_meanwhile)
    net_id, _ = neutron.network("10.31.0.0/24")
    port = neutron.make(
        "port", {"network_id": net_id, "device_id": "vm", "binding:host_id": "compute1"}
    )
    wait_until(lambda: tap_name(port["id"]) in vanished)
    wait_until(lambda: not filtered(neutron, "compute1", port))
    assert tap_name(port["id"]) not in agent.known
