"""What neutron-server tells an L2 agent's firewall about its ports (neutron's
SecurityGroupServerRpcMixin), in neutron's two shapes:

- ``security_group_info_for_devices`` (what the agents call, as neutron's do when the
  server has it): each device's port (MAC, addresses, groups, port security), each of
  those groups' rules once, and the addresses of the groups the rules name, once. A
  refresh of every port of a group costs one copy of its members, not one per port.
- ``security_group_rules_for_devices`` (the older one): each port with its rules
  expanded (sgrules.py): as many rules per port as remote group members.

A rule's ``remote_ip_prefix`` is sent as ``source_ip_prefix`` (ingress) or
``dest_ip_prefix`` (egress), as neutron sends it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from labcloud.db import Database
from labcloud.network.models import (
    IPAllocation,
    Port,
    SecurityGroupPortBinding,
    SecurityGroupRule,
)
from labcloud.network.port_status import TAP_ID_LENGTH, devices_where
from labcloud.network.sgrules import DIRECTION_IP_PREFIX, ethertype, expand

RULE_KEYS = ("protocol", "port_range_min", "port_range_max", "remote_group_id")
# what _rule reads, as columns: every agent asks again each time a group's members change
RULE_COLUMNS = [
    getattr(SecurityGroupRule, k)
    for k in ("security_group_id", "direction", "ethertype", "remote_ip_prefix", *RULE_KEYS)
]


def info_for_ports(db: Database, ports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``ports``: device → the port's view; answers neutron's security_group_info shape."""
    wanted = {g for p in ports.values() for g in p["security_groups"]}
    groups: dict[str, list[dict[str, Any]]] = {g: [] for g in wanted}
    with db.reader() as s:
        for rule in s.execute(
            select(*RULE_COLUMNS)
            .where(SecurityGroupRule.security_group_id.in_(wanted))
            .order_by(SecurityGroupRule.created_at, SecurityGroupRule.id)
        ):
            groups[rule.security_group_id].append(_rule(rule))
        remote = {r.get("remote_group_id") for rules in groups.values() for r in rules}
        members = _member_ips(s, {g for g in remote if g})
    devices = {d: _port(p, groups) for d, p in ports.items()}
    return {"devices": devices, "security_groups": groups, "sg_member_ips": members}


def ports_of_devices(db: Database, devices: list[str]) -> dict[str, dict[str, Any]]:
    """device (``tap`` + the port id's first 11 characters) → what the agent's firewall
    needs of its port, for any number of devices in three queries, one transaction; a
    device of no port is left out. Columns, not ORM objects: an agent refreshing every
    port of a group asks about all of them, once per polling interval."""
    prefixes = {d.removeprefix("tap"): d for d in devices}
    if not prefixes:
        return {}
    wanted = {p[:TAP_ID_LENGTH]: (d, p) for p, d in prefixes.items()}
    match = devices_where(prefixes.values())
    columns = (Port.id, Port.network_id, Port.mac_address, Port.device_owner)
    found: dict[str, dict[str, Any]] = {}
    by_id: dict[str, dict[str, Any]] = {}
    with db.reader() as s:
        for row in s.execute(select(*columns, Port.port_security_enabled).where(match)):
            hit = wanted.get(row.id[:TAP_ID_LENGTH])
            if hit is None or not row.id.startswith(hit[1]):
                continue
            device = hit[0]
            port = dict(row._mapping) | {"fixed_ips": [], "security_groups": []}
            port["allowed_address_pairs"] = []  # labcloud keeps none
            found[device] = by_id[row.id] = port
        ids = list(by_id)
        for port_id, subnet_id, address in s.execute(
            select(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address)
            .where(IPAllocation.port_id.in_(ids))
            .order_by(IPAllocation.id)
        ):
            by_id[port_id]["fixed_ips"].append({"subnet_id": subnet_id, "ip_address": address})
        for port_id, group_id in s.execute(
            select(
                SecurityGroupPortBinding.port_id, SecurityGroupPortBinding.security_group_id
            ).where(SecurityGroupPortBinding.port_id.in_(ids))
        ):
            by_id[port_id]["security_groups"].append(group_id)
    return found


def rules_for_ports(db: Database, ports: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """device → the port with its rules expanded (security_group_rules_for_devices)."""
    info = info_for_ports(db, ports)
    groups, members = info["security_groups"], info["sg_member_ips"]
    memo: dict[int, list[tuple[str, dict[str, Any]]]] = {}  # shared by these ports
    return {
        device: port | {"security_group_rules": expand(port, groups, members, memo)}
        for device, port in info["devices"].items()
    }


def _rule(rule: Row[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {
        "security_group_id": rule.security_group_id,
        "direction": rule.direction,
        "ethertype": rule.ethertype,
    }
    found |= {k: getattr(rule, k) for k in RULE_KEYS if getattr(rule, k) is not None}
    if rule.remote_ip_prefix:
        found[DIRECTION_IP_PREFIX[rule.direction]] = rule.remote_ip_prefix
    return found


def _member_ips(s: Session, groups: set[str]) -> dict[str, dict[str, list[str]]]:
    """Each group's members' addresses by ethertype (neutron's sg_member_ips)."""
    found: dict[str, dict[str, list[str]]] = {g: {"IPv4": [], "IPv6": []} for g in groups}
    if groups:
        for group_id, address in s.execute(
            select(SecurityGroupPortBinding.security_group_id, IPAllocation.ip_address)
            .join(IPAllocation, IPAllocation.port_id == SecurityGroupPortBinding.port_id)
            .where(SecurityGroupPortBinding.security_group_id.in_(groups))
            .order_by(IPAllocation.ip_address)
        ):
            found[group_id][ethertype(address)].append(address)
    return found


def _port(port: dict[str, Any], groups: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    remote = {r.get("remote_group_id") for g in port["security_groups"] for r in groups[g]}
    return {
        "id": port["id"],
        "network_id": port["network_id"],
        "mac_address": port["mac_address"],
        "fixed_ips": [ip["ip_address"] for ip in port["fixed_ips"]],
        "device_owner": port["device_owner"],
        "port_security_enabled": port["port_security_enabled"],
        "allowed_address_pairs": port["allowed_address_pairs"],
        "security_groups": port["security_groups"],
        "security_group_source_groups": sorted(g for g in remote if g),
    }
