"""Routers, as neutron's l3_db keeps them: a row, and ports whose device_id is the router.

An interface is a port on a tenant subnet holding its gateway address (device_owner
``network:router_interface``); the gateway a port on an external network
(``network:router_gateway``). Every change of a router, its interfaces or its gateway is
told to the L3 agents (``routers_updated``, ``router_deleted``: notifier.L3AgentNotifier),
which build it (agents/l3.py). neutron schedules each router to one L3 agent
(router_l3_agent_bindings); labcloud runs one L3 agent, on the network host, hosting them all.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy import select

from labcloud import policy
from labcloud.context import RequestContext
from labcloud.exceptions import Conflict, Invalid, NotFound
from labcloud.network import views
from labcloud.network.manager import NetworkManager, now, owner_of
from labcloud.network.models import FloatingIP, IPAllocation, Port, Router
from labcloud.network.ports import PortManager

INTERFACE = "network:router_interface"
GATEWAY = "network:router_gateway"
ADMIN = RequestContext(is_admin=True, roles=("admin",))


class RouterNotFound(NotFound):
    msg_fmt = "Router %(router_id)s could not be found"


class RouterInUse(Conflict):
    msg_fmt = "Router %(router_id)s %(reason)s"


class BadRouterRequest(Invalid):
    msg_fmt = "Bad router request: %(reason)s."


class RouterInterfaceNotFound(NotFound):
    msg_fmt = "Router %(router_id)s has no interface %(what)s."


class L3Notifier(Protocol):
    def routers_updated(self, ctxt: RequestContext, router_ids: list[str]) -> None:
        """These routers (or their interfaces, gateway, floating IPs) changed."""

    def router_deleted(self, ctxt: RequestContext, router_id: str) -> None: ...


class NoL3Agents:
    """neutron-server without agents: nobody to tell."""

    def routers_updated(self, ctxt: RequestContext, router_ids: list[str]) -> None:
        return None

    def router_deleted(self, ctxt: RequestContext, router_id: str) -> None:
        return None


class RouterManager:
    def __init__(
        self, networks: NetworkManager, ports: PortManager, notifier: L3Notifier | None = None
    ) -> None:
        self.networks, self.ports, self.db = networks, ports, networks.db
        self.notifier: L3Notifier = notifier or NoL3Agents()
        ports.routers_changed = self.notifier.routers_updated

    def _router(self, ctxt: RequestContext, router_id: str) -> Router:
        with self.db.reader() as s:
            router = s.get(Router, router_id)
            target = {"project_id": router.project_id if router else None}
            if router is None or not policy.authorize(ctxt, "owner", target, fatal=False):
                raise RouterNotFound(router_id=router_id)
            s.expunge(router)
            return router

    def _view(self, router: Router) -> dict[str, Any]:
        gateway = None
        if router.gw_port_id:
            port = self.ports.get_port(ADMIN, router.gw_port_id)
            gateway = {
                "network_id": port["network_id"],
                "enable_snat": router.enable_snat,
                "external_fixed_ips": port["fixed_ips"],
            }
        return views.router(router, gateway)

    def create_router(self, ctxt: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        project_id = owner_of(ctxt, body) or ""
        _gateway_policy(ctxt, "create", body.get("external_gateway_info"))
        router_id = str(uuid.uuid4())
        with self.db.session() as s:
            s.add(
                Router(
                    id=router_id,
                    project_id=project_id,
                    name=str(body.get("name") or ""),
                    description=str(body.get("description") or ""),
                    admin_state_up=bool(body.get("admin_state_up", True)),
                    created_at=now(),
                    updated_at=now(),
                )
            )
        if body.get("external_gateway_info"):
            try:
                self._set_gateway(ctxt, router_id, body["external_gateway_info"])
            except Exception:
                self.delete_router(ADMIN, router_id)
                raise
        self.notifier.routers_updated(ctxt, [router_id])
        return self.get_router(ctxt, router_id)

    def list_routers(self, ctxt: RequestContext, filters: views.Filters) -> list[dict[str, Any]]:
        query = select(Router)
        if not ctxt.is_admin:
            query = query.where(Router.project_id == ctxt.project_id)
        with self.db.reader() as s:
            routers = list(s.scalars(query))
            s.expunge_all()
        return views.filtered([self._view(r) for r in routers], filters)

    def get_router(self, ctxt: RequestContext, router_id: str) -> dict[str, Any]:
        return self._view(self._router(ctxt, router_id))

    def update_router(
        self, ctxt: RequestContext, router_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        router = self._router(ctxt, router_id)
        if "external_gateway_info" in body:
            info = body["external_gateway_info"]
            _gateway_policy(ctxt, "update", info)
            now_on = self._view(router)["external_gateway_info"]
            if info and now_on and info["network_id"] == now_on["network_id"]:
                if "external_fixed_ips" in info:
                    self._clear_gateway(router_id)
                    self._set_gateway(ctxt, router_id, info)
            else:
                self._clear_gateway(router_id)
                if info:
                    self._set_gateway(ctxt, router_id, info)
        with self.db.session() as s:
            row = s.get(Router, router_id)
            assert row is not None
            for key in ("name", "description", "admin_state_up"):
                if key in body:
                    setattr(row, key, body[key])
            info = body.get("external_gateway_info") or {}
            if info.get("enable_snat") is not None:
                row.enable_snat = bool(info["enable_snat"])
            row.revision_number += 1
            row.updated_at = now()
        self.notifier.routers_updated(ctxt, [router_id])
        return self.get_router(ctxt, router_id)

    def delete_router(self, ctxt: RequestContext, router_id: str) -> None:
        self._router(ctxt, router_id)
        if self._interfaces(router_id):
            raise RouterInUse(router_id=router_id, reason="still has ports")
        self._clear_gateway(router_id)
        with self.db.session() as s:
            row = s.get(Router, router_id)
            if row is not None:
                s.delete(row)
        self.notifier.router_deleted(ctxt, router_id)

    # -- the gateway --------------------------------------------------------------------
    def _set_gateway(self, ctxt: RequestContext, router_id: str, info: dict[str, Any]) -> None:
        net = self.networks.get_network(ctxt, str(info["network_id"]))
        if not net["router:external"]:
            raise BadRouterRequest(reason=f"Network {net['id']} is not an external network")
        body: dict[str, Any] = {"network_id": net["id"], "device_owner": GATEWAY}
        if info.get("external_fixed_ips"):
            body["fixed_ips"] = info["external_fixed_ips"]
        port = self.ports.create_port(ADMIN, body | {"device_id": router_id})
        with self.db.session() as s:
            row = s.get(Router, router_id)
            assert row is not None
            row.gw_port_id = port["id"]
            row.enable_snat = bool(info.get("enable_snat", True))

    def _clear_gateway(self, router_id: str) -> None:
        with self.db.session() as s:
            row = s.get(Router, router_id)
            if row is None or row.gw_port_id is None:
                return
            if s.scalar(select(FloatingIP.id).where(FloatingIP.router_id == router_id)):
                raise RouterInUse(
                    router_id=router_id,
                    reason="has floating IPs on its gateway: disassociate them first",
                )
            gw_port_id, row.gw_port_id = row.gw_port_id, None
        self.ports.delete_port(ADMIN, gw_port_id, l3=True)

    # -- interfaces ---------------------------------------------------------------------
    def _interfaces(self, router_id: str) -> list[dict[str, Any]]:
        return self.ports.list_ports(ADMIN, {"device_id": router_id, "device_owner": INTERFACE})

    def add_router_interface(
        self, ctxt: RequestContext, router_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        router = self._router(ctxt, router_id)
        if body.get("subnet_id"):
            subnet = self.networks.get_subnet(ctxt, str(body["subnet_id"]))
            if not subnet["gateway_ip"]:
                raise BadRouterRequest(reason="Subnet for router interface must have a gateway IP")
            for port in self._interfaces(router_id):
                if any(ip["subnet_id"] == subnet["id"] for ip in port["fixed_ips"]):
                    raise BadRouterRequest(
                        reason=f"Router already has a port on subnet {subnet['id']}"
                    )
            fixed = [{"subnet_id": subnet["id"], "ip_address": subnet["gateway_ip"]}]
            port = self.ports.create_port(
                ADMIN,
                {
                    "network_id": subnet["network_id"],
                    "project_id": router.project_id,
                    "fixed_ips": fixed,
                    "device_owner": INTERFACE,
                    "device_id": router_id,
                },
            )
        else:
            port = self.ports.get_port(ctxt, str(body["port_id"]))
            if port["device_id"]:
                raise Conflict(
                    f"Unable to complete operation on port {port['id']} for network "
                    f"{port['network_id']}. Port already has an attached device "
                    f"{port['device_id']}."
                )
            if not port["fixed_ips"]:
                raise BadRouterRequest(reason="Router port must have at least one fixed IP")
            port = self.ports.update_port(
                ADMIN, port["id"], {"device_owner": INTERFACE, "device_id": router_id}
            )
        self.notifier.routers_updated(ctxt, [router_id])
        return _interface_info(router, port)

    def remove_router_interface(
        self, ctxt: RequestContext, router_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        router = self._router(ctxt, router_id)
        ports = self._interfaces(router_id)
        if body.get("port_id"):
            found = [p for p in ports if p["id"] == body["port_id"]]
            what = f"with id {body['port_id']}"
        else:
            subnet_id = body["subnet_id"]
            found = [p for p in ports if any(i["subnet_id"] == subnet_id for i in p["fixed_ips"])]
            what = f"on subnet {subnet_id}"
        if not found:
            raise RouterInterfaceNotFound(router_id=router_id, what=what)
        port = found[0]
        subnets = [ip["subnet_id"] for ip in port["fixed_ips"]]
        with self.db.reader() as s:
            fixed = select(IPAllocation.ip_address).where(IPAllocation.subnet_id.in_(subnets))
            if s.scalar(
                select(FloatingIP.id).where(
                    FloatingIP.router_id == router_id, FloatingIP.fixed_ip_address.in_(fixed)
                )
            ):
                raise RouterInUse(
                    router_id=router_id, reason=f"has floating IPs behind interface {port['id']}"
                )
        self.ports.delete_port(ADMIN, port["id"], l3=True)
        self.notifier.routers_updated(ctxt, [router_id])
        return _interface_info(router, port)

    def router_for(self, floating_network_id: str, subnet_id: str) -> str | None:
        """The router with a gateway on the external network and an interface on the
        subnet: the one a floating IP is reached through (None: unreachable)."""
        with self.db.reader() as s:
            for router in s.scalars(select(Router).where(Router.gw_port_id.is_not(None))):
                gw = s.get(Port, router.gw_port_id)
                if gw is None or gw.network_id != floating_network_id:
                    continue
                interfaces = select(Port.id).where(
                    Port.device_id == router.id, Port.device_owner == INTERFACE
                )
                if s.scalar(
                    select(IPAllocation.id).where(
                        IPAllocation.port_id.in_(interfaces), IPAllocation.subnet_id == subnet_id
                    )
                ):
                    return router.id
        return None


def _gateway_policy(ctxt: RequestContext, action: str, info: dict[str, Any] | None) -> None:
    for attr in ("enable_snat", "external_fixed_ips"):
        if info and info.get(attr) is not None:
            policy.authorize(ctxt, f"{action}_router:external_gateway_info:{attr}")


def _interface_info(router: Router, port: dict[str, Any]) -> dict[str, Any]:
    subnets = [ip["subnet_id"] for ip in port["fixed_ips"]]
    return {
        "id": router.id,
        "subnet_id": subnets[0] if subnets else "",
        "subnet_ids": subnets,
        "port_id": port["id"],
        "network_id": port["network_id"],
        "project_id": router.project_id,
        "tenant_id": router.project_id,
    }
