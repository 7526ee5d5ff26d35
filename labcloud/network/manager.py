"""neutron-server's logic: networks, subnets and ports on the neutron database, with IPAM.

A project sees its own networks, shared ones and external ones (as neutron's get_network
rule has it); an admin sees everything. Which attributes only an admin may set is
labcloud.policy's word (``create_network:shared``...). Bodies arrive validated (see
schemas/); the checks here need the database (the subnet's CIDR, who owns what).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from labcloud import policy
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import Conflict, Invalid, NotFound
from labcloud.network import ipam, segments, views
from labcloud.network.driver import NetworkDriver, NoopDriver
from labcloud.network.models import Base, IPAllocation, Network, Port, Subnet
from labcloud.network.schemas.core import check_pools

ALLOCATION_ATTEMPTS = 50
NETWORKS: Table = Network.__table__  # type: ignore[assignment]  # a Table, typed FromClause


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


# attributes only an admin may set, with their default (setting the default is no change)
ADMIN_ON_CREATE = {
    "shared": False,
    "router:external": False,
    "provider:network_type": None,
    "provider:physical_network": None,
    "provider:segmentation_id": None,
}
ADMIN_ON_UPDATE = ("shared", "router:external")


def owner_of(ctxt: RequestContext, body: dict[str, Any]) -> str | None:
    """The project a body creates its resource in; a non-admin may only name its own."""
    project = body.get("project_id") or body.get("tenant_id")
    policy.may_target_project(ctxt, project)
    return project or ctxt.project_id


def readable(ctxt: RequestContext, net: Network | views.Columns) -> bool:
    """neutron's get_network: admin, owner, shared or external."""
    return ctxt.is_admin or net.shared or net.external or net.project_id == ctxt.project_id


