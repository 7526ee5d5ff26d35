"""neutron's default policy through labcloud.policy: admin-only attributes, no body naming
another project, and nothing of one project read or changed by another (404, as neutron
answers), shared and external networks readable by all."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.network.harness import Neutron, collection


@pytest.mark.parametrize(
    ("path", "body", "action"),
    [
        ("/networks", {"network": {"shared": True}}, "create_network:shared"),
        ("/networks", {"network": {"router:external": True}}, "create_network:router:external"),
        (
            "/networks",
            {"network": {"provider:network_type": "vlan", "provider:segmentation_id": 7}},
            "create_network:provider:network_type",
        ),
        (
            "/networks",
            {"network": {"provider:network_type": "flat", "provider:physical_network": "p2"}},
            "create_network:provider:",
        ),
        ("/networks", {"network": {"tenant_id": "someone-else"}}, "cross_project"),
        ("/security-groups", {"security_group": {"project_id": "x"}}, "cross_project"),
        ("/routers", {"router": {"tenant_id": "x"}}, "cross_project"),
    ],
    ids=["shared", "external", "provider", "physnet", "network-tenant", "sg-project", "router"],
)
def test_admin_only_on_create(neutron: Neutron, path: str, body: Any, action: str) -> None:
    answer = neutron.call("POST", path, body)
    assert answer.status_code == 403, answer.text
    error = answer.json()["NeutronError"]
    assert error["type"] == "PolicyNotAuthorized"
    assert action in error["message"]
    assert neutron.call("POST", path, body, token=neutron.other).status_code == 201


def test_shared_false_is_no_change_and_update_of_shared_is_admin_only(neutron: Neutron) -> None:
    net = neutron.make("network", {"name": "n", "shared": False, "router:external": False})
    for attr in ("shared", "router:external"):
        answer = neutron.call("PUT", f"/networks/{net['id']}", {"network": {attr: True}})
        assert answer.status_code == 403, answer.text
    made = neutron.call(
        "PUT", f"/networks/{net['id']}", {"network": {"shared": True}}, token=neutron.other
    )
    assert made.json()["network"]["shared"] is True


def resources(neutron: Neutron) -> dict[str, dict[str, Any]]:
    """One of each kind of resource, all of demo's project."""
    public, _ = neutron.external()
    net_id, sub_id = neutron.network("10.9.0.0/24")
    port = neutron.make("port", {"network_id": net_id})
    group = neutron.make("security_group", {"name": "g"})
    rule = group["security_group_rules"][0]
    router = neutron.make("router", {"name": "r", "external_gateway_info": {"network_id": public}})
    neutron.call("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": sub_id})
    fip = neutron.make("floatingip", {"floating_network_id": public, "port_id": port["id"]})
    return {
        "network": {"id": net_id, "body": {"name": "x"}},
        "subnet": {"id": sub_id, "body": {"name": "x"}},
        "port": {"id": port["id"], "body": {"name": "x"}},
        "security_group": {"id": group["id"], "body": {"name": "x"}},
        "security_group_rule": {"id": rule["id"], "body": None},
        "router": {"id": router["id"], "body": {"name": "x"}},
        "floatingip": {"id": fip["id"], "body": {"description": "x"}},
    }


def test_another_project_reads_and_changes_nothing(neutron: Neutron) -> None:
    made = resources(neutron)
    eve = neutron.eve
    leaks = []
    for kind, thing in made.items():
        path = collection(kind)
        listed = neutron.call("GET", path, token=eve).json()[path[1:].replace("-", "_")]
        if thing["id"] in {item["id"] for item in listed}:
            leaks.append(f"list {kind}")
        routes = [("GET", None)] + ([("PUT", {kind: thing["body"]})] if thing["body"] else [])
        for method, body in [*routes, ("DELETE", None)]:
            answer = neutron.call(method, f"{path}/{thing['id']}", body, token=eve)
            if answer.status_code != 404:
                leaks.append(f"{method} {kind}: {answer.status_code}")
        mine = neutron.call("GET", f"{path}/{thing['id']}")
        assert mine.status_code == 200, (kind, mine.text)
    router = made["router"]["id"]
    for action in ("add_router_interface", "remove_router_interface"):
        body = {"subnet_id": made["subnet"]["id"]}
        answer = neutron.call("PUT", f"/routers/{router}/{action}", body, token=eve)
        if answer.status_code != 404:
            leaks.append(f"{action}: {answer.status_code}")
    port_on_it = neutron.call(
        "POST", "/ports", {"port": {"network_id": made["network"]["id"]}}, token=eve
    )
    if port_on_it.status_code != 404:
        leaks.append(f"port on another's network: {port_on_it.status_code}")
    assert leaks == []


def test_shared_and_external_networks_are_readable_not_changeable(neutron: Neutron) -> None:
    shared = neutron.make("network", {"name": "s", "shared": True}, token=neutron.other)
    neutron.make(
        "subnet", {"network_id": shared["id"], "cidr": "10.50.0.0/24"}, token=neutron.other
    )
    public, _ = neutron.external()
    eve = neutron.eve
    seen = {n["id"] for n in neutron.call("GET", "/networks", token=eve).json()["networks"]}
    assert {shared["id"], public} <= seen
    for net_id in (shared["id"], public):
        assert neutron.call("GET", f"/networks/{net_id}", token=eve).status_code == 200
        change = neutron.call("PUT", f"/networks/{net_id}", {"network": {"name": "x"}}, token=eve)
        assert change.status_code == 404
        assert neutron.call("DELETE", f"/networks/{net_id}", token=eve).status_code == 404
    on_shared = neutron.call("POST", "/ports", {"port": {"network_id": shared["id"]}}, token=eve)
    assert on_shared.status_code == 201, on_shared.text
    on_public = neutron.call("POST", "/ports", {"port": {"network_id": public}}, token=eve)
    assert on_public.status_code == 404
    subnet = {"network_id": shared["id"], "cidr": "10.51.0.0/24"}
    assert neutron.call("POST", "/subnets", {"subnet": subnet}, token=eve).status_code == 404


@pytest.mark.parametrize(
    ("body", "action"),
    [
        ({"enable_snat": False}, "enable_snat"),
        ({"external_fixed_ips": [{"ip_address": "203.0.113.5"}]}, "external_fixed_ips"),
    ],
)
def test_router_gateway_details_are_admin_only(
    neutron: Neutron, body: dict[str, Any], action: str
) -> None:
    public, _ = neutron.external()
    gateway = {"network_id": public} | body
    answer = neutron.call("POST", "/routers", {"router": {"external_gateway_info": gateway}})
    assert answer.status_code == 403
    assert action in answer.json()["NeutronError"]["message"]


def test_a_chosen_floating_address_is_admin_only(neutron: Neutron) -> None:
    public, _ = neutron.external()
    body = {"floatingip": {"floating_network_id": public, "floating_ip_address": "203.0.113.4"}}
    assert neutron.call("POST", "/floatingips", body).status_code == 403
    made = neutron.call("POST", "/floatingips", body, token=neutron.other)
    assert made.json()["floatingip"]["floating_ip_address"] == "203.0.113.4"
    assert neutron.call("GET", "/agents").status_code == 403
