"""Routers and floating IPs as neutron's ``router`` (l3) extension has them."""

from __future__ import annotations

from pydantic import model_validator

from labcloud.network.schemas.core import FixedIps
from labcloud.network.schemas.types import (
    Body,
    Description,
    IpAddress,
    Name,
    Owned,
    Stamped,
    Uuid,
    View,
)


class GatewayInfo(Body):
    NULLABLE = frozenset({"external_fixed_ips"})
    network_id: Uuid
    enable_snat: bool | None = None
    external_fixed_ips: FixedIps | None = None


class RouterUpdate(Body):
    NULLABLE = frozenset({"external_gateway_info"})
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    external_gateway_info: GatewayInfo | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_gateway(cls, data: object) -> object:
        """``external_gateway_info: {}`` clears the gateway, as null does."""
        if isinstance(data, dict) and data.get("external_gateway_info") == {}:
            return data | {"external_gateway_info": None}
        return data


class RouterCreate(RouterUpdate, Owned):
    pass


class RouterView(Stamped):
    name: str
    status: str
    admin_state_up: bool
    external_gateway_info: dict[str, object] | None


class InterfaceRequest(Body):
    """``add_router_interface``/``remove_router_interface``: a subnet or a port."""

    subnet_id: Uuid | None = None
    port_id: Uuid | None = None

    @model_validator(mode="after")
    def _one(self) -> InterfaceRequest:
        if (self.subnet_id is None) == (self.port_id is None):
            raise ValueError("either subnet_id or port_id must be specified")
        return self


class InterfaceInfo(View):
    id: str
    subnet_id: str
    subnet_ids: list[str]
    port_id: str
    network_id: str
    project_id: str
    tenant_id: str


class FloatingIpUpdate(Body):
    NULLABLE = frozenset({"port_id", "fixed_ip_address"})
    port_id: Uuid | None = None
    fixed_ip_address: IpAddress | None = None
    description: Description | None = None


class FloatingIpCreate(FloatingIpUpdate, Owned):
    floating_network_id: Uuid
    floating_ip_address: IpAddress | None = None
    subnet_id: Uuid | None = None


class FloatingIpView(Stamped):
    floating_ip_address: str
    floating_network_id: str
    router_id: str | None
    port_id: str | None
    fixed_ip_address: str | None
    status: str
