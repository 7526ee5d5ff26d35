"""Floating IPs, as neutron's l3_db keeps them: an address of an external network, held by
a port there (device_owner ``network:floatingip``), mapped to a fixed IP of a tenant port
through the router that joins the two. Deleting one deletes its port: the address goes back
to the external subnet's pool. Each change is told to the L3 agents as ``routers_updated``
of the router it leaves and of the one it joins; the agent applies the NAT.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from sqlalchemy import select

from labcloud import policy
from labcloud.context import RequestContext
from labcloud.exceptions import Conflict, Invalid, NotFound
from labcloud.network import views
from labcloud.network.manager import NetworkManager, now, owner_of
from labcloud.network.models import FloatingIP
from labcloud.network.ports import PortManager
from labcloud.network.routers import ADMIN, RouterManager

OWNER = "network:floatingip"


class FloatingIPNotFound(NotFound):
    msg_fmt = "Floating IP %(floatingip_id)s could not be found"


class BadFloatingIpRequest(Invalid):
    msg_fmt = "Bad floatingip request: %(reason)s."


class ExternalGatewayForFloatingIPNotFound(NotFound):
    msg_fmt = (
        "External network %(external_network_id)s is not reachable from subnet "
        "%(subnet_id)s. Therefore, cannot associate Port %(port_id)s with a Floating IP."
    )


class FloatingIPManager:
    def __init__(self, networks: NetworkManager, ports: PortManager, routers: RouterManager):
        self.networks, self.ports, self.routers, self.db = networks, ports, routers, networks.db

    def create_floatingip(self, ctxt: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        project_id = owner_of(ctxt, body) or ""
        if body.get("floating_ip_address"):
            policy.authorize(ctxt, "create_floatingip:floating_ip_address")
        net = self.networks.get_network(ctxt, str(body["floating_network_id"]))
        if not net["router:external"]:
            raise BadFloatingIpRequest(
                reason=f"Network {net['id']} is not a valid external network"
            )
        fip_id = str(uuid.uuid4())
        port = self.ports.create_port(
            ADMIN,
            {
                "network_id": net["id"],
                "fixed_ips": [self._address_request(net, body)],
                "device_owner": OWNER,
                "device_id": fip_id,
            },
        )
        try:
            with self.db.session() as s:
                s.add(
                    FloatingIP(
                        id=fip_id,
                        project_id=project_id,
                        floating_ip_address=port["fixed_ips"][0]["ip_address"],
                        floating_network_id=net["id"],
                        floating_port_id=port["id"],
                        description=str(body.get("description") or ""),
                        created_at=now(),
                        updated_at=now(),
                    )
                )
            if body.get("port_id"):
                self._associate(ctxt, fip_id, body)
        except Exception:
            self.ports.delete_port(ADMIN, port["id"], l3=True)
            raise
        made = self.get_floatingip(ctxt, fip_id)
        self._notify(ctxt, made["router_id"])
        return made

    def _address_request(self, net: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """The floating port's fixed_ips entry: as asked, else the first IPv4 subnet."""
        if body.get("subnet_id") or body.get("floating_ip_address"):
            wanted = {"subnet_id": body.get("subnet_id")}
            return wanted | {"ip_address": body.get("floating_ip_address")}
        for subnet_id in net["subnets"]:
            if self.networks.get_subnet(ADMIN, subnet_id)["ip_version"] == 4:
                return {"subnet_id": subnet_id}
        raise BadFloatingIpRequest(reason=f"Network {net['id']} has no IPv4 subnet")

    def _row(self, ctxt: RequestContext, fip_id: str) -> FloatingIP:
        with self.db.reader() as s:
            fip = s.get(FloatingIP, fip_id)
            target = {"project_id": fip.project_id if fip else None}
            if fip is None or not policy.authorize(ctxt, "owner", target, fatal=False):
                raise FloatingIPNotFound(floatingip_id=fip_id)
            s.expunge(fip)
            return fip

    def list_floatingips(
        self, ctxt: RequestContext, filters: views.Filters
    ) -> list[dict[str, Any]]:
        query = select(FloatingIP)
        if not ctxt.is_admin:
            query = query.where(FloatingIP.project_id == ctxt.project_id)
        with self.db.reader() as s:
            rows = [views.floating_ip(f) for f in s.scalars(query)]
        return views.filtered(rows, filters)

    def get_floatingip(self, ctxt: RequestContext, fip_id: str) -> dict[str, Any]:
        return views.floating_ip(self._row(ctxt, fip_id))

    def update_floatingip(
        self, ctxt: RequestContext, fip_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        self._row(ctxt, fip_id)
        if "port_id" in body:
            before = self._row(ctxt, fip_id).router_id
            if body["port_id"]:
                self._associate(ctxt, fip_id, body)
            else:
                self._set(fip_id, None, None, None)
            self._notify(ctxt, before, self._row(ctxt, fip_id).router_id)
        with self.db.session() as s:
            fip = s.get(FloatingIP, fip_id)
            assert fip is not None
            if "description" in body:
                fip.description = str(body["description"] or "")
            fip.revision_number += 1
            fip.updated_at = now()
        return self.get_floatingip(ctxt, fip_id)

    def delete_floatingip(self, ctxt: RequestContext, fip_id: str) -> None:
        fip = self._row(ctxt, fip_id)
        with self.db.session() as s:
            row = s.get(FloatingIP, fip_id)
            if row is not None:
                s.delete(row)
        self.ports.delete_port(ADMIN, fip.floating_port_id, l3=True)
        self._notify(ctxt, fip.router_id)

    def _notify(self, ctxt: RequestContext, *router_ids: str | None) -> None:
        changed = sorted({r for r in router_ids if r})
        if changed:
            self.routers.notifier.routers_updated(ctxt, changed)

    # -- association --------------------------------------------------------------------
    def _associate(self, ctxt: RequestContext, fip_id: str, body: dict[str, Any]) -> None:
        fip = self._row(ctxt, fip_id)
        port = self.ports.get_port(ctxt, str(body["port_id"]))
        fixed = self._fixed_ip(port, body.get("fixed_ip_address"))
        router_id = self.routers.router_for(fip.floating_network_id, fixed["subnet_id"])
        if router_id is None:
            raise ExternalGatewayForFloatingIPNotFound(
                external_network_id=fip.floating_network_id,
                subnet_id=fixed["subnet_id"],
                port_id=port["id"],
            )
        with self.db.reader() as s:
            other = s.scalar(
                select(FloatingIP.id).where(
                    FloatingIP.fixed_port_id == port["id"],
                    FloatingIP.fixed_ip_address == fixed["ip_address"],
                    FloatingIP.floating_network_id == fip.floating_network_id,
                    FloatingIP.id != fip_id,
                )
            )
        if other:
            raise Conflict(
                f"Cannot associate floating IP {fip.floating_ip_address} ({fip_id}) with port "
                f"{port['id']} using fixed IP {fixed['ip_address']}, as that fixed IP already "
                f"has a floating IP on external network {fip.floating_network_id}."
            )
        self._set(fip_id, port["id"], fixed["ip_address"], router_id)

    @staticmethod
    def _fixed_ip(port: dict[str, Any], wanted: str | None) -> dict[str, str]:
        v4 = [ip for ip in port["fixed_ips"] if ipaddress.ip_address(ip["ip_address"]).version == 4]
        if wanted:
            for ip in v4:
                if ip["ip_address"] == wanted:
                    return dict(ip)
            raise BadFloatingIpRequest(reason=f"Port {port['id']} does not have fixed ip {wanted}")
        if not v4:
            raise BadFloatingIpRequest(
                reason=f"No IPv4 address found on port {port['id']} to associate with"
            )
        return dict(v4[0])

    def _set(
        self, fip_id: str, port_id: str | None, address: str | None, router: str | None
    ) -> None:
        with self.db.session() as s:
            fip = s.get(FloatingIP, fip_id)
            assert fip is not None
            fip.fixed_port_id, fip.fixed_ip_address, fip.router_id = port_id, address, router
            fip.status = "ACTIVE" if port_id else "DOWN"
