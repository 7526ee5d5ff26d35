"""Networks, subnets and ports as neutron-server accepts and answers them (neutron-lib's
attribute maps for ``networks``, ``subnets`` and ``ports``, with the provider, external-net
and binding extensions)."""

from __future__ import annotations

import ipaddress
import itertools
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from labcloud.network.schemas.types import (
    Body,
    Cidr,
    Description,
    DeviceField,
    IpAddress,
    MacAddress,
    Name,
    Owned,
    PhysNet,
    Stamped,
    Uuid,
)

MAX_DNS_NAMESERVERS = 5  # neutron's max_dns_nameservers
MAX_FIXED_IPS = 5  # neutron's max_fixed_ips_per_port
SEGMENTATION_RANGES = {"vlan": (1, 4094), "vxlan": (1, 2**24 - 1)}


# -- networks -----------------------------------------------------------------------------
class NetworkUpdate(Body):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    shared: bool | None = None
    external: bool | None = Field(None, alias="router:external")


class NetworkCreate(NetworkUpdate, Owned):
    NULLABLE = frozenset(
        {"provider:network_type", "provider:physical_network", "provider:segmentation_id"}
    )
    network_type: Literal["flat", "vlan", "vxlan"] | None = Field(
        None, alias="provider:network_type"
    )
    physical_network: PhysNet | None = Field(None, alias="provider:physical_network")
    segmentation_id: int | None = Field(None, alias="provider:segmentation_id")

    @model_validator(mode="after")
    def _segment(self) -> NetworkCreate:
        kind, seg = self.network_type or "vxlan", self.segmentation_id
        if kind == "flat" and seg is not None:
            raise ValueError("provider:segmentation_id: a flat network has no segmentation id")
        if kind in SEGMENTATION_RANGES and seg is not None:
            low, high = SEGMENTATION_RANGES[kind]
            if not low <= seg <= high:
                raise ValueError(
                    f"provider:segmentation_id: {seg} out of range ({low} through {high})"
                )
        if kind == "vxlan" and self.physical_network is not None:
            raise ValueError("provider:physical_network: a vxlan network has none")
        return self


class NetworkView(Stamped):
    name: str
    status: str
    admin_state_up: bool
    shared: bool
    external: bool = Field(alias="router:external")
    subnets: list[str]
    mtu: int
    network_type: str | None = Field(alias="provider:network_type")
    physical_network: str | None = Field(alias="provider:physical_network")
    segmentation_id: int | None = Field(alias="provider:segmentation_id")


# -- subnets ------------------------------------------------------------------------------
class AllocationPool(Body):
    start: IpAddress
    end: IpAddress


def _pools_in(cidr: str, pools: list[AllocationPool], gateway: str | None) -> None:
    """Pools inside the CIDR (not its network or broadcast address), each start <= end,
    none overlapping another or holding the gateway: neutron's _validate_allocation_pools."""
    net = ipaddress.ip_network(cidr)
    reserved = {net.network_address} | ({net.broadcast_address} if net.version == 4 else set())
    ranges = []
    for pool in pools:
        start, end = ipaddress.ip_address(pool.start), ipaddress.ip_address(pool.end)
        low, high = int(start), int(end)
        text = f"{pool.start}-{pool.end}"
        if start.version != net.version or end.version != net.version:
            raise ValueError(f"allocation pool {text} is not of the subnet's IP version")
        if low > high:
            raise ValueError(f"allocation pool {text}: its start is after its end")
        if start not in net or end not in net or start in reserved or end in reserved:
            raise ValueError(f"the allocation pool {text} spans beyond the subnet cidr {cidr}")
        if gateway and low <= int(ipaddress.ip_address(gateway)) <= high:
            raise ValueError(f"gateway ip {gateway} conflicts with allocation pool {text}")
        ranges.append((low, high, text))
    ranges.sort()
    for (_, end_of_one, text), (start_of_next, _, other) in itertools.pairwise(ranges):
        if start_of_next <= end_of_one:
            raise ValueError(f"found overlapping allocation pools: {text} and {other}")


