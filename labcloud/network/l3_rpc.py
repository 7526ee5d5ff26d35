"""neutron-server's endpoint for its L3 agents, on ``q-l3-plugin`` (neutron's
L3RpcCallback): ``get_router_ids`` and ``sync_routers`` (each router with what its agent
builds: ``_interfaces``, ``gw_port``, ``_floatingips``, every port with its ``subnets``)
and ``update_floatingip_statuses``.

neutron answers only for the routers scheduled to the asking agent's host; labcloud's one
L3 agent hosts every router (no router_l3_agent_bindings).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from labcloud.context import RequestContext
from labcloud.network.manager import NetworkManager
from labcloud.network.models import FloatingIP, Router
from labcloud.network.ports import PortManager
from labcloud.network.routers import ADMIN, INTERFACE


class L3RpcCallback:
    def __init__(self, networks: NetworkManager, ports: PortManager) -> None:
        self.networks, self.ports = networks, ports

    def get_router_ids(self, ctxt: RequestContext, host: str) -> list[str]:
        with self.networks.db.reader() as s:
            return sorted(s.scalars(select(Router.id).where(Router.admin_state_up.is_(True))))

    def sync_routers(
        self, ctxt: RequestContext, host: str, router_ids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """The routers (all, or those of ``router_ids`` that still exist and are up) as the
        agent builds them; a router missing from the answer is one to remove."""
        query = select(Router).where(Router.admin_state_up.is_(True))
        if router_ids is not None:
            query = query.where(Router.id.in_(router_ids))
        with self.networks.db.reader() as s:
            routers = list(s.scalars(query.order_by(Router.id)))
            s.expunge_all()
        return [self._router(r) for r in routers]

    def update_floatingip_statuses(
        self, ctxt: RequestContext, router_id: str, fip_statuses: dict[str, str]
    ) -> None:
        """The agent says which floating IPs it made ACTIVE (or could not: ERROR)."""
        with self.networks.db.session() as s:
            for fip_id, status in fip_statuses.items():
                fip = s.get(FloatingIP, fip_id)
                if fip is not None and fip.router_id == router_id:
                    fip.status = status

    # -- what a router is, for its agent --------------------------------------------------
    def _router(self, router: Router) -> dict[str, Any]:
        interfaces = self.ports.list_ports(
            ADMIN, {"device_id": router.id, "device_owner": INTERFACE}
        )
        gw_port = None
        if router.gw_port_id:
            gw_port = self._with_subnets(self.ports.get_port(ADMIN, router.gw_port_id))
        return {
            "id": router.id,
            "name": router.name,
            "project_id": router.project_id,
            "admin_state_up": router.admin_state_up,
            "status": router.status,
            "enable_snat": router.enable_snat,
            "gw_port": gw_port,
            "gw_port_id": router.gw_port_id,
            "_interfaces": [self._with_subnets(p) for p in interfaces],
            "_floatingips": self._floatingips(router.id),
        }

    def _with_subnets(self, port: dict[str, Any]) -> dict[str, Any]:
        """The port with each of its subnets' cidr and gateway_ip (neutron's ``subnets``)."""
        subnets = []
        for ip in port["fixed_ips"]:
            subnet = self.networks.get_subnet(ADMIN, ip["subnet_id"])
            subnets.append({k: subnet[k] for k in ("id", "cidr", "gateway_ip")})
        return port | {"subnets": subnets}

    def _floatingips(self, router_id: str) -> list[dict[str, Any]]:
        with self.networks.db.reader() as s:
            rows = s.scalars(
                select(FloatingIP)
                .where(FloatingIP.router_id == router_id, FloatingIP.fixed_port_id.is_not(None))
                .order_by(FloatingIP.floating_ip_address)
            )
            return [
                {
                    "id": f.id,
                    "floating_ip_address": f.floating_ip_address,
                    "fixed_ip_address": f.fixed_ip_address,
                    "port_id": f.fixed_port_id,
                    "router_id": f.router_id,
                    "status": f.status,
                }
                for f in rows
            ]
