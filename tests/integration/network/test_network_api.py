"""neutron's API and IPAM over real HTTP, with tokens from a real identity service."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from labcloud.context import RequestContext
from labcloud.network.manager import NetworkManager
from labcloud.network.models import IPAllocation
from labcloud.network.ports import PortManager
from tests.integration.network.harness import NO_SUCH, Neutron


def test_lifecycle_and_the_ip_goes_back_to_the_pool(neutron: Neutron) -> None:
    net_id, sub_id = neutron.network("10.9.0.0/29")  # pool 10.9.0.2 - 10.9.0.6
    shown = neutron.call("GET", f"/networks/{net_id}").json()["network"]
    assert shown["subnets"] == [sub_id]
    assert shown["status"] == "ACTIVE"
    subnet = neutron.call("GET", f"/subnets/{sub_id}").json()["subnet"]
    assert subnet["gateway_ip"] == "10.9.0.1"
    assert subnet["allocation_pools"] == [{"start": "10.9.0.2", "end": "10.9.0.6"}]
    ports = [neutron.make("port", {"network_id": net_id, "device_id": f"vm{i}"}) for i in range(5)]
    ips = {p["fixed_ips"][0]["ip_address"] for p in ports}
    assert ips == {f"10.9.0.{i}" for i in range(2, 7)}
    assert all(p["mac_address"].startswith("fa:16:3e:") for p in ports)
    full = neutron.call("POST", "/ports", {"port": {"network_id": net_id}})
    assert full.status_code == 409
    assert full.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"
    assert full.json()["NeutronError"]["message"] == (
        f"No more IP addresses available on network {net_id}."
    )
    freed = ports[2]["fixed_ips"][0]["ip_address"]
    assert neutron.call("DELETE", f"/ports/{ports[2]['id']}").status_code == 204
    again = neutron.make("port", {"network_id": net_id})
    assert again["fixed_ips"][0]["ip_address"] == freed
    assert ("plug_port", again["id"]) in neutron.driver.calls
    assert ("unplug_port", ports[2]["id"]) in neutron.driver.calls
    assert neutron.call("DELETE", f"/networks/{net_id}").status_code == 409  # ports in use
    listed = neutron.call("GET", "/ports", params={"device_id": "vm0"}).json()["ports"]
    assert [p["id"] for p in listed] == [ports[0]["id"]]


def test_fields_answers_only_the_attributes_asked_for(neutron: Neutron) -> None:
    """``?fields=`` as openstacksdk and Horizon send it: lists and shows keep only those."""
    net_id, sub_id = neutron.network("10.7.0.0/24")
    port = neutron.make("port", {"network_id": net_id, "name": "picked"})
    listed = neutron.call(
        "GET", "/ports", params={"fields": ["id", "name", "no_such"], "network_id": net_id}
    )
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"ports": [{"id": port["id"], "name": "picked"}]}
    assert int(listed.headers["content-length"]) == len(listed.content)
    shown = neutron.call("GET", f"/networks/{net_id}", params={"fields": "subnets"})
    assert shown.json() == {"network": {"subnets": [sub_id]}}
    assert set(neutron.call("GET", f"/networks/{net_id}").json()["network"]) > {"id", "name"}
    missing = neutron.call("GET", f"/ports/{NO_SUCH}", params={"fields": "id"})
    assert missing.status_code == 404
    assert missing.json()["NeutronError"]["type"] == "PortNotFound"


def test_fixed_ips_and_ipv6(neutron: Neutron) -> None:
    net_id, sub_id = neutron.network("10.8.0.0/24")
    port = neutron.make(
        "port",
        {"network_id": net_id, "fixed_ips": [{"subnet_id": sub_id, "ip_address": "10.8.0.77"}]},
    )
    assert port["fixed_ips"] == [{"subnet_id": sub_id, "ip_address": "10.8.0.77"}]
    taken = neutron.call(
        "POST",
        "/ports",
        {"port": {"network_id": net_id, "fixed_ips": [{"ip_address": "10.8.0.77"}]}},
    )
    assert taken.status_code == 409
    outside = neutron.call(
        "POST",
        "/ports",
        {"port": {"network_id": net_id, "fixed_ips": [{"ip_address": "192.168.1.1"}]}},
    )
    assert outside.status_code == 400
    v6 = neutron.make("subnet", {"network_id": net_id, "cidr": "fd00:1::/64", "ip_version": 6})
    dual = neutron.make("port", {"network_id": net_id})
    versions = sorted(":" in ip["ip_address"] for ip in dual["fixed_ips"])
    assert versions == [False, True]
    assert any(ip["subnet_id"] == v6["id"] for ip in dual["fixed_ips"])


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/networks", b"{nope", 400),
        ("/networks", b"[]", 400),
        ("/subnets", b'{"subnet": {"network_id": "x", "cidr": "10.0.0.0/24"}}', 400),
        ("/subnets", f'{{"subnet": {{"network_id": "{NO_SUCH}", "cidr": "10.0.0.0/24"}}}}', 404),
        ("/ports", f'{{"port": {{"network_id": "{NO_SUCH}"}}}}', 404),
    ],
    ids=["malformed", "list-body", "not-a-uuid", "unknown-network", "port-on-unknown-network"],
)
def test_bad_requests(neutron: Neutron, path: str, body: bytes | str, status: int) -> None:
    answer = neutron.call("POST", path, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    assert "NeutronError" in answer.json()


@pytest.mark.parametrize(
    ("cidr", "gateway"),
    [
        ("10.0.0.0/33", None),
        ("not-a-cidr", None),
        ("10.0.0.0/24", "10.1.0.1"),
        ("10.0.0.1/24", None),
    ],
)
def test_bad_subnets(neutron: Neutron, cidr: str, gateway: str | None) -> None:
    net = neutron.make("network", {"name": "n"})
    body: dict[str, Any] = {"network_id": net["id"], "cidr": cidr}
    if gateway:
        body["gateway_ip"] = gateway
    assert neutron.call("POST", "/subnets", {"subnet": body}).status_code == 400


def test_projects_see_their_own_and_shared_networks(neutron: Neutron) -> None:
    mine = neutron.make("network", {"name": "mine"})
    theirs = neutron.make("network", {"name": "theirs"}, token=neutron.other)
    shared = neutron.make("network", {"name": "shared", "shared": True}, token=neutron.other)
    names = {n["name"] for n in neutron.call("GET", "/networks").json()["networks"]}
    assert {"mine", "shared"} <= names
    assert "theirs" not in names
    assert neutron.call("GET", f"/networks/{theirs['id']}").status_code == 404
    assert mine["project_id"] == mine["tenant_id"]
    assert shared["shared"] is True
    assert neutron.call("GET", "/networks", token="bad").status_code == 401


def test_extensions_and_versions(neutron: Neutron) -> None:
    aliases = {e["alias"] for e in neutron.call("GET", "/extensions").json()["extensions"]}
    assert {"provider", "binding", "external-net"} <= aliases
    root = httpx.get(neutron.server.url + "/").json()
    assert root["versions"][0]["id"] == "v2.0"


def test_the_database_refuses_a_duplicate_address(neutron: Neutron) -> None:
    net_id, sub_id = neutron.network()
    port = neutron.make("port", {"network_id": net_id})
    address = port["fixed_ips"][0]["ip_address"]
    with pytest.raises(IntegrityError), neutron.manager.db.session() as s:
        s.add(
            IPAllocation(
                port_id=port["id"], subnet_id=sub_id, network_id=net_id, ip_address=address
            )
        )


def test_a_thousand_concurrent_ports_get_distinct_addresses(db_url: str) -> None:
    manager = NetworkManager(db_url)
    admin = RequestContext(is_admin=True, roles=("admin",), project_id="p")
    net = manager.create_network(admin, {"name": "big"})
    manager.create_subnet(admin, {"network_id": net["id"], "cidr": "10.20.0.0/20"})
    ports = PortManager(manager)
    got: list[str] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for _ in range(n):
            try:
                port = ports.create_port(admin, {"network_id": net["id"]})
            except Exception as exc:  # every failure is a test failure, reported below
                errors.append(exc)
                continue
            with lock:
                got.append(port["fixed_ips"][0]["ip_address"])

    threads = [
        threading.Thread(target=worker, args=(1000 // 32 + (i < 1000 % 32),)) for i in range(32)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(got) == 1000
    assert len(set(got)) == 1000
    manager.db.dispose()


def test_repeated_filters_match_any_and_fields_is_accepted(neutron: Neutron) -> None:
    a = neutron.make("network", {"name": "a"})
    b = neutron.make("network", {"name": "b"})
    neutron.make("network", {"name": "c"})
    query = [("id", a["id"]), ("id", b["id"]), ("fields", "id"), ("fields", "name")]
    listed = neutron.call("GET", "/networks", params=query)
    assert listed.status_code == 200, listed.text
    assert {n["name"] for n in listed.json()["networks"]} == {"a", "b"}
    external = neutron.call("GET", "/networks", params={"router:external": "False"})
    assert {"a", "b", "c"} <= {n["name"] for n in external.json()["networks"]}
