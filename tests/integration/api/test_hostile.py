"""Point 5's other half: hostile values where generation from the documented schemas may not
reach (an API documenting a body as any object). Each create/update body a real client
sends is sent again with one field at a time replaced by a hostile value; each documented
item route gets hostile ids, each list route hostile queries. No 5xx and no hang, on SQLite
and on PostgreSQL (where an over-long string, a NUL byte or a big integer is an error)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.api.conftest import Cloud
from tests.integration.api.crossing import PARAM, routes
from tests.integration.api.fuzzing import IMAGE_PATCH, TIMEOUT, Finding, ServerLog, summary

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

DEEP = "__deep__"  # stands for JSON nested deeper than Python's recursion limit
HOSTILE: tuple[Any, ...] = (
    "", "x" * 300, "x" * 70_000, "a\x00b", "é✓", "../..", "?x=1#", " ", 2**31, 2**63, 2**70,
    -1, 0, 1.5, True, None, [], {}, ["x"], {"x": {"y": 1}}, DEEP,
)  # fmt: skip
IDS = ("..", "x" * 300, "%00", "a%00b", "%C3%A9", "a%2Fb", "%20", "-1", "0" * 40)
QUERIES = (
    "limit=0", "limit=-1", f"limit={2**70}", "limit=x", "marker=nope", "marker=%00",
    "sort_key=nope", "sort_dir=sideways", "all_tenants=x", "name=%00", "status=%00",
    f"changes-since={'9' * 30}", "changes-since=x", "fields=%00", "id=" + "x" * 300,
)  # fmt: skip
COLLECTIONS = {"networks": "network", "subnets": "subnet", "ports": "port", "images": "image",
               "volumes": "volume", "servers": "server"}  # fmt: skip


def seeds(demo: str) -> list[tuple[str, str, str, Any, dict[str, str]]]:
    """(api, method, path, a valid body, headers): what real clients send."""
    user = {"name": "demo", "domain": {"id": "default"}, "password": "demo-secret"}
    scope = {"project": {"name": "demo", "domain": {"id": "default"}}}
    auth = {"identity": {"methods": ["password"], "password": {"user": user}}, "scope": scope}
    network = {
        "name": "n",
        "admin_state_up": True,
        "shared": False,
        "provider:network_type": "vxlan",
        "provider:segmentation_id": 55,
    }
    subnet = {
        "network_id": "{network}",
        "cidr": "10.66.0.0/24",
        "ip_version": 4,
        "gateway_ip": "10.66.0.1",
        "allocation_pools": [{"start": "10.66.0.10", "end": "10.66.0.20"}],
        "dns_nameservers": ["8.8.8.8"],
        "enable_dhcp": True,
    }
    port = {
        "network_id": "{network}",
        "name": "p",
        "mac_address": "fa:16:3e:00:00:01",
        "fixed_ips": [{"subnet_id": "{subnet}", "ip_address": "10.0.0.50"}],
        "admin_state_up": True,
        "device_owner": "compute:nova",
        "device_id": "x",
    }
    image = {
        "name": "i",
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "private",
        "min_ram": 0,
        "protected": False,
        "tags": ["t"],
        "k": "v",
    }
    patch = [
        {"op": "replace", "path": "/name", "value": "i2"},
        {"op": "add", "path": "/k2", "value": "v"},
    ]
    server = {
        "name": "s",
        "imageRef": "{cirros}",
        "flavorRef": "1",
        "networks": [{"uuid": "{network}"}],
        "min_count": 1,
        "metadata": {"k": "v"},
    }
    return [
        ("identity", "POST", "/v3/auth/tokens", {"auth": auth}, {}),
        ("identity", "POST", "/v3/users", {"user": {"name": "u1", "password": "pw"}}, {}),
        ("identity", "POST", "/v3/projects", {"project": {"name": "p1", "enabled": True}}, {}),
        ("network", "POST", "/v2.0/networks", {"network": network}, {}),
        ("network", "POST", "/v2.0/subnets", {"subnet": subnet}, {}),
        ("network", "POST", "/v2.0/ports", {"port": port}, {}),
        ("network", "PUT", "/v2.0/networks/{network}", {"network": {"admin_state_up": False}}, {}),
        ("network", "PUT", "/v2.0/ports/{port}", {"port": {"name": "p2"}}, {}),
        ("network", "PUT", "/v2.0/subnets/{subnet}", {"subnet": {"dns_nameservers": []}}, {}),
        ("image", "POST", "/v2/images", image, {}),
        ("image", "PATCH", "/v2/images/{image}", patch, {"Content-Type": IMAGE_PATCH}),
        ("volumev3", "POST", f"/v3/{demo}/volumes", {"volume": {"size": 1, "name": "v"}}, {}),
        ("volumev3", "PUT", f"/v3/{demo}/volumes/{{volume}}", {"volume": {"name": "v2"}}, {}),
        ("compute", "POST", "/v2.1/servers", {"server": server}, {}),
        ("compute", "POST", "/v2.1/servers/{server}/action", {"os-stop": None}, {}),
    ]  # fmt: skip


def places(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where each value inside ``value`` sits, containers included."""
    if at:
        yield at
    if isinstance(value, dict):
        items: Any = value.items()
    else:
        items = enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield from places(inner, (*at, key))


