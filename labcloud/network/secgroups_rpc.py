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

import functools
from typing import Any

from sqlalchemy import Connection, Row, Select, func, select

from labcloud.db import Database
from labcloud.network.inlists import InList
from labcloud.network.models import (
    IPAllocation,
    Port,
    SecurityGroupPortBinding,
    SecurityGroupRule,
)
from labcloud.network.port_status import (
    TAP_ID_LENGTH,
    by_key_ranges,
    devices_where,
    key_params,
    key_ranges,
)
from labcloud.network.sgrules import DIRECTION_IP_PREFIX, MemberRules, expand

RULE_KEYS = ("protocol", "port_range_min", "port_range_max", "remote_group_id")
# what _rule reads, as columns: every agent asks again each time a group's members change
RULE_COLUMNS = [
    getattr(SecurityGroupRule, k)
    for k in ("security_group_id", "direction", "ethertype", "remote_ip_prefix", *RULE_KEYS)
]
ADDRESS_SEPARATOR = ","  # in no IPv4 or IPv6 address
PORT_COLUMNS = ("id", "network_id", "mac_address", "device_owner", "port_security_enabled")


def info_for_devices(db: Database, devices: list[str]) -> dict[str, Any]:
    """``security_group_info_for_devices``: the devices' ports, their groups' rules and
    the named groups' members, in one read transaction of four Core statements (each
    built once): every L2 agent asks about every port of its group once per polling
    interval while the group's members change."""
    with db.read() as c:
        return info_for_ports(c, _ports_of_devices(c, devices))


