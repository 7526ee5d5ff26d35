"""Security groups, routers and floating IPs through neutron's API (the API and the
database; no datapath enforces or forwards them yet)."""

from __future__ import annotations

import pytest

from tests.integration.network.harness import NO_SUCH, Neutron


def test_a_project_gets_its_default_group_with_neutrons_rules(neutron: Neutron) -> None:
    groups = neutron.call("GET", "/security-groups").json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    default = groups[0]
    rules = {
        (r["direction"], r["ethertype"], r["remote_group_id"])
        for r in default["security_group_rules"]
    }
    assert rules == {
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", default["id"]),
        ("ingress", "IPv6", default["id"]),
    }
    again = neutron.call("GET", "/security-groups").json()["security_groups"]
    assert [g["id"] for g in again] == [default["id"]]  # made once
    net_id, _ = neutron.network()
    port = neutron.make("port", {"network_id": net_id})
    assert port["security_groups"] == [default["id"]]
    gone = neutron.call("DELETE", f"/security-groups/{default['id']}")
    assert gone.status_code == 409, gone.text


def test_security_group_and_rule_lifecycle(neutron: Neutron) -> None:
    web = neutron.make("security_group", {"name": "web", "description": "http"})
    assert {r["direction"] for r in web["security_group_rules"]} == {"egress"}
    rule = {
        "security_group_id": web["id"],
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 80,
        "port_range_max": 80,
        "remote_ip_prefix": "0.0.0.0/0",
    }
    made = neutron.make("security_group_rule", rule)
    assert made["protocol"] == "tcp"
    assert made["port_range_min"] == 80
    twice = neutron.call("POST", "/security-group-rules", {"security_group_rule": rule})
    assert twice.status_code == 409
    assert made["id"] in twice.json()["NeutronError"]["message"]
    shown = neutron.call("GET", f"/security-groups/{web['id']}").json()["security_group"]
    assert made["id"] in {r["id"] for r in shown["security_group_rules"]}
    renamed = neutron.call(
        "PUT", f"/security-groups/{web['id']}", {"security_group": {"name": "www"}}
    )
    assert renamed.json()["security_group"]["name"] == "www"
    net_id, _ = neutron.network()
    port = neutron.make("port", {"network_id": net_id, "security_groups": [web["id"]]})
    assert port["security_groups"] == [web["id"]]
    busy = neutron.call("DELETE", f"/security-groups/{web['id']}")
    assert busy.status_code == 409
    assert busy.json()["NeutronError"]["type"] == "SecurityGroupInUse"
    default = neutron.call("GET", "/security-groups?name=default").json()["security_groups"]
    body = {"port": {"security_groups": [default[0]["id"]]}}
    moved = neutron.call("PUT", f"/ports/{port['id']}", body)  # a group to check: a read
    assert moved.json()["port"]["security_groups"] == [default[0]["id"]]
    moved = neutron.call("PUT", f"/ports/{port['id']}", {"port": {"security_groups": []}})
    assert moved.json()["port"]["security_groups"] == []
    assert neutron.call("DELETE", f"/security-group-rules/{made['id']}").status_code == 204
    assert neutron.call("GET", f"/security-group-rules/{made['id']}").status_code == 404
    assert neutron.call("DELETE", f"/security-groups/{web['id']}").status_code == 204


