"""A new port's rows, as ML2's create_port writes them in one transaction: the port, its
addresses, its security groups' bindings and the blocks that keep it DOWN until its
agents have provisioned it (provisioning_blocks.py).

Every instance gets a port, and each of its rows was an ORM object to build, track, flush
and trace; here each table takes one Core INSERT on a bare connection
(Database.transaction), and the trace is told of each row as a session's flush tells it.
The unique constraints still decide a race: a MAC or an address another port took first
is an IntegrityError, and the caller tries again.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.engine import Connection

from labcloud.db import Database
from labcloud.exceptions import Conflict
from labcloud.network import allocations, ipam
from labcloud.network import provisioning_blocks as blocks
from labcloud.network.manager import now
from labcloud.network.models import Port, SecurityGroupPortBinding

PORTS: Table = Port.__table__  # type: ignore[assignment]  # a Table, typed FromClause
BINDINGS: Table = SecurityGroupPortBinding.__table__  # type: ignore[assignment]
# the INSERTs of every new port, built once (SQLAlchemy then finds their compiled form
# without building and hashing a statement per port)
INSERT_PORT = insert(PORTS)
INSERT_IPS = insert(allocations.IPS).returning(allocations.IPS.c.id)
INSERT_BINDINGS = insert(BINDINGS)


class MacAddressInUse(Conflict):
    msg_fmt = (
        "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use."
    )


def port_values(
    project_id: str, net: dict[str, Any], body: dict[str, Any], *, agents: bool
) -> dict[str, Any]:
    """The new port's columns (a new id, and a random MAC unless the body names one); a
    port with a device is ACTIVE at once only without agents to plug it."""
    when = now()
    return {
        "id": str(uuid.uuid4()),
        "network_id": net["id"],
        "project_id": project_id,
        "name": str(body.get("name", "")),
        "mac_address": body.get("mac_address") or ipam.random_mac(),
        "device_id": str(body.get("device_id", "")),
        "device_owner": str(body.get("device_owner", "")),
        "host": str(body.get("binding:host_id", "")),
        "status": "ACTIVE" if body.get("device_id") and not agents else "DOWN",
        "admin_state_up": bool(body.get("admin_state_up", True)),
        "port_security_enabled": body.get("port_security_enabled") is not False,
        "description": str(body.get("description", "")),
        "revision_number": 0,
        "created_at": when,
        "updated_at": when,
    }


def insert_port(
    db: Database,
    c: Connection,
    port: dict[str, Any],
    requested: list[dict[str, Any]] | None,
    groups: list[str],
    dhcp_hosted: bool | None,
    *,
    mac_asked: bool = False,
) -> list[dict[str, str]]:
    """Write ``port`` (``port_values``) and its rows in the caller's transaction ``c``;
    its addresses (``requested``: neutron's fixed_ips). ``dhcp_hosted``: whether a DHCP
    agent hosts its network (None: neutron-server has no agents, nothing blocks it);
    ``mac_asked``: the body named the MAC, a 409 if a port has it."""
    mac, net_id = port["mac_address"], port["network_id"]
    if mac_asked and c.scalar(select(PORTS.c.id).where(PORTS.c.mac_address == mac)):
        raise MacAddressInUse(net_id=net_id, mac=mac)
    subnets = allocations.subnets_of(c, net_id)  # in this transaction: they are allocated
    chosen = allocations.choose(c, net_id, subnets, requested)
    c.execute(INSERT_PORT, port)
    db.record(c, PORTS.name, "insert", port["id"])
    db.record_state(c, Port, port["id"], port["status"])
    fixed_ips = [{"subnet_id": sub, "ip_address": address} for sub, address in chosen]
    if chosen:
        rows = [{"port_id": port["id"], "network_id": net_id} | ip for ip in fixed_ips]
        ids = c.execute(INSERT_IPS, rows)
        db.record(c, allocations.IPS.name, "insert", *map(str, ids.scalars()))
    if groups:
        c.execute(
            INSERT_BINDINGS, [{"port_id": port["id"], "security_group_id": g} for g in groups]
        )
        db.record(c, BINDINGS.name, "insert", *(f"{port['id']}/{g}" for g in groups))
    if dhcp_hosted is not None:  # who has to provision it before it goes ACTIVE
        dhcp = [i for i, x in subnets.items() if x["enable_dhcp"]]
        entities = blocks.new_port_blocks(
            port["host"], port["status"], fixed_ips, dhcp_hosted, dhcp
        )
        blocks.insert_blocks(db, c, port["id"], entities)
    return fixed_ips
