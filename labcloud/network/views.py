"""Networks, subnets and ports in JSON, with neutron's field names."""

from __future__ import annotations

from typing import Any

from labcloud.network.models import Network, Port, Subnet


def _stamps(row: Network | Subnet | Port) -> dict[str, Any]:
    return {
        "created_at": row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": row.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "revision_number": row.revision_number,
        "description": row.description,
        "tags": [],
        "project_id": row.project_id,
        "tenant_id": row.project_id,
    }


def network(net: Network, subnet_ids: list[str]) -> dict[str, Any]:
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


def port(p: Port, fixed_ips: list[dict[str, str]]) -> dict[str, Any]:
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
        "security_groups": [],
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "port_security_enabled": True,
    } | _stamps(p)


def filtered(rows: list[dict[str, Any]], filters: dict[str, str]) -> list[dict[str, Any]]:
    """Keep rows whose fields equal the query's (neutron filters by any attribute)."""

    def keep(row: dict[str, Any]) -> bool:
        return all(
            str(row[k]).lower() == v.lower() if isinstance(row[k], bool) else str(row[k]) == v
            for k, v in filters.items()
            if k in row
        )

    return [r for r in rows if keep(r)]