def with_value(body: Any, at: tuple[Any, ...], value: Any) -> str:
    """``body`` as JSON text, the value at ``at`` replaced by ``value``."""
    changed = copy.deepcopy(body)
    target = changed
    for key in at[:-1]:
        target = target[key]
    target[at[-1]] = value
    return json.dumps(changed).replace(json.dumps(DEEP), "[" * 5000 + "]" * 5000)


def filled(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with each ``"{name}"`` string replaced by the id of that name."""
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [filled(v, ids) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


def made(http: httpx.Client, cloud: Cloud) -> dict[str, str]:
    """Ids of resources of demo's project for the bodies and paths to name."""
    url = cloud.urls

    def post(api: str, path: str, body: Any, key: str | None) -> str:
        answer = http.post(url[api] + path, json=body)
        assert answer.status_code < 300, answer.text
        return str((answer.json()[key] if key else answer.json())["id"])

    networks = http.get(url["network"] + "/v2.0/networks?name=private").json()["networks"]
    images = http.get(url["image"] + "/v2/images").json()["images"]
    ids = {"network": networks[0]["id"], "subnet": networks[0]["subnets"][0]}
    ids["cirros"] = next(i["id"] for i in images if i["name"] == "cirros")
    ids["port"] = post("network", "/v2.0/ports", {"port": {"network_id": ids["network"]}}, "port")
    image = {"name": "x", "disk_format": "raw", "container_format": "bare"}
    ids["image"] = post("image", "/v2/images", image, None)
    volumes = f"/v3/{cloud.projects['demo']}/volumes"
    ids["volume"] = post("volumev3", volumes, {"volume": {"size": 1}}, "volume")
    server = {"name": "s", "imageRef": ids["cirros"], "flavorRef": "1"}
    ids["server"] = post("compute", "/v2.1/servers", {"server": server}, "server")
    return ids


def item_paths(template: str, ids: dict[str, str], project: str) -> Iterator[str]:
    """``template`` (an item route) with hostile ids as its last parameter, known ones before."""
    segments = template.split("/")
    for i, segment in enumerate(segments[:-1]):
        if PARAM.fullmatch(segment):
            before = segments[i - 1]
            segments[i] = (
                project if segment == "{project_id}" else ids.get(COLLECTIONS.get(before, ""), "x")
            )
    for ident in IDS:
        yield "/".join([*segments[:-1], ident])


def test_hostile_values_get_no_server_error(api_cloud: Cloud) -> None:
    urls, found = api_cloud.urls, []
    demo = api_cloud.projects["demo"]
    with httpx.Client(headers={"X-Auth-Token": api_cloud.tokens["demo"]}, timeout=TIMEOUT) as http:
        ids = made(http, api_cloud)

        def send(api: str, method: str, path: str, log: ServerLog, **kwargs: Any) -> None:
            try:
                answer = http.request(method, urls[api] + path, **kwargs)
            except httpx.TransportError as exc:
                what = f"no answer: {type(exc).__name__}: {exc}"
            else:
                if answer.status_code < 500:
                    log.take()
                    return
                what = f"{answer.status_code} {answer.text[:300]}"
            found.append(Finding(method, path, repr(kwargs)[:400], what, log.take()))

        with ServerLog() as log:
            for api, method, path, body, headers in seeds(demo):
                body = filled(body, ids)
                for at in list(places(body)):
                    for value in HOSTILE:
                        content = with_value(body, at, value)
                        headers = headers or {"Content-Type": "application/json"}
                        send(api, method, path.format(**ids), log, content=content, headers=headers)
            for api, method, template in routes(api_cloud):
                if method == "GET" and "{" not in template:
                    for query in QUERIES:
                        send(api, "GET", f"{template}?{query}", log)
                elif method in {"GET", "DELETE"} and template.endswith("}"):
                    for path in item_paths(template, ids, demo):
                        send(api, method, path, log)
    report = summary(found)
    assert not found, f"{len(found)} failing requests on {api_cloud.backend}:\n\n{report}"