def test_port_put_of_fixed_ips_reallocates(neutron: Neutron) -> None:
    net_id, sub_id = neutron.network("10.9.0.0/28")
    port = neutron.make("port", {"network_id": net_id})
    old = port["fixed_ips"][0]["ip_address"]
    wanted = "10.9.0.12" if old != "10.9.0.12" else "10.9.0.13"
    changed = neutron.call(
        "PUT", f"/ports/{port['id']}", {"port": {"fixed_ips": [{"ip_address": wanted}]}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["port"]["fixed_ips"] == [{"subnet_id": sub_id, "ip_address": wanted}]
    # the old address went back to the pool: another port may have it now
    other = neutron.make("port", {"network_id": net_id, "fixed_ips": [{"ip_address": old}]})
    assert other["fixed_ips"][0]["ip_address"] == old
    both = [{"ip_address": wanted}, {"subnet_id": sub_id}]
    two = neutron.call("PUT", f"/ports/{port['id']}", {"port": {"fixed_ips": both}})
    addresses = [ip["ip_address"] for ip in two.json()["port"]["fixed_ips"]]
    assert addresses[0] == wanted
    assert len(set(addresses)) == 2
    taken = neutron.call(
        "PUT", f"/ports/{port['id']}", {"port": {"fixed_ips": [{"ip_address": old}]}}
    )
    assert taken.status_code == 409
    assert old in taken.json()["NeutronError"]["message"]


def test_subnet_put_refuses_cidr_and_checks_pools(neutron: Neutron) -> None:
    _, sub_id = neutron.network("10.9.0.0/24")
    cidr = neutron.call("PUT", f"/subnets/{sub_id}", {"subnet": {"cidr": "10.9.0.0/24"}})
    assert cidr.status_code == 400
    assert "Cannot update read-only attribute cidr" in cidr.json()["NeutronError"]["message"]
    pools = [{"start": "10.9.0.10", "end": "10.9.0.20"}]
    ok = neutron.call("PUT", f"/subnets/{sub_id}", {"subnet": {"allocation_pools": pools}})
    assert ok.json()["subnet"]["allocation_pools"] == pools
    outside = [{"start": "10.9.1.10", "end": "10.9.1.20"}]
    bad = neutron.call("PUT", f"/subnets/{sub_id}", {"subnet": {"allocation_pools": outside}})
    assert bad.status_code == 400
    assert "allocation_pools" in bad.json()["NeutronError"]["message"]
    gw = neutron.call("PUT", f"/subnets/{sub_id}", {"subnet": {"gateway_ip": "10.9.0.15"}})
    assert gw.status_code == 400


def test_router_interfaces_gateway_and_floating_ips(neutron: Neutron) -> None:
    public, public_sub = neutron.external("203.0.113.0/29")  # pool .2 - .6
    net_id, sub_id = neutron.network("10.9.0.0/24")
    router = neutron.make("router", {"name": "r1", "external_gateway_info": {"network_id": public}})
    gateway = router["external_gateway_info"]
    assert gateway["network_id"] == public
    assert gateway["enable_snat"] is True
    assert gateway["external_fixed_ips"][0]["subnet_id"] == public_sub
    added = neutron.call(
        "PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": sub_id}
    )
    assert added.status_code == 200, added.text
    info = added.json()
    assert (info["id"], info["subnet_id"], info["network_id"]) == (router["id"], sub_id, net_id)
    interface = neutron.call("GET", f"/ports/{info['port_id']}").json()["port"]
    assert interface["fixed_ips"] == [{"subnet_id": sub_id, "ip_address": "10.9.0.1"}]
    assert interface["device_owner"] == "network:router_interface"
    direct = neutron.call("DELETE", f"/ports/{info['port_id']}")
    assert direct.status_code == 409

    vm = neutron.make("port", {"network_id": net_id, "device_id": "vm1"})
    fip = neutron.make("floatingip", {"floating_network_id": public, "port_id": vm["id"]})
    assert fip["router_id"] == router["id"]
    assert fip["fixed_ip_address"] == vm["fixed_ips"][0]["ip_address"]
    assert fip["floating_ip_address"].startswith("203.0.113.")
    assert fip["status"] == "ACTIVE"
    in_use = neutron.call(
        "PUT", f"/routers/{router['id']}/remove_router_interface", {"subnet_id": sub_id}
    )
    assert in_use.status_code == 409
    assert neutron.call("DELETE", f"/routers/{router['id']}").status_code == 409
    off = neutron.call("PUT", f"/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    assert off.json()["floatingip"]["port_id"] is None
    assert off.json()["floatingip"]["status"] == "DOWN"

    # the external subnet's pool: 5 addresses, one the router's gateway, one the fip
    more = [neutron.make("floatingip", {"floating_network_id": public}) for _ in range(3)]
    full = neutron.call("POST", "/floatingips", {"floatingip": {"floating_network_id": public}})
    assert full.status_code == 409
    address = more[0]["floating_ip_address"]
    assert neutron.call("DELETE", f"/floatingips/{more[0]['id']}").status_code == 204
    again = neutron.make("floatingip", {"floating_network_id": public})
    assert again["floating_ip_address"] == address  # back in the pool, given out again

    removed = neutron.call(
        "PUT", f"/routers/{router['id']}/remove_router_interface", {"port_id": info["port_id"]}
    )
    assert removed.status_code == 200, removed.text
    assert neutron.call("GET", f"/ports/{info['port_id']}").status_code == 404
    cleared = neutron.call(
        "PUT", f"/routers/{router['id']}", {"router": {"external_gateway_info": {}}}
    )
    assert cleared.json()["router"]["external_gateway_info"] is None
    assert neutron.call("DELETE", f"/routers/{router['id']}").status_code == 204


def test_a_floating_ip_needs_a_router_to_its_port(neutron: Neutron) -> None:
    public, _ = neutron.external()
    net_id, _ = neutron.network()
    vm = neutron.make("port", {"network_id": net_id})
    body = {"floatingip": {"floating_network_id": public, "port_id": vm["id"]}}
    unreachable = neutron.call("POST", "/floatingips", body)
    assert unreachable.status_code == 404
    assert "is not reachable from subnet" in unreachable.json()["NeutronError"]["message"]
    assert neutron.call("GET", "/floatingips").json()["floatingips"] == []  # none kept
    internal = neutron.call("POST", "/floatingips", {"floatingip": {"floating_network_id": net_id}})
    assert internal.status_code == 400
    router = neutron.make("router", {"name": "r"})
    no_gateway = neutron.call(
        "PUT",
        f"/routers/{router['id']}",
        {"router": {"external_gateway_info": {"network_id": net_id}}},
    )
    assert no_gateway.status_code == 400
    assert "not an external network" in no_gateway.json()["NeutronError"]["message"]


def test_add_interface_by_port_and_refusals(neutron: Neutron) -> None:
    net_id, sub_id = neutron.network("10.9.0.0/24")
    router = neutron.make("router", {"name": "r"})
    path = f"/routers/{router['id']}"
    port = neutron.make("port", {"network_id": net_id})
    by_port = neutron.call("PUT", path + "/add_router_interface", {"port_id": port["id"]})
    assert by_port.status_code == 200, by_port.text
    assert by_port.json()["port_id"] == port["id"]
    again = neutron.call("PUT", path + "/add_router_interface", {"subnet_id": sub_id})
    assert again.status_code == 400
    assert "already has a port on subnet" in again.json()["NeutronError"]["message"]
    missing = neutron.call("PUT", path + "/remove_router_interface", {"port_id": NO_SUCH})
    assert missing.status_code == 404


@pytest.mark.parametrize("kind", ["security_group", "router"])
def test_names_are_bounded(neutron: Neutron, kind: str) -> None:
    path = "/" + kind.replace("_", "-") + "s"
    answer = neutron.call("POST", path, {kind: {"name": "x" * 256}})
    assert answer.status_code == 400