class SubnetUpdate(Body):
    NULLABLE = frozenset({"gateway_ip"})
    name: Name | None = None
    description: Description | None = None
    enable_dhcp: bool | None = None
    dns_nameservers: Annotated[list[IpAddress], Field(max_length=MAX_DNS_NAMESERVERS)] | None = None
    gateway_ip: IpAddress | None = None
    allocation_pools: list[AllocationPool] | None = None
    cidr: Cidr | None = None  # refused by the manager when it differs, as neutron does


class SubnetCreate(Owned):
    NULLABLE = frozenset({"gateway_ip"})
    network_id: Uuid
    ip_version: Literal[4, 6] | None = None
    cidr: Cidr
    name: Name | None = None
    description: Description | None = None
    enable_dhcp: bool | None = None
    dns_nameservers: Annotated[list[IpAddress], Field(max_length=MAX_DNS_NAMESERVERS)] | None = None
    gateway_ip: IpAddress | None = None
    allocation_pools: list[AllocationPool] | None = None

    @field_validator("cidr", mode="before")
    @classmethod
    def _strict_cidr(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                ipaddress.ip_network(value, strict=True)
            except ValueError:
                raise ValueError(f"'{value}' isn't a recognized IP subnet cidr") from None
        return value

    @field_validator("gateway_ip")
    @classmethod
    def _gateway(cls, value: str | None, info: ValidationInfo) -> str | None:
        cidr = info.data.get("cidr")
        if value is not None and cidr is not None:
            net, ip = ipaddress.ip_network(cidr), ipaddress.ip_address(value)
            if ip not in net or ip in (net.network_address, net.broadcast_address):
                raise ValueError(f"gateway ip {value} is not a host of the subnet {cidr}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SubnetCreate:
        net = ipaddress.ip_network(self.cidr)
        if self.ip_version is not None and net.version != self.ip_version:
            raise ValueError(f"cidr {self.cidr} is not an IPv{self.ip_version} subnet")
        if net.num_addresses < 4:
            raise ValueError(f"cidr {self.cidr} is too small for a subnet")
        if self.allocation_pools:
            gateway = (
                self.gateway_ip
                if "gateway_ip" in self.model_fields_set
                else str(net.network_address + 1)
            )
            _pools_in(self.cidr, self.allocation_pools, gateway)
        return self


class SubnetView(Stamped):
    name: str
    network_id: str
    ip_version: int
    cidr: str
    gateway_ip: str | None
    allocation_pools: list[dict[str, str]]
    enable_dhcp: bool
    dns_nameservers: list[str]
    host_routes: list[dict[str, str]]


def check_pools(cidr: str, pools: list[dict[str, str]], gateway: str | None) -> None:
    """The pools and gateway of an update, against the subnet's CIDR (ValueError if wrong)."""
    _pools_in(cidr, [AllocationPool.model_validate(p) for p in pools], gateway)


# -- ports --------------------------------------------------------------------------------
class FixedIp(Body):
    subnet_id: Uuid | None = None
    ip_address: IpAddress | None = None

    @model_validator(mode="after")
    def _something(self) -> FixedIp:
        if self.subnet_id is None and self.ip_address is None:
            raise ValueError("fixed_ips: an entry needs a subnet_id or an ip_address")
        return self


FixedIps = Annotated[list[FixedIp], Field(max_length=MAX_FIXED_IPS)]


class PortUpdate(Body):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    device_id: DeviceField | None = None
    device_owner: DeviceField | None = None
    host: DeviceField | None = Field(None, alias="binding:host_id")
    fixed_ips: FixedIps | None = None
    security_groups: list[Uuid] | None = None
    port_security_enabled: bool | None = None


class PortCreate(PortUpdate, Owned):
    network_id: Uuid
    mac_address: MacAddress | None = None
    vnic_type: Literal["normal"] | None = Field(None, alias="binding:vnic_type")


class PortView(Stamped):
    name: str
    network_id: str
    mac_address: str
    fixed_ips: list[dict[str, str]]
    device_id: str
    device_owner: str
    status: str
    admin_state_up: bool
    host: str = Field(alias="binding:host_id")
    vif_type: str = Field(alias="binding:vif_type")
    vnic_type: str = Field(alias="binding:vnic_type")
    security_groups: list[str]
    port_security_enabled: bool