def info_for_ports(c: Connection, ports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``ports``: device → the port's view; answers neutron's security_group_info shape."""
    wanted = sorted({g for p in ports.values() for g in p["security_groups"]})
    groups: dict[str, list[dict[str, Any]]] = {g: [] for g in wanted}
    if wanted:
        for rule in c.execute(*_statements().rules(wanted)).all():
            groups[rule.security_group_id].append(_rule(rule))
    remote = {r.get("remote_group_id") for rules in groups.values() for r in rules}
    members = _member_ips(c, {g for g in remote if g})
    devices = {d: _port(p, groups) for d, p in ports.items()}
    return {"devices": devices, "security_groups": groups, "sg_member_ips": members}


def ports_of_devices(db: Database, devices: list[str]) -> dict[str, dict[str, Any]]:
    """device (``tap`` + the port id's first 11 characters) → what the agent's firewall
    needs of its port; a device of no port is left out."""
    with db.read() as c:
        return _ports_of_devices(c, devices)


def _ports_of_devices(c: Connection, devices: list[str]) -> dict[str, dict[str, Any]]:
    """``ports_of_devices`` in one statement: each port with its addresses and groups
    (a row per address and group), columns, not ORM objects."""
    prefixes = {d.removeprefix("tap"): d for d in devices}
    if not prefixes:
        return {}
    wanted = {p[:TAP_ID_LENGTH]: (d, p) for p, d in prefixes.items()}
    short = sorted(p for p in prefixes if len(p) < TAP_ID_LENGTH)
    statements = _statements()
    keys = sorted(p for p in wanted if len(p) == TAP_ID_LENGTH)
    params: dict[str, Any] = {"prefixes": keys}
    if short:  # not tap names: the general (and rarely used) form, built for the call
        query = statements.ports.where(devices_where(prefixes))
    elif by_key_ranges(c, keys):  # a round's few devices: the key's index
        query, params = _ranged(len(keys)), key_params(keys)
    else:
        query, params = statements.ports_by_prefix(keys)
    found: dict[str, dict[str, Any]] = {}
    by_id: dict[str, dict[str, Any]] = {}
    ips: set[int] = set()  # the port's addresses and groups so far (its rows come together)
    groups: set[str] = set()
    for *columns, allocation, subnet_id, address, group_id in c.execute(query, params).all():
        port_id = columns[0]
        port = by_id.get(port_id)
        if port is None:
            hit = wanted.get(port_id[:TAP_ID_LENGTH])
            if hit is None or not port_id.startswith(hit[1]):
                continue
            port = dict(zip(PORT_COLUMNS, columns, strict=True))
            port |= {"fixed_ips": [], "security_groups": [], "allowed_address_pairs": []}
            found[hit[0]] = by_id[port_id] = port  # labcloud keeps no address pairs
            ips, groups = set(), set()
        if allocation is not None and allocation not in ips:
            ips.add(allocation)
            port["fixed_ips"].append({"subnet_id": subnet_id, "ip_address": address})
        if group_id is not None and group_id not in groups:
            groups.add(group_id)
            port["security_groups"].append(group_id)
    return found


class _Statements:
    """The statements an agent's refresh runs, built once (SQLAlchemy then finds their
    compiled form by identity, not by building and hashing a new statement per call)."""

    def __init__(self) -> None:
        binding, allocation = SecurityGroupPortBinding, IPAllocation
        prefix = func.substr(Port.id, 1, TAP_ID_LENGTH)
        self.ports = (
            select(
                *(getattr(Port, k) for k in PORT_COLUMNS),
                allocation.id.label("allocation"),
                allocation.subnet_id,
                allocation.ip_address,
                binding.security_group_id.label("group_id"),
            )
            .outerjoin(allocation, allocation.port_id == Port.id)
            .outerjoin(binding, binding.port_id == Port.id)
            .order_by(Port.id, allocation.id, binding.security_group_id)
        )
        # built once too, not per call, by the number of id prefixes (inlists.py)
        self.ports_by_prefix = InList("prefixes", lambda in_: self.ports.where(in_(prefix)))
        # by the number of groups: a port has one or two (inlists.py)
        self.rules = InList(
            "groups",
            lambda in_: (
                select(*RULE_COLUMNS)
                .where(in_(SecurityGroupRule.security_group_id))
                .order_by(SecurityGroupRule.created_at, SecurityGroupRule.id)
            ),
        )
        # each group's members' addresses as one string (group_concat on SQLite, string_agg
        # on PostgreSQL): a row per group, not a row object per member for every refresh;
        # unordered (an aggregate's order is the database's choice): sorted after the split
        members = select(
            binding.security_group_id,
            func.aggregate_strings(allocation.ip_address, ADDRESS_SEPARATOR),
        ).join(allocation, allocation.port_id == binding.port_id)
        self.members = InList(
            "groups",
            lambda in_: members.where(in_(binding.security_group_id)).group_by(
                binding.security_group_id
            ),
        )


@functools.cache
def _statements() -> _Statements:
    return _Statements()


@functools.cache
def _ranged(count: int) -> Select[Any]:
    """``_ports_of_devices``' statement for ``count`` tap names, built once per count."""
    return _statements().ports.where(key_ranges(count))


def rules_for_ports(db: Database, ports: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """device → the port with its rules expanded (security_group_rules_for_devices)."""
    with db.read() as c:
        info = info_for_ports(c, ports)
    groups, members = info["security_groups"], info["sg_member_ips"]
    memo = MemberRules()  # shared by these ports
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


def _member_ips(c: Connection, groups: set[str]) -> dict[str, dict[str, list[str]]]:
    """Each group's members' addresses by ethertype, each list in address order (neutron's
    sg_member_ips). The database joins each group's addresses into one string: the
    addresses are split in C, looked at one by one only when some is IPv6."""
    found: dict[str, dict[str, list[str]]] = {g: {"IPv4": [], "IPv6": []} for g in groups}
    if groups:
        rows = c.execute(*_statements().members(sorted(groups))).all()
        for group_id, joined in rows:
            if not joined:
                continue
            addresses = joined.split(ADDRESS_SEPARATOR)
            addresses.sort()  # by code point (SQLite's ORDER BY of the text, as before)
            if ":" not in joined:
                found[group_id]["IPv4"] = addresses
                continue
            for address in addresses:
                found[group_id]["IPv6" if ":" in address else "IPv4"].append(address)
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
