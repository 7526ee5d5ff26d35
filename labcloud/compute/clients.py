"""How nova reaches glance, neutron and cinder: their REST APIs, with the user's token.

These mirror nova/image/glance.py, nova/network/neutron.py and nova/volume/cinder.py. No
other project's code is imported; only HTTP crosses the boundary.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from labcloud.context import RequestContext
from labcloud.exceptions import Invalid, LabCloudError, NotFound
from labcloud.rest.client import ServiceClient


class ServiceUnavailable(LabCloudError):
    msg_fmt = "%(service)s answered %(status)s: %(body)s"
    code = 503


def _check(answer: httpx.Response, service: str, not_found: str) -> Any:
    _check_status(answer, service, not_found)
    return answer.json() if answer.content else None


def _check_status(answer: httpx.Response, service: str, not_found: str) -> None:
    if answer.status_code == 404:
        raise NotFound(not_found)
    if answer.status_code == 400:
        raise Invalid(f"{service} refused the request: {answer.text[:200]}")
    if answer.status_code >= 300:
        raise ServiceUnavailable(service=service, status=answer.status_code, body=answer.text[:200])


def connector(host: str) -> dict[str, Any]:
    """What a compute host tells cinder about itself when it attaches or detaches a volume."""
    return {"host": host, "initiator": f"iqn.2010-10.org.labcloud:{host}"}


def _id(ident: str) -> str:
    """An id as one path segment: ``../`` or ``?`` in it never reach another URL."""
    return quote(ident, safe="")


def _auth(ctxt: RequestContext) -> dict[str, Any]:
    return {"token": ctxt.auth_token, "request_id": ctxt.request_id, "user": ctxt.user_name or ""}


class GlanceClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def show(self, ctxt: RequestContext, image_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/v2/images/{_id(image_id)}", **_auth(ctxt))
        return dict(_check(answer, "glance", f"Image {image_id} could not be found."))

    def download(self, ctxt: RequestContext, image_id: str) -> list[bytes]:
        """The image's data (``GET /v2/images/{id}/file``), as nova-compute fetches an image
        it has not cached; an image with no data is a NotFound."""
        answer = self.http.get(f"/v2/images/{_id(image_id)}/file", **_auth(ctxt))
        if answer.status_code == 204:
            raise NotFound(f"Image {image_id} has no data.")
        _check_status(answer, "glance", f"Image {image_id} could not be found.")
        return [answer.content]


class NeutronClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def show_network(self, ctxt: RequestContext, network_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/v2.0/networks/{_id(network_id)}", **_auth(ctxt))
        return dict(
            _check(answer, "neutron", f"Network {network_id} could not be found.")["network"]
        )

    def list_networks(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        answer = self.http.get("/v2.0/networks", **_auth(ctxt))
        return list(_check(answer, "neutron", "no networks")["networks"])

    def show_port(self, ctxt: RequestContext, port_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/v2.0/ports/{_id(port_id)}", **_auth(ctxt))
        return dict(_check(answer, "neutron", f"Port {port_id} could not be found.")["port"])

    def create_port(
        self,
        ctxt: RequestContext,
        network_id: str,
        instance_uuid: str,
        host: str,
        fixed_ip: str | None = None,
    ) -> dict[str, Any]:
        port: dict[str, Any] = {
            "network_id": network_id,
            "device_id": instance_uuid,
            "device_owner": "compute:nova",
            "binding:host_id": host,
        }
        if fixed_ip:
            port["fixed_ips"] = [{"ip_address": fixed_ip}]
        body = {"port": port}
        answer = self.http.post("/v2.0/ports", json=body, **_auth(ctxt))
        if answer.status_code == 409:
            raise LabCloudError(answer.json().get("NeutronError", {}).get("message", answer.text))
        return dict(_check(answer, "neutron", f"Network {network_id} could not be found.")["port"])

    def list_ports(self, ctxt: RequestContext, instance_uuid: str) -> list[dict[str, Any]]:
        answer = self.http.get("/v2.0/ports", params={"device_id": instance_uuid}, **_auth(ctxt))
        return list(_check(answer, "neutron", "no ports")["ports"])

    def bind_port(
        self, ctxt: RequestContext, port_id: str, host: str, device_id: str | None = None
    ) -> dict[str, Any]:
        """Bind a port to a host (a resize that moved the instance); with ``device_id``, also
        give it to an instance ("" takes it back: a port the user made outlives the server)."""
        port: dict[str, Any] = {"binding:host_id": host}
        if device_id is not None:
            port |= {"device_id": device_id, "device_owner": "compute:nova" if device_id else ""}
        answer = self.http.put(f"/v2.0/ports/{_id(port_id)}", json={"port": port}, **_auth(ctxt))
        return dict(_check(answer, "neutron", f"Port {port_id} could not be found.")["port"])

    def delete_port(self, ctxt: RequestContext, port_id: str) -> None:
        answer = self.http.delete(f"/v2.0/ports/{_id(port_id)}", **_auth(ctxt))
        if answer.status_code not in (204, 404):  # already gone is fine: delete is repeatable
            _check(answer, "neutron", f"Port {port_id} could not be found.")


class CinderClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def _url(self, ctxt: RequestContext, volume_id: str, action: bool = False) -> str:
        return f"/v3/{ctxt.project_id}/volumes/{_id(volume_id)}" + ("/action" if action else "")

    def get(self, ctxt: RequestContext, volume_id: str) -> dict[str, Any]:
        answer = self.http.get(self._url(ctxt, volume_id), **_auth(ctxt))
        return dict(_check(answer, "cinder", f"Volume {volume_id} could not be found.")["volume"])

    def action(self, ctxt: RequestContext, volume_id: str, name: str, body: dict[str, Any]) -> Any:
        answer = self.http.post(self._url(ctxt, volume_id, True), json={name: body}, **_auth(ctxt))
        return _check(answer, "cinder", f"Volume {volume_id} could not be found.")

    def attach(
        self,
        ctxt: RequestContext,
        volume_id: str,
        instance_uuid: str,
        mountpoint: str,
        connector: dict[str, Any],
    ) -> dict[str, Any]:
        """reserve → initialize_connection → attach, as nova drives cinder's old attach flow."""
        self.action(ctxt, volume_id, "os-reserve", {})
        info = self.action(ctxt, volume_id, "os-initialize_connection", {"connector": connector})
        self.action(
            ctxt, volume_id, "os-attach", {"instance_uuid": instance_uuid, "mountpoint": mountpoint}
        )
        return dict((info or {}).get("connection_info", {}))

    def detach(self, ctxt: RequestContext, volume_id: str, connector: dict[str, Any]) -> None:
        self.action(ctxt, volume_id, "os-begin_detaching", {})
        self.action(ctxt, volume_id, "os-terminate_connection", {"connector": connector})
        self.action(ctxt, volume_id, "os-detach", {})


def release_ports(neutron: NeutronClient, ctxt: RequestContext, instance: dict[str, Any]) -> None:
    """Give back an instance's ports: the ones nova made are deleted, the ones the user
    brought (``networks: [{"port": ...}]``) are unbound and kept, as nova does. Repeatable."""
    own = {r["port_id"] for r in instance.get("requested_networks") or [] if r.get("port_id")}
    for port in neutron.list_ports(ctxt, instance["uuid"]):
        if port["id"] in own:
            neutron.bind_port(ctxt, port["id"], "", device_id="")
        else:
            neutron.delete_port(ctxt, port["id"])
