"""The network service as a cloud runs it: its managers, its app, and the spec's networks."""

from __future__ import annotations

from fastapi import FastAPI

from labcloud.context import RequestContext
from labcloud.network.api import create_network_app
from labcloud.network.driver import NetworkDriver
from labcloud.network.manager import NetworkManager
from labcloud.rest.auth import TokenValidator
from labcloud.spec import CloudSpec


class NetworkService:
    name = "neutron"
    service_type = "network"

    def __init__(
        self, db_url: str, *, validator: TokenValidator, driver: NetworkDriver | None = None
    ) -> None:
        self.manager = NetworkManager(db_url, driver)
        self.validator = validator

    def create_app(self) -> FastAPI:
        return create_network_app(self.manager, self.validator)

    def load(self, spec: CloudSpec, project_ids: dict[str, str]) -> None:
        """Create the spec's networks, each with one subnet, owned by their projects."""
        admin = RequestContext(is_admin=True, roles=("admin",))
        for net in spec.networks:
            made = self.manager.create_network(
                admin,
                {"name": net.name, "shared": net.shared, "project_id": project_ids[net.project]},
            )
            subnet = {"network_id": made["id"], "cidr": net.cidr, "name": f"{net.name}-subnet"}
            if net.gateway_ip:
                subnet["gateway_ip"] = net.gateway_ip
            self.manager.create_subnet(admin, subnet)

    def stop(self) -> None:
        self.manager.db.dispose()
