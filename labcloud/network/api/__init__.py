"""neutron-server's REST API, ``/v2.0``: one router per resource (networks, subnets, ports,
security groups, routers, floating IPs, agents, quotas) over neutron's plugin, every body and query
checked at the edge against the models in labcloud.network.schemas."""

from __future__ import annotations

from fastapi import FastAPI

from labcloud.network.agents_db import AgentsDb
from labcloud.network.api import (
    agents,
    discovery,
    floatingips,
    networks,
    ports,
    quotas,
    routers,
    security_groups,
    subnets,
)
from labcloud.network.api.deps import Plugin
from labcloud.network.api.fields import FieldsMiddleware
from labcloud.network.floatingips import FloatingIPManager
from labcloud.network.manager import NetworkManager
from labcloud.network.ports import PortManager
from labcloud.network.quotas import NetworkQuotas
from labcloud.network.routers import L3Notifier, RouterManager
from labcloud.rest.app import create_app, include_routes
from labcloud.rest.auth import TokenValidator

# FastAPI tries the routers in this order: ports first, as nova-compute creates one for
# every instance it builds (no two routers share a path, so the order changes no answer)
ROUTERS = (
    ports,
    discovery,
    networks,
    subnets,
    security_groups,
    routers,
    floatingips,
    agents,
    quotas,
)


def create_plugin(
    networks: NetworkManager,
    ports: PortManager | None = None,
    agents_db: AgentsDb | None = None,
    l3_notifier: L3Notifier | None = None,
) -> Plugin:
    ports = ports or PortManager(networks)
    l3 = RouterManager(networks, ports, l3_notifier)
    return Plugin(
        networks=networks,
        ports=ports,
        groups=ports.groups,
        routers=l3,
        floatingips=FloatingIPManager(networks, ports, l3),
        agents=agents_db or AgentsDb(networks.db),
        quotas=NetworkQuotas(networks.db),
    )


def create_network_app(
    networks: NetworkManager,
    validator: TokenValidator,
    ports: PortManager | None = None,
    agents_db: AgentsDb | None = None,
    l3_notifier: L3Notifier | None = None,
) -> FastAPI:
    app = create_app("labcloud network (neutron)", "neutron")
    app.state.plugin = create_plugin(networks, ports, agents_db, l3_notifier)
    app.state.validator = validator
    for module in ROUTERS:
        include_routes(app, module.router)
    app.add_middleware(FieldsMiddleware)  # ?fields=: only the attributes asked for
    return app
