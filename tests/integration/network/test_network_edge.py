"""Hostile input at neutron's edge: every bad body or query is a 400 naming the field (never
a 500, never a database error), on SQLite and on PostgreSQL; a MAC or address taken twice
is a 409 naming it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.network.harness import NO_SUCH, Neutron

LONG = "n" * 256


@pytest.fixture(scope="module")
def made(any_db_neutron: Neutron) -> dict[str, str]:
    """A network with a subnet (10.30.0.0/24) and a port on it, owned by demo."""
    net_id, sub_id = any_db_neutron.network("10.30.0.0/24")
    port = any_db_neutron.make("port", {"network_id": net_id})
    return {"net": net_id, "sub": sub_id, "port": port["id"]}


def subnet(**attrs: Any) -> dict[str, Any]:
    return {"subnet": {"network_id": "{net}", "cidr": "10.31.0.0/24"} | attrs}


# (method, path, body, the field the answer must name); every one answers 400
BAD = {
    "ip_version-x": ("POST", "/subnets", subnet(ip_version="x"), "ip_version"),
    "ip_version-5": ("POST", "/subnets", subnet(ip_version=5), "ip_version"),
    "ip_version-mismatch": ("POST", "/subnets", subnet(ip_version=6), "IPv6"),
    "allocation_pools-abc": (
        "POST",
        "/subnets",
        subnet(allocation_pools="abc"),
        "allocation_pools",
    ),
    "pool-outside-cidr": (
        "POST",
        "/subnets",
        subnet(allocation_pools=[{"start": "10.32.0.2", "end": "10.32.0.9"}]),
        "spans beyond",
    ),
    "pool-reversed": (
        "POST",
        "/subnets",
        subnet(allocation_pools=[{"start": "10.31.0.9", "end": "10.31.0.2"}]),
        "start is after its end",
    ),
    "pools-overlap": (
        "POST",
        "/subnets",
        subnet(
            allocation_pools=[
                {"start": "10.31.0.2", "end": "10.31.0.9"},
                {"start": "10.31.0.5", "end": "10.31.0.20"},
            ]
        ),
        "overlapping",
    ),
    "pool-holds-gateway": (
        "POST",
        "/subnets",
        subnet(
            gateway_ip="10.31.0.5", allocation_pools=[{"start": "10.31.0.2", "end": "10.31.0.9"}]
        ),
        "conflicts with allocation pool",
    ),
    "pool-not-an-ip": (
        "POST",
        "/subnets",
        subnet(allocation_pools=[{"start": "x", "end": "10.31.0.9"}]),
        "allocation_pools",
    ),
    "gateway-outside": ("POST", "/subnets", subnet(gateway_ip="10.99.0.1"), "gateway_ip"),
    "cidr-garbage": ("POST", "/subnets", subnet(cidr="10.0.0.0/33"), "cidr"),
    "cidr-host-bits": ("POST", "/subnets", subnet(cidr="10.31.0.1/24"), "cidr"),
    "dns_nameservers-5": ("POST", "/subnets", subnet(dns_nameservers=5), "dns_nameservers"),
    "dns_nameservers-not-ip": (
        "POST",
        "/subnets",
        subnet(dns_nameservers=["dns.example"]),
        "dns_nameservers",
    ),
    "fixed_ips-strings": (
        "POST",
        "/ports",
        {"port": {"network_id": "{net}", "fixed_ips": ["172.16.0.5"]}},
        "fixed_ips",
    ),
    "fixed_ips-bad-ip": (
        "POST",
        "/ports",
        {"port": {"network_id": "{net}", "fixed_ips": [{"ip_address": "10.30.0.300"}]}},
        "fixed_ips",
    ),
    "fixed_ips-empty-entry": (
        "POST",
        "/ports",
        {"port": {"network_id": "{net}", "fixed_ips": [{}]}},
        "fixed_ips",
    ),
    "mac-garbage": (
        "POST",
        "/ports",
        {"port": {"network_id": "{net}", "mac_address": "fa:16:3e:zz:00:01"}},
        "mac_address",
    ),
    "mac-multicast": (
        "POST",
        "/ports",
        {"port": {"network_id": "{net}", "mac_address": "01:00:5e:00:00:01"}},
        "mac_address",
    ),
    "admin_state_up-x": (
        "PUT",
        "/networks/{net}",
        {"network": {"admin_state_up": "x"}},
        "admin_state_up",
    ),
    "port-admin_state_up-x": (
        "PUT",
        "/ports/{port}",
        {"port": {"admin_state_up": "x"}},
        "admin_state_up",
    ),
    "segmentation_id-2**70": (
        "POST",
        "/networks",
        {"network": {"provider:network_type": "vxlan", "provider:segmentation_id": 2**70}},
        "provider:segmentation_id",
    ),
    "vlan-4095": (
        "POST",
        "/networks",
        {"network": {"provider:network_type": "vlan", "provider:segmentation_id": 4095}},
        "provider:segmentation_id",
    ),
    "vxlan-2**24": (
        "POST",
        "/networks",
        {"network": {"provider:network_type": "vxlan", "provider:segmentation_id": 2**24}},
        "provider:segmentation_id",
    ),
    "network_type-gre": (
        "POST",
        "/networks",
        {"network": {"provider:network_type": "gre"}},
        "network_type",
    ),
    "name-256": ("POST", "/networks", {"network": {"name": LONG}}, "name"),
    "name-nul": ("POST", "/networks", {"network": {"name": "a\x00b"}}, "name"),
    "name-list": ("POST", "/networks", {"network": {"name": ["a"]}}, "name"),
    "description-256": ("PUT", "/subnets/{sub}", {"subnet": {"description": LONG}}, "description"),
    "port-name-nul": ("PUT", "/ports/{port}", {"port": {"name": "\x00"}}, "name"),
    "device_id-256": ("PUT", "/ports/{port}", {"port": {"device_id": LONG}}, "device_id"),
    "network_id-not-uuid": ("POST", "/ports", {"port": {"network_id": "../x"}}, "network_id"),
    "unknown-attribute": ("POST", "/networks", {"network": {"colour": "red"}}, "colour"),
    "read-only-cidr": ("PUT", "/subnets/{sub}", {"subnet": {"cidr": "10.40.0.0/24"}}, "cidr"),
    "sg-name-256": ("POST", "/security-groups", {"security_group": {"name": LONG}}, "name"),
    "sg-rule-direction": (
        "POST",
        "/security-group-rules",
        {"security_group_rule": {"security_group_id": NO_SUCH, "direction": "sideways"}},
        "direction",
    ),
    "sg-rule-ports-reversed": (
        "POST",
        "/security-group-rules",
        {
            "security_group_rule": {
                "security_group_id": NO_SUCH,
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 90,
                "port_range_max": 80,
            }
        },
        "port_range_min",
    ),
    "sg-rule-port-70000": (
        "POST",
        "/security-group-rules",
        {
            "security_group_rule": {
                "security_group_id": NO_SUCH,
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 1,
                "port_range_max": 70000,
            }
        },
        "port_range_max",
    ),
    "sg-rule-prefix-and-group": (
        "POST",
        "/security-group-rules",
        {
            "security_group_rule": {
                "security_group_id": NO_SUCH,
                "direction": "ingress",
                "remote_ip_prefix": "10.0.0.0/8",
                "remote_group_id": NO_SUCH,
            }
        },
        "remote_group_id",
    ),
    "router-gateway-not-uuid": (
        "POST",
        "/routers",
        {"router": {"external_gateway_info": {"network_id": "public"}}},
        "network_id",
    ),
    "interface-neither": ("PUT", f"/routers/{NO_SUCH}/add_router_interface", {}, "subnet_id"),
    "fip-address-garbage": (
        "POST",
        "/floatingips",
        {"floatingip": {"floating_network_id": NO_SUCH, "floating_ip_address": "1.2.3"}},
        "floating_ip_address",
    ),
    "body-not-an-object": ("POST", "/networks", ["network"], "body"),
    "body-null-resource": ("POST", "/routers", {"router": None}, "exactly one"),
    "body-null-bulk": ("POST", "/ports", {"ports": None}, "exactly one"),
    "null-name": ("PUT", "/ports/{port}", {"port": {"name": None}}, "name: null"),
    "null-pools": (
        "PUT",
        "/subnets/{sub}",
        {"subnet": {"allocation_pools": None}},
        "allocation_pools",
    ),
    "null-admin_state_up": (
        "PUT",
        "/networks/{net}",
        {"network": {"admin_state_up": None}},
        "admin_state_up",
    ),
    "body-both-forms": ("POST", "/networks", {"network": {}, "networks": []}, "exactly one"),
}


def fill(value: Any, made: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**made) if "{" in value else value
    if isinstance(value, list):
        return [fill(v, made) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, made) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_is_a_400_naming_the_field(
    any_db_neutron: Neutron, made: dict[str, str], case: str
) -> None:
    method, path, body, field = BAD[case]
    answer = any_db_neutron.call(method, fill(path, made), fill(body, made))
    assert answer.status_code == 400, answer.text
    error = answer.json()["NeutronError"]
    assert error["detail"] == ""
    assert field in error["message"], error


@pytest.mark.parametrize(
    "query",
    [{"name": "a\x00b"}, {"name": "x" * 300}, {"device_id": "\x00"}],
    ids=["nul", "long", "nul-device"],
)
def test_bad_filters_are_400(any_db_neutron: Neutron, query: dict[str, str]) -> None:
    for path in ("/networks", "/ports", "/subnets", "/security-groups", "/routers"):
        answer = any_db_neutron.call("GET", path, params=query)
        assert answer.status_code == 400, (path, answer.text)


@pytest.mark.parametrize("ident", ["x", "...", "%00", "a" * 300, NO_SUCH])
def test_an_id_that_names_nothing_is_404(any_db_neutron: Neutron, ident: str) -> None:
    for kind in ("networks", "subnets", "ports", "security-groups", "routers", "floatingips"):
        for method in ("GET", "DELETE"):
            answer = any_db_neutron.call(method, f"/{kind}/{ident}")
            assert answer.status_code == 404, (method, kind, answer.text)
            assert "NeutronError" in answer.json()


def test_a_duplicate_mac_is_a_409_naming_it(any_db_neutron: Neutron, made: dict[str, str]) -> None:
    mac = "fa:16:3e:00:00:42"
    any_db_neutron.make("port", {"network_id": made["net"], "mac_address": mac})
    again = any_db_neutron.call(
        "POST", "/ports", {"port": {"network_id": made["net"], "mac_address": mac.upper()}}
    )
    assert again.status_code == 409, again.text
    assert again.json()["NeutronError"]["type"] == "MacAddressInUse"
    assert mac in again.json()["NeutronError"]["message"]


def test_the_same_fixed_ip_twice_is_a_409_naming_it(
    any_db_neutron: Neutron, made: dict[str, str]
) -> None:
    twice = [{"ip_address": "10.30.0.77"}, {"subnet_id": made["sub"], "ip_address": "10.30.0.77"}]
    answer = any_db_neutron.call(
        "POST", "/ports", {"port": {"network_id": made["net"], "fixed_ips": twice}}
    )
    assert answer.status_code == 409, answer.text
    assert "10.30.0.77" in answer.json()["NeutronError"]["message"]
    # nothing was kept: the address is still free
    port = any_db_neutron.make(
        "port", {"network_id": made["net"], "fixed_ips": [{"ip_address": "10.30.0.77"}]}
    )
    assert port["fixed_ips"][0]["ip_address"] == "10.30.0.77"
