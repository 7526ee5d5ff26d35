"""What the cross-project test needs: resources of project A made through each API, and
every route of the APIs' OpenAPI documents with its path filled with A's ids."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.integration.api.conftest import Cloud
from tests.integration.api.fuzzing import IMAGE_PATCH

PARAM = re.compile(r"\{([^}]+)\}")
# what wraps a resource in an update body (``{"network": {...}}``), by its collection
WRAPPERS = {
    "networks": "network",
    "subnets": "subnet",
    "ports": "port",
    "security-groups": "security_group",
    "routers": "router",
    "floatingips": "floatingip",
    "servers": "server",
    "volumes": "volume",
    "snapshots": "snapshot",
    "users": "user",
    "projects": "project",
}
# routes whose ids are nobody's (flavors, extensions, schemas...), or the cloud's
SHARED = {
    "flavors",
    "extensions",
    "schemas",
    "agents",
    "os-hypervisors",
    "os-services",
    "roles",
    "services",
    "endpoints",
    "regions",
    "domains",
    "os-availability-zone",
    "os-aggregates",
    "types",
    "limits",
    "os-quota-sets",
    "os-instance-actions",
}


class Caller:
    """One user's client for every API (kept-alive connections, the user's token)."""

    def __init__(self, cloud: Cloud, user: str) -> None:
        self.cloud, self.user = cloud, user
        self.token = cloud.tokens[user]
        self.project = cloud.projects[user]
        self.http = httpx.Client(headers={"X-Auth-Token": self.token}, timeout=30)

    def __call__(self, api: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, self.cloud.urls[api] + path, **kwargs)

    def close(self) -> None:
        self.http.close()


@dataclass
class Owned:
    """Project A's resources: collection (the path segment before an id) -> its id, the
    name A gave it, and where A reads it back."""

    ids: dict[str, str] = field(default_factory=dict)
    names: dict[str, str | None] = field(default_factory=dict)
    shows: dict[str, tuple[str, str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # kinds A could not create (why)

    def add(self, kind: str, ident: str, name: str | None, api: str, path: str) -> None:
        self.ids[kind], self.names[kind], self.shows[kind] = ident, name, (api, path)


def routes(cloud: Cloud) -> list[tuple[str, str, str]]:
    """(api, METHOD, path template) of every operation every API documents."""
    found = []
    for api, url in cloud.urls.items():
        document = httpx.get(url + "/openapi.json", timeout=30).json()
        for path, item in document["paths"].items():
            found += [
                (api, m.upper(), path)
                for m in item
                if m in {"get", "head", "post", "put", "patch", "delete"}
            ]
    return found


def create(a: Caller, documented: set[tuple[str, str, str]]) -> Owned:
    """One resource of each kind A can own, made through the API that documents it."""
    owned = Owned()
    me = a("identity", "GET", "/v3/auth/tokens", headers={"X-Subject-Token": a.token})
    owned.add("users", me.json()["token"]["user"]["id"], None, "identity", "")
    owned.add("projects", a.project, None, "identity", "")

    def make(
        kind: str, api: str, path: str, body: Any, wrapper: str | None, name: str | None
    ) -> str | None:
        if (api, "POST", path.replace(a.project, "{project_id}")) not in documented:
            owned.missing.append(f"{kind}: POST {path} is not documented")
            return None
        answer = a(api, "POST", path, json=body)
        if answer.status_code >= 300:
            owned.missing.append(f"{kind}: POST {path} {answer.status_code} {answer.text[:200]}")
            return None
        made = answer.json()[wrapper] if wrapper else answer.json()
        ident = str(made.get("id") or made.get("name"))
        owned.add(kind, ident, name, api, f"{path}/{ident}")
        return ident

    net = make(
        "networks", "network", "/v2.0/networks", {"network": {"name": "a-net"}}, "network", "a-net"
    )
    subnet = {"network_id": net, "cidr": "10.77.0.0/24", "ip_version": 4, "name": "a-subnet"}
    make("subnets", "network", "/v2.0/subnets", {"subnet": subnet}, "subnet", "a-subnet")
    make(
        "ports",
        "network",
        "/v2.0/ports",
        {"port": {"network_id": net, "name": "a-port"}},
        "port",
        "a-port",
    )
    make(
        "security-groups",
        "network",
        "/v2.0/security-groups",
        {"security_group": {"name": "a-sg"}},
        "security_group",
        "a-sg",
    )
    if "security-groups" in owned.ids:
        rule = {
            "security_group_id": owned.ids["security-groups"],
            "direction": "ingress",
            "protocol": "tcp",
            "port_range_min": 22,
            "port_range_max": 22,
            "ethertype": "IPv4",
        }
        make(
            "security-group-rules",
            "network",
            "/v2.0/security-group-rules",
            {"security_group_rule": rule},
            "security_group_rule",
            None,
        )
    make(
        "routers",
        "network",
        "/v2.0/routers",
        {"router": {"name": "a-router"}},
        "router",
        "a-router",
    )
    image = {
        "name": "a-img",
        "visibility": "private",
        "disk_format": "raw",
        "container_format": "bare",
    }
    make("images", "image", "/v2/images", image, None, "a-img")
    volumes = f"/v3/{a.project}/volumes"
    vol = make(
        "volumes", "volumev3", volumes, {"volume": {"size": 1, "name": "a-vol"}}, "volume", "a-vol"
    )
    available(a, volumes, vol)
    snap = {"volume_id": vol, "name": "a-snap", "force": True}
    make(
        "snapshots",
        "volumev3",
        f"/v3/{a.project}/snapshots",
        {"snapshot": snap},
        "snapshot",
        "a-snap",
    )
    cirros = next(
        i["id"] for i in a("image", "GET", "/v2/images").json()["images"] if i["name"] == "cirros"
    )
    server = {
        "name": "a-vm",
        "imageRef": cirros,
        "flavorRef": "1",
        "networks": [{"uuid": net}],
        "metadata": {"k": "v"},
    }
    make("servers", "compute", "/v2.1/servers", {"server": server}, "server", "a-vm")
    make(
        "os-keypairs",
        "compute",
        "/v2.1/os-keypairs",
        {"keypair": {"name": "a-key"}},
        "keypair",
        "a-key",
    )
    return owned


def fill(path: str, owned: Owned, b_project: str, a_project: str) -> tuple[str, bool] | None:
    """``path`` with A's ids in it, and whether any of them is A's; None when some
    parameter names nothing the test knows."""
    segments, mine = path.split("/"), False
    for i, segment in enumerate(segments):
        match = PARAM.fullmatch(segment)
        if match is None:
            continue
        before = segments[i - 1]
        if before in owned.ids:
            segments[i], mine = owned.ids[before], True
        elif match.group(1) == "project_id" and before == "v3":  # cinder's /v3/{project_id}/
            segments[i], mine = a_project, True
        elif before == "members":  # B makes itself a member of A's image
            segments[i] = b_project
        elif before == "os-volume_attachments" and "volumes" in owned.ids:
            segments[i] = owned.ids["volumes"]
        elif before in {"metadata", "os-extra_specs"}:  # a key of A's server's metadata
            segments[i] = "k"
        elif before in SHARED:
            segments[i] = "1"
        else:
            return None
    return "/".join(segments), mine


def body_for(method: str, path: str, b_project: str, owned: Owned) -> dict[str, Any]:
    """The request arguments B sends: a body that would be valid, so only ownership can
    stop it."""
    collection = next((s for s in reversed(path.split("/")) if s in owned.ids or s in WRAPPERS), "")
    last = path.rstrip("/").split("/")[-1]
    if method == "PATCH" and path.startswith("/v2/images/"):
        ops = [{"op": "replace", "path": "/name", "value": "stolen"}]
        return {"json": ops, "headers": {"Content-Type": IMAGE_PATCH}}
    if method in {"PUT", "POST"} and "/members" in path:
        return {"json": {"status": "accepted"} if method == "PUT" else {"member": b_project}}
    if method == "POST" and last == "action":
        stop = {"os-stop": None} if "/servers/" in path else {"os-extend": {"new_size": 2}}
        return {"json": stop}
    if method == "POST" and last == "os-volume_attachments":
        return {"json": {"volumeAttachment": {"volumeId": owned.ids.get("volumes", "")}}}
    if method in {"PUT", "POST"} and collection in WRAPPERS and last not in WRAPPERS:
        return {"json": {WRAPPERS[collection]: {"name": "stolen"}}}
    if method == "PUT" and "/metadata/" in path:
        return {"json": {"meta": {last: "stolen"}}}
    if method in {"PUT", "POST"} and last in {"metadata", "tags"}:
        return {"json": {"metadata": {"stolen": "yes"}, "tags": ["stolen"]}}
    return {"json": {}} if method in {"PUT", "POST", "PATCH"} else {}


def available(a: Caller, volumes: str, volume: str | None, wait: float = 60.0) -> None:
    """Wait until A's volume is created (a snapshot needs it available)."""
    pause, deadline = threading.Event(), time.monotonic() + wait
    while volume and time.monotonic() < deadline:
        status = a("volumev3", "GET", f"{volumes}/{volume}").json()["volume"]["status"]
        if status != "creating":
            return
        pause.wait(0.1)
