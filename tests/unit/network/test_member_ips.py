"""The security group members' addresses neutron-server sends its L2 agents
(``sg_member_ips``): read as one string per group, they are what a read of every member's
row gives, in address order, split by ethertype."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from labcloud.db import Database
from labcloud.network.models import (
    Base,
    IPAllocation,
    Network,
    Port,
    SecurityGroup,
    SecurityGroupPortBinding,
    Subnet,
)
from labcloud.network.secgroups_rpc import _member_ips

STAMP = datetime(2026, 1, 1)
# string order is not numeric order ("10.0.0.10" < "10.0.0.9"); one port has two addresses
MEMBERS = {
    "p1": ("g1", ["10.0.0.9"]),
    "p2": ("g1", ["10.0.0.10", "fd00::a"]),
    "p3": ("g1", ["10.0.0.100"]),
    "p4": ("g2", ["10.0.0.2"]),
    "p5": ("g2", ["fd00::1"]),
}


def _database() -> Database:
    db = Database("sqlite://", Base.metadata)
    db.create_all()
    stamps = {"created_at": STAMP, "updated_at": STAMP}
    with db.session() as s:
        s.add(Network(id="net", project_id="p", **stamps))
        for group in ("g1", "g2", "g3"):
            s.add(SecurityGroup(id=group, project_id="p", **stamps))
        for subnet, cidr, version in (("s4", "10.0.0.0/24", 4), ("s6", "fd00::/64", 6)):
            s.add(
                Subnet(
                    id=subnet,
                    network_id="net",
                    project_id="p",
                    ip_version=version,
                    cidr=cidr,
                    allocation_pools=[],
                    **stamps,
                )
            )
        s.flush()
        for n, (port_id, (group, addresses)) in enumerate(MEMBERS.items()):
            mac = f"fa:16:3e:00:00:0{n}"
            s.add(Port(id=port_id, network_id="net", project_id="p", mac_address=mac, **stamps))
            s.flush()
            s.add(SecurityGroupPortBinding(port_id=port_id, security_group_id=group))
            for address in addresses:
                subnet = "s6" if ":" in address else "s4"
                s.add(
                    IPAllocation(
                        port_id=port_id, subnet_id=subnet, network_id="net", ip_address=address
                    )
                )
    return db


def _row_by_row(db: Database, groups: set[str]) -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, list[str]]] = {g: {"IPv4": [], "IPv6": []} for g in groups}
    query = (
        select(SecurityGroupPortBinding.security_group_id, IPAllocation.ip_address)
        .join(IPAllocation, IPAllocation.port_id == SecurityGroupPortBinding.port_id)
        .order_by(IPAllocation.ip_address)
    )
    with db.read() as c:
        for group, address in c.execute(query):
            if group in groups:
                found[group]["IPv6" if ":" in address else "IPv4"].append(address)
    return found


def test_member_ips_are_every_members_address_in_order() -> None:
    db = _database()
    with db.read() as c:
        got = _member_ips(c, {"g1", "g2", "g3"})
    assert got == _row_by_row(db, {"g1", "g2", "g3"})
    assert got["g1"] == {"IPv4": ["10.0.0.10", "10.0.0.100", "10.0.0.9"], "IPv6": ["fd00::a"]}
    assert got["g2"] == {"IPv4": ["10.0.0.2"], "IPv6": ["fd00::1"]}
    assert got["g3"] == {"IPv4": [], "IPv6": []}  # a group of no member
    with db.read() as c:
        assert _member_ips(c, set()) == {}
