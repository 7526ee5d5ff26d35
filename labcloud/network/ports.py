"""Ports: creating one allocates a MAC and addresses; deleting it returns them to the pool."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labcloud.context import RequestContext
from labcloud.exceptions import Invalid
from labcloud.network import ipam, views
from labcloud.network.manager import (
    ALLOCATION_ATTEMPTS,
    NetworkManager,
    PortNotFound,
    SubnetNotFound,
    now,
)
from labcloud.network.models import IPAllocation, Port, Subnet, row_dict


class PortManager:
    def __init__(self, networks: NetworkManager) -> None:
        self.networks = networks
        self.db = networks.db

    def create_port(self, ctxt: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        if "network_id" not in body:
            raise Invalid("Invalid input: a port needs a network_id.")
        net = self.networks.get_network(ctxt, str(body["network_id"]))
        requested = body.get("fixed_ips")
        if requested is not None and not isinstance(requested, list):
            raise Invalid("Invalid input for fixed_ips: it must be a list.")
        for _ in range(ALLOCATION_ATTEMPTS):
            try:
                with self.db.session() as s:
                    port = self._insert(s, ctxt, net, body, requested)
                    result = views.port(port, self._ips(s, port.id))
                break
            except IntegrityError:  # another port took that address (or MAC) first: again
                continue
        else:
            raise ipam.IpAddressGenerationFailure(net_id=net["id"])
        self.networks.driver.plug_port(result)
        return result

    def _insert(
        self,
        s: Session,
        ctxt: RequestContext,
        net: dict[str, Any],
        body: dict[str, Any],
        requested: list[dict[str, Any]] | None,
    ) -> Port:
        port = Port(
            id=str(uuid.uuid4()),
            network_id=net["id"],
            project_id=body.get("project_id") or ctxt.project_id or net["project_id"],
            name=str(body.get("name", "")),
            mac_address=body.get("mac_address") or ipam.random_mac(),
            device_id=str(body.get("device_id", "")),
            device_owner=str(body.get("device_owner", "")),
            host=str(body.get("binding:host_id", "")),
            status="ACTIVE" if body.get("device_id") else "DOWN",
            admin_state_up=bool(body.get("admin_state_up", True)),
            description=str(body.get("description", "")),
            created_at=now(),
            updated_at=now(),
        )
        s.add(port)
        subnets = {
            x.id: row_dict(x)
            for x in s.scalars(select(Subnet).where(Subnet.network_id == net["id"]))
        }
        for subnet_id, address in self._wanted(s, net["id"], subnets, requested):
            s.add(
                IPAllocation(
                    port_id=port.id, subnet_id=subnet_id, network_id=net["id"], ip_address=address
                )
            )
        s.flush()  # the unique constraints speak here
        return port

    def _wanted(
        self,
        s: Session,
        net_id: str,
        subnets: dict[str, dict[str, Any]],
        requested: list[dict[str, Any]] | None,
    ) -> list[tuple[str, str]]:
        if requested is None:  # one address from the first subnet of each IP version
            firsts: dict[int, dict[str, Any]] = {}
            for sub in subnets.values():
                firsts.setdefault(sub["ip_version"], sub)
            requested = [{"subnet_id": sub["id"]} for sub in firsts.values()]
        wanted = []
        for item in requested:
            subnet = self._subnet_for(subnets, item)
            if "ip_address" in item:
                address = ipam.check_fixed_ip(subnet, str(item["ip_address"]))
                if address in self._taken(s, subnet["id"]):
                    raise ipam.IpAddressAlreadyAllocated(ip=address, subnet_id=subnet["id"])
            else:
                free = ipam.candidates(subnet["allocation_pools"], self._taken(s, subnet["id"]))
                address = next(free, "")
                if not address:
                    raise ipam.IpAddressGenerationFailure(net_id=net_id)
            wanted.append((subnet["id"], address))
        return wanted

    @staticmethod
    def _subnet_for(subnets: dict[str, dict[str, Any]], item: dict[str, Any]) -> dict[str, Any]:
        if "subnet_id" in item:
            if item["subnet_id"] not in subnets:
                raise SubnetNotFound(subnet_id=item["subnet_id"])
            return subnets[item["subnet_id"]]
        address = str(item.get("ip_address", ""))
        for subnet in subnets.values():
            try:
                ipam.check_fixed_ip(subnet, address)
                return subnet
            except ipam.InvalidIpForSubnet:
                continue
        raise ipam.InvalidIpForSubnet(ip_address=address)

    @staticmethod
    def _taken(s: Session, subnet_id: str) -> set[str]:
        return set(
            s.scalars(select(IPAllocation.ip_address).where(IPAllocation.subnet_id == subnet_id))
        )

    @staticmethod
    def _ips(s: Session, port_id: str) -> list[dict[str, str]]:
        return [
            {"subnet_id": a.subnet_id, "ip_address": a.ip_address}
            for a in s.scalars(select(IPAllocation).where(IPAllocation.port_id == port_id))
        ]

    def list_ports(self, ctxt: RequestContext, filters: dict[str, str]) -> list[dict[str, Any]]:
        with self.db.session() as s:
            query = select(Port)
            if not ctxt.is_admin:
                query = query.where(Port.project_id == ctxt.project_id)
            for column in ("device_id", "network_id", "device_owner"):
                if column in filters:
                    query = query.where(getattr(Port, column) == filters[column])
            rows = [views.port(p, self._ips(s, p.id)) for p in s.scalars(query)]
        return views.filtered(rows, filters)

    def get_port(self, ctxt: RequestContext, port_id: str) -> dict[str, Any]:
        found = self.list_ports(ctxt, {"id": port_id})
        if not found:
            raise PortNotFound(port_id=port_id)
        return found[0]

    def update_port(
        self, ctxt: RequestContext, port_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        self.get_port(ctxt, port_id)
        with self.db.session() as s:
            port = s.get(Port, port_id)
            assert port is not None
            for key in ("name", "description", "device_id", "device_owner", "admin_state_up"):
                if key in body:
                    setattr(port, key, body[key])
            if "binding:host_id" in body:
                port.host = str(body["binding:host_id"])
            port.status = "ACTIVE" if port.device_id else "DOWN"
            port.revision_number += 1
            port.updated_at = now()
            return views.port(port, self._ips(s, port_id))

    def delete_port(self, ctxt: RequestContext, port_id: str) -> None:
        """Delete the port and give its addresses back to the pool."""
        self.get_port(ctxt, port_id)
        with self.db.session() as s:
            for allocation in s.scalars(
                select(IPAllocation).where(IPAllocation.port_id == port_id)
            ):
                s.delete(allocation)
            port = s.get(Port, port_id)
            if port is not None:
                s.delete(port)
        self.networks.driver.unplug_port(port_id)
