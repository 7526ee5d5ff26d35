"""neutron-server's logic: networks, subnets and ports on the neutron database, with IPAM.

A project sees its own networks and shared ones; an admin sees everything. Creating a port
gives it a ``fa:16:3e`` MAC and an address from each subnet of its network (or the fixed IPs
asked for); deleting it gives the addresses back to the pool.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import Conflict, Invalid, NotFound
from labcloud.network import ipam, views
from labcloud.network.driver import NetworkDriver, NoopDriver
from labcloud.network.models import Base, IPAllocation, Network, Port, Subnet

ALLOCATION_ATTEMPTS = 50


class NetworkNotFound(NotFound):
    msg_fmt = "Network %(net_id)s could not be found."


class SubnetNotFound(NotFound):
    msg_fmt = "Subnet %(subnet_id)s could not be found."


class PortNotFound(NotFound):
    msg_fmt = "Port %(port_id)s could not be found."


class NetworkInUse(Conflict):
    msg_fmt = (
        "Unable to complete operation on network %(net_id)s. There are one or more "
        "ports still in use on the network."
    )


class SubnetInUse(Conflict):
    msg_fmt = (
        "Unable to complete operation on subnet %(subnet_id)s: One or more ports have an "
        "IP allocation from this subnet."
    )


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


class NetworkManager:
    def __init__(self, db_url: str, driver: NetworkDriver | None = None) -> None:
        self.db = Database(db_url, Base.metadata)
        self.db.create_all()
        self.driver: NetworkDriver = driver or NoopDriver()

    # -- networks -----------------------------------------------------------------------
    def _network(self, s: Session, ctxt: RequestContext, net_id: str) -> Network:
        net = s.get(Network, net_id)
        if net is None or not (ctxt.is_admin or net.shared or net.project_id == ctxt.project_id):
            raise NetworkNotFound(net_id=net_id)
        return net

    def create_network(self, ctxt: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        with self.db.session() as s:
            net = Network(
                id=str(uuid.uuid4()),
                name=str(body.get("name", "")),
                project_id=body.get("project_id") or body.get("tenant_id") or ctxt.project_id or "",
                shared=bool(body.get("shared", False)),
                external=bool(body.get("router:external", False)),
                admin_state_up=bool(body.get("admin_state_up", True)),
                network_type=body.get("provider:network_type") or "flat",
                physical_network=body.get("provider:physical_network"),
                segmentation_id=body.get("provider:segmentation_id"),
                description=str(body.get("description", "")),
                created_at=now(),
                updated_at=now(),
            )
            s.add(net)
            s.flush()
            result = views.network(net, [])
        self.driver.ensure_network(result)
        return result

    def list_networks(self, ctxt: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        with self.db.session() as s:
            result = []
            for net in s.scalars(select(Network)):
                if ctxt.is_admin or net.shared or net.project_id == ctxt.project_id:
                    subnets = list(s.scalars(select(Subnet.id).where(Subnet.network_id == net.id)))
                    result.append(views.network(net, subnets))
            return views.filtered(result, filters)

    def get_network(self, ctxt: RequestContext, net_id: str) -> dict[str, Any]:
        with self.db.session() as s:
            net = self._network(s, ctxt, net_id)
            return views.network(
                net, list(s.scalars(select(Subnet.id).where(Subnet.network_id == net.id)))
            )

    def update_network(
        self, ctxt: RequestContext, net_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        with self.db.session() as s:
            net = self._network(s, ctxt, net_id)
            for key in ("name", "description", "admin_state_up", "shared"):
                if key in body:
                    setattr(net, key, body[key])
            net.revision_number += 1
            net.updated_at = now()
        return self.get_network(ctxt, net_id)

    def delete_network(self, ctxt: RequestContext, net_id: str) -> None:
        with self.db.session() as s:
            net = self._network(s, ctxt, net_id)
            busy = s.scalar(
                select(Port.id).where(
                    Port.network_id == net_id, Port.device_owner != "network:dhcp"
                )
            )
            if busy:
                raise NetworkInUse(net_id=net_id)
            for port in s.scalars(select(Port).where(Port.network_id == net_id)):
                s.delete(port)
            for subnet in s.scalars(select(Subnet).where(Subnet.network_id == net_id)):
                s.delete(subnet)
            s.delete(net)
        self.driver.delete_network(net_id)

    # -- subnets ------------------------------------------------------------------------
    def create_subnet(self, ctxt: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        if "network_id" not in body or "cidr" not in body:
            raise Invalid("Invalid input: a subnet needs network_id and cidr.")
        version = int(body.get("ip_version", 0)) or None
        cidr = ipam.parse_cidr(str(body["cidr"]), version)
        gateway = body.get("gateway_ip", ipam.default_gateway(cidr))
        if gateway is not None:
            ipam.check_gateway(cidr, str(gateway))
        pools = body.get("allocation_pools") or ipam.default_pools(cidr, gateway)
        for pool in pools:
            for end in ("start", "end"):
                ipam.check_fixed_ip({"cidr": str(cidr)}, str(pool.get(end, "")))
        with self.db.session() as s:
            net = self._network(s, ctxt, str(body["network_id"]))
            subnet = Subnet(
                id=str(uuid.uuid4()),
                network_id=net.id,
                project_id=net.project_id,
                name=str(body.get("name", "")),
                ip_version=cidr.version,
                cidr=str(cidr),
                gateway_ip=gateway,
                allocation_pools=pools,
                enable_dhcp=bool(body.get("enable_dhcp", True)),
                dns_nameservers=list(body.get("dns_nameservers") or []),
                description=str(body.get("description", "")),
                created_at=now(),
                updated_at=now(),
            )
            s.add(subnet)
            s.flush()
            return views.subnet(subnet)

    def list_subnets(self, ctxt: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        visible = {n["id"] for n in self.list_networks(ctxt, {})}
        with self.db.session() as s:
            rows = [views.subnet(x) for x in s.scalars(select(Subnet)) if x.network_id in visible]
        return views.filtered(rows, filters)

    def get_subnet(self, ctxt: RequestContext, subnet_id: str) -> dict[str, Any]:
        found = self.list_subnets(ctxt, {"id": subnet_id})
        if not found:
            raise SubnetNotFound(subnet_id=subnet_id)
        return found[0]

    def update_subnet(
        self, ctxt: RequestContext, subnet_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        self.get_subnet(ctxt, subnet_id)
        with self.db.session() as s:
            subnet = s.get(Subnet, subnet_id)
            assert subnet is not None
            for key in ("name", "description", "enable_dhcp", "dns_nameservers"):
                if key in body:
                    setattr(subnet, key, body[key])
            subnet.revision_number += 1
            subnet.updated_at = now()
            return views.subnet(subnet)

    def delete_subnet(self, ctxt: RequestContext, subnet_id: str) -> None:
        self.get_subnet(ctxt, subnet_id)
        with self.db.session() as s:
            if s.scalar(select(IPAllocation.id).where(IPAllocation.subnet_id == subnet_id)):
                raise SubnetInUse(subnet_id=subnet_id)
            subnet = s.get(Subnet, subnet_id)
            if subnet is not None:
                s.delete(subnet)
