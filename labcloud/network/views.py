"""neutron's resources in JSON, with neutron's field names."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from labcloud.network.models import (
    FloatingIP,
    Network,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)

# a row read or written with Core statements, its columns as attributes (as an ORM row's)
Columns = SimpleNamespace
Row = Network | Subnet | Port | SecurityGroup | SecurityGroupRule | Router | FloatingIP | Columns


def _stamps(row: Row) -> dict[str, Any]:
    return {
        "created_at": row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": row.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "revision_number": row.revision_number,
        "description": row.description,
        "tags": [],
        "project_id": row.project_id,
        "tenant_id": row.project_id,
    }


def network(net: Network | Columns, subnet_ids: list[str]) -> dict[str, Any]:
    return {
        "id": net.id,
        "name": net.name,
        "status": "ACTIVE",
        "admin_state_up": net.admin_state_up,
        "shared": net.shared,
        "router:external": net.external,
        "subnets": subnet_ids,
        "mtu": net.mtu,
        "provider:network_type": net.network_type,
        "provider:physical_network": net.physical_network,
        "provider:segmentation_id": net.segmentation_id,
        "port_security_enabled": True,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
    } | _stamps(net)


def subnet(sub: Subnet) -> dict[str, Any]:
    return {
        "id": sub.id,
        "name": sub.name,
        "network_id": sub.network_id,
        "ip_version": sub.ip_version,
        "cidr": sub.cidr,
        "gateway_ip": sub.gateway_ip,
        "allocation_pools": sub.allocation_pools,
        "enable_dhcp": sub.enable_dhcp,
        "dns_nameservers": sub.dns_nameservers,
        "host_routes": [],
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
        "service_types": [],
        "segment_id": None,
    } | _stamps(sub)


def port(
    p: Port | Columns, fixed_ips: list[dict[str, str]], security_groups: list[str] | None = None
) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "network_id": p.network_id,
        "mac_address": p.mac_address,
        "fixed_ips": fixed_ips,
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "status": p.status,
        "admin_state_up": p.admin_state_up,
        "binding:host_id": p.host,
        "binding:vif_type": "bridge" if p.host else "unbound",
        "binding:vnic_type": "normal",
        "security_groups": security_groups or [],
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "port_security_enabled": p.port_security_enabled,
    } | _stamps(p)


def security_group_rule(rule: SecurityGroupRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "security_group_id": rule.security_group_id,
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "remote_group_id": rule.remote_group_id,
        "remote_address_group_id": None,
    } | _stamps(rule)


def security_group(group: SecurityGroup, rules: list[SecurityGroupRule]) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "stateful": group.stateful,
        "shared": False,
        "security_group_rules": [security_group_rule(r) for r in rules],
    } | _stamps(group)


def router(r: Router, gateway: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "status": r.status,
        "admin_state_up": r.admin_state_up,
        "external_gateway_info": gateway,
        "routes": [],
        "distributed": False,
        "ha": False,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "flavor_id": None,
    } | _stamps(r)


def floating_ip(fip: FloatingIP) -> dict[str, Any]:
    return {
        "id": fip.id,
        "floating_ip_address": fip.floating_ip_address,
        "floating_network_id": fip.floating_network_id,
        "router_id": fip.router_id,
        "port_id": fip.fixed_port_id,
        "fixed_ip_address": fip.fixed_ip_address,
        "status": fip.status,
        "port_details": None,
        "qos_policy_id": None,
        "port_forwardings": [],
    } | _stamps(fip)


Filters = Mapping[str, str | list[str]]  # attribute: a value, or any of several


def filtered(rows: list[dict[str, Any]], filters: Filters) -> list[dict[str, Any]]:
    """Keep rows whose fields equal the query's (neutron filters by any attribute; a filter
    given several times, ``?id=a&id=b``, keeps rows matching any of its values)."""

    def matches(value: Any, wanted: str) -> bool:
        return (
            str(value).lower() == wanted.lower()
            if isinstance(value, bool)
            else str(value) == wanted
        )

    def keep(row: dict[str, Any]) -> bool:
        return all(
            any(matches(row[k], w) for w in (v if isinstance(v, list) else [v]))
            for k, v in filters.items()
            if k in row
        )

    return [r for r in rows if keep(r)]