class NetworkManager:
    def __init__(
        self, db_url: str, driver: NetworkDriver | None = None, *, agents: bool = False
    ) -> None:
        """``agents``: L2 agents report ports up (a port stays DOWN until its agent says
        update_device_up); without them a port with a device is ACTIVE at once."""
        self.db = Database(db_url, Base.metadata)
        self.db.create_all()
        self.driver: NetworkDriver = driver or NoopDriver()
        self.agents = agents
        self._network_row = select(NETWORKS).where(NETWORKS.c.id == bindparam("id"))

    # -- networks -----------------------------------------------------------------------
    def _network(
        self, s: Session, ctxt: RequestContext, net_id: str, *, write: bool = False
    ) -> Network:
        """The network if ``ctxt`` may read it (``write``: change it or use it for a port or
        subnet: admin, owner or, to attach to, shared)."""
        net = s.get(Network, net_id)
        if net is None:
            raise NetworkNotFound(net_id=net_id)
        _check_use(ctxt, net, write)
        return net

    def create_network(self, ctxt: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        for attr, default in ADMIN_ON_CREATE.items():
            if body.get(attr, default) != default:
                policy.authorize(ctxt, f"create_network:{attr}")
        project_id = owner_of(ctxt, body)
        with self.db.session() as s:
            network_type, physnet, segmentation_id = segments.allocate(s, body)
            net = Network(
                id=str(uuid.uuid4()),
                name=str(body.get("name", "")),
                project_id=project_id or "",
                shared=bool(body.get("shared", False)),
                external=bool(body.get("router:external", False)),
                admin_state_up=bool(body.get("admin_state_up", True)),
                network_type=network_type,
                physical_network=physnet,
                segmentation_id=segmentation_id,
                description=str(body.get("description", "")),
                created_at=now(),
                updated_at=now(),
            )
            s.add(net)
            s.flush()
            result = views.network(net, [])
        self.driver.ensure_network(ctxt, result)
        return result

    def network_for_port(
        self, ctxt: RequestContext, net_id: str, c: Connection | None = None
    ) -> dict[str, Any]:
        """The network if ``ctxt`` may put a port on it (admin, owner, shared), read with
        one Core statement on ``c`` (the caller's read transaction) or a new one; its
        subnets are left out (a new port reads them where it allocates)."""
        if c is None:
            with self.db.read() as c:
                return self.network_for_port(ctxt, net_id, c)
        row = c.execute(self._network_row, {"id": net_id}).first()
        if row is None:
            raise NetworkNotFound(net_id=net_id)
        net = SimpleNamespace(**row._mapping)
        _check_use(ctxt, net, write=True)
        return views.network(net, [])

    def segment(self, net_id: str) -> dict[str, Any]:
        """The network's segment: network_type, physical_network, segmentation_id."""
        with self.db.reader() as s:
            net = s.get(Network, net_id)
            if net is None:
                raise NetworkNotFound(net_id=net_id)
            return segments.of(net)

    def list_networks(self, ctxt: RequestContext, filters: views.Filters) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            result = []
            for net in s.scalars(select(Network)):
                if readable(ctxt, net):
                    subnets = list(s.scalars(select(Subnet.id).where(Subnet.network_id == net.id)))
                    result.append(views.network(net, subnets))
            return views.filtered(result, filters)

    def get_network(self, ctxt: RequestContext, net_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            net = self._network(s, ctxt, net_id)
            return views.network(
                net, list(s.scalars(select(Subnet.id).where(Subnet.network_id == net.id)))
            )

    def update_network(
        self, ctxt: RequestContext, net_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        for attr in ADMIN_ON_UPDATE:
            if attr in body:
                policy.authorize(ctxt, f"update_network:{attr}")
        with self.db.session() as s:
            net = self._owned_network(s, ctxt, net_id)
            for key in ("name", "description", "admin_state_up", "shared"):
                if key in body:
                    setattr(net, key, body[key])
            if "router:external" in body:
                net.external = bool(body["router:external"])
            net.revision_number += 1
            net.updated_at = now()
        return self.get_network(ctxt, net_id)

    def _owned_network(self, s: Session, ctxt: RequestContext, net_id: str) -> Network:
        """The network if ``ctxt`` may change it: admin or owner (a shared or external
        network is others' to read, not to change: neutron answers 404 then)."""
        net = self._network(s, ctxt, net_id)
        if not policy.authorize(ctxt, "owner", {"project_id": net.project_id}, fatal=False):
            raise NetworkNotFound(net_id=net_id)
        return net

    def delete_network(self, ctxt: RequestContext, net_id: str) -> None:
        with self.db.session() as s:
            net = self._owned_network(s, ctxt, net_id)
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
        self.driver.delete_network(ctxt, net_id)

    # -- subnets ------------------------------------------------------------------------
    def create_subnet(self, ctxt: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        if "network_id" not in body or "cidr" not in body:
            raise Invalid("Invalid input: a subnet needs network_id and cidr.")
        policy.may_target_project(ctxt, body.get("project_id") or body.get("tenant_id"))
        version = int(body.get("ip_version", 0)) or None
        cidr = ipam.parse_cidr(str(body["cidr"]), version)
        gateway = body.get("gateway_ip", ipam.default_gateway(cidr))
        if gateway is not None:
            ipam.check_gateway(cidr, str(gateway))
        pools = body.get("allocation_pools") or ipam.default_pools(cidr, gateway)
        _check_pools(str(cidr), pools, gateway)
        with self.db.session() as s:
            net = self._owned_network(s, ctxt, str(body["network_id"]))
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
            result = views.subnet(subnet)
        self.driver.update_subnet(ctxt, result, "create")
        return result

    def list_subnets(self, ctxt: RequestContext, filters: views.Filters) -> list[dict[str, Any]]:
        visible = {n["id"] for n in self.list_networks(ctxt, {})}
        with self.db.reader() as s:
            rows = [views.subnet(x) for x in s.scalars(select(Subnet)) if x.network_id in visible]
        return views.filtered(rows, filters)

    def get_subnet(self, ctxt: RequestContext, subnet_id: str) -> dict[str, Any]:
        found = self.list_subnets(ctxt, {"id": subnet_id})
        if not found:
            raise SubnetNotFound(subnet_id=subnet_id)
        return found[0]

    def _owned_subnet(self, s: Session, ctxt: RequestContext, subnet_id: str) -> Subnet:
        """The subnet if ``ctxt`` may change it (admin or its network's owner)."""
        subnet = s.get(Subnet, subnet_id)
        if subnet is None:
            raise SubnetNotFound(subnet_id=subnet_id)
        try:
            self._owned_network(s, ctxt, subnet.network_id)
        except NetworkNotFound:
            raise SubnetNotFound(subnet_id=subnet_id) from None
        return subnet

    def update_subnet(
        self, ctxt: RequestContext, subnet_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        with self.db.session() as s:
            subnet = self._owned_subnet(s, ctxt, subnet_id)
            if "cidr" in body:  # neutron: cidr has allow_put False
                raise Invalid("Cannot update read-only attribute cidr")
            gateway = body.get("gateway_ip", subnet.gateway_ip)
            pools = body.get("allocation_pools", subnet.allocation_pools)
            if "gateway_ip" in body or "allocation_pools" in body:
                if gateway is not None:
                    ipam.check_gateway(ipam.parse_cidr(subnet.cidr), str(gateway))
                _check_pools(subnet.cidr, pools, gateway)
            for key in ("name", "description", "enable_dhcp", "dns_nameservers"):
                if key in body:
                    setattr(subnet, key, body[key])
            subnet.gateway_ip, subnet.allocation_pools = gateway, pools
            subnet.revision_number += 1
            subnet.updated_at = now()
            result = views.subnet(subnet)
        self.driver.update_subnet(ctxt, result, "update")
        return result

    def delete_subnet(self, ctxt: RequestContext, subnet_id: str) -> None:
        gone = self.get_subnet(ctxt, subnet_id)
        with self.db.session() as s:
            subnet = self._owned_subnet(s, ctxt, subnet_id)
            if s.scalar(select(IPAllocation.id).where(IPAllocation.subnet_id == subnet_id)):
                raise SubnetInUse(subnet_id=subnet_id)
            s.delete(subnet)
        self.driver.update_subnet(ctxt, gone, "delete")


def _check_pools(cidr: str, pools: list[dict[str, str]], gateway: str | None) -> None:
    try:
        check_pools(cidr, pools, gateway)
    except ValueError as exc:
        raise Invalid(f"Invalid input for allocation_pools. Reason: {exc}.") from None


def _check_use(ctxt: RequestContext, net: Network | views.Columns, write: bool) -> None:
    """NetworkNotFound unless ``ctxt`` may read ``net`` (``write``: change it or use it for
    a port or subnet: admin, owner or, to attach to, shared)."""
    if not readable(ctxt, net):
        raise NetworkNotFound(net_id=net.id)
    if write and not (ctxt.is_admin or net.project_id == ctxt.project_id or net.shared):
        raise NetworkNotFound(net_id=net.id)
