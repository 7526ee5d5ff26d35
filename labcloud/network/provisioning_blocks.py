"""neutron's provisioning blocks (neutron/db/provisioning_blocks.py): a port goes ACTIVE
only when everyone who has to provision it has said so.

When neutron-server creates a port (or rebinds it, or changes its addresses) it writes one
block per entity that will provision it, in the same transaction as the port:

- ``L2``: the port is bound to a host, whose L2 agent will plug its tap
  (ML2's mechanism driver, ``_insert_provisioning_block``); the agent's
  ``update_device_up`` / ``update_device_list`` completes it;
- ``DHCP``: the port has an address on a DHCP-enabled subnet and a DHCP agent hosts its
  network (ML2's ``_setup_dhcp_agent_provisioning_component``); the DHCP agent completes it
  with ``dhcp_ready_on_ports`` once its dnsmasq knows the port's MAC. Without a live DHCP
  agent there is no such block: nobody would ever complete it.

``provisioning_complete`` removes an entity's block, then looks whether any block is
left: if none, the port is provisioned and the callback (ML2's ``_port_provisioned``:
ACTIVE, and nova hears network-vif-plugged) writes so. neutron commits the removal before
it looks, so that two entities completing at once cannot each still see the other's block
(and leave the port blocked for ever); labcloud does both in one transaction that holds the
ports' rows first (SQLite: the database's write lock), so that the second to complete waits
for the first's commit and then sees its block gone. The callback stays idempotent, as
neutron's is. An entity completing a block the port never had still triggers the callback
when no block is left, as in neutron; a port deleted meanwhile is left out.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Iterable

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    bindparam,
    delete,
    exists,
    insert,
    select,
)
from sqlalchemy.orm import Session

from labcloud.db import Database
from labcloud.network.inlists import InList
from labcloud.network.models import Port, ProvisioningBlock, Subnet

LOG = logging.getLogger(__name__)
L2_AGENT_ENTITY = "L2"
DHCP_ENTITY = "DHCP"
BLOCKS: Table = ProvisioningBlock.__table__  # type: ignore[assignment]  # a Table
INSERT_BLOCKS = insert(BLOCKS)  # a new port's blocks: built once, not per port
# ML2's _port_provisioned, in the completing transaction: it writes the ports of these ids
# that have no block left and returns what runs after the commit
Provisioned = Callable[[Connection, list[str]], Callable[[], None]]


def add_provisioning_component(s: Session, port_id: str, entity: str, *, new: bool = False) -> None:
    """Block the port's transition to ACTIVE until ``entity`` completes it (in the
    caller's transaction; a block already there stays one). A ``new`` port, created in
    this transaction, has no block yet: nothing to look for."""
    if new or s.get(ProvisioningBlock, (port_id, entity)) is None:
        s.add(ProvisioningBlock(port_id=port_id, entity=entity))
        LOG.debug("port %s will not go ACTIVE until provisioned by %s", port_id, entity)


def remove_provisioning_component(s: Session, port_id: str, entity: str) -> bool:
    """Take the block away without completing it (it is no longer right); whether there
    was one."""
    return _remove(s, [port_id], entity) > 0


def _remove(s: Session, port_ids: list[str], entity: str) -> int:
    """Delete the entity's blocks of these ports, row by row (so the trace shows each
    one go, as it shows each one written); how many there were."""
    query = select(ProvisioningBlock).where(
        ProvisioningBlock.port_id.in_(port_ids), ProvisioningBlock.entity == entity
    )
    found = list(s.scalars(query))
    for block in found:
        s.delete(block)
    return len(found)


def _complete(db: Database, c: Connection, port_ids: list[str], entity: str) -> None:
    """``_remove`` as the agents' reports need it, a round of ports at a time: one
    DELETE ... RETURNING (SQLite and PostgreSQL alike), built once, on a connection
    without an ORM session, instead of loading each block to delete it; the trace still
    shows each block go."""
    statement, params = _statements().complete(port_ids)
    gone = c.execute(statement, params | {"entity": entity}).scalars()
    db.record(c, ProvisioningBlock.__tablename__, "delete", *(f"{p}/{entity}" for p in gone))


def insert_l2_block(s: Session, port: Port, *, new: bool = False) -> None:
    """ML2's mechanism driver on a port bound to a host (created so, or moved there): its
    host's L2 agent will plug it. labcloud binds every such port to the host's agent (no
    binding failure: a port on a host without an agent stays DOWN, as neutron's would)."""
    if port.host and port.status != "ACTIVE":
        add_provisioning_component(s, port.id, L2_AGENT_ENTITY, new=new)


def setup_dhcp_block(
    s: Session,
    port_id: str,
    fixed_ips: list[dict[str, str]],
    dhcp_hosted: bool,
    *,
    dhcp_subnets: Collection[str] | None = None,
    new: bool = False,
) -> None:
    """ML2's _setup_dhcp_agent_provisioning_component: a DHCP block when the port has an
    address on a DHCP-enabled subnet and a DHCP agent hosts its network (``dhcp_hosted``),
    else none (one left from an earlier address goes). ``dhcp_subnets``: the network's
    DHCP-enabled subnets, when the caller has read them already; a ``new`` port has no
    block to take away."""
    subnets = [ip["subnet_id"] for ip in fixed_ips]
    if dhcp_hosted and subnets and _on_dhcp(s, subnets, dhcp_subnets):
        add_provisioning_component(s, port_id, DHCP_ENTITY, new=new)
    elif not new:
        remove_provisioning_component(s, port_id, DHCP_ENTITY)


def _on_dhcp(s: Session, subnets: list[str], dhcp_subnets: Collection[str] | None) -> bool:
    """Is one of ``subnets`` DHCP-enabled (by ``dhcp_subnets``, else by asking)."""
    if dhcp_subnets is not None:
        return any(subnet in dhcp_subnets for subnet in subnets)
    on_dhcp = select(Subnet.id).where(Subnet.id.in_(subnets), Subnet.enable_dhcp.is_(True))
    return s.scalar(on_dhcp.limit(1)) is not None


def new_port_blocks(
    host: str,
    status: str,
    fixed_ips: list[dict[str, str]],
    dhcp_hosted: bool,
    dhcp_subnets: Collection[str],
) -> list[str]:
    """The entities that block a port being created: ``insert_l2_block``'s and
    ``setup_dhcp_block``'s choice for a port that has none yet."""
    entities = [L2_AGENT_ENTITY] if host and status != "ACTIVE" else []
    if dhcp_hosted and any(ip["subnet_id"] in dhcp_subnets for ip in fixed_ips):
        entities.append(DHCP_ENTITY)
    return entities


def insert_blocks(db: Database, c: Connection, port_id: str, entities: list[str]) -> None:
    """Write a new port's blocks (``new_port_blocks``) in the caller's Core transaction,
    in one statement; the trace shows each, as it shows the ORM's."""
    if not entities:
        return
    c.execute(INSERT_BLOCKS, [{"port_id": port_id, "entity": e} for e in entities])
    db.record(c, BLOCKS.name, "insert", *(f"{port_id}/{e}" for e in entities))
    for entity in entities:
        LOG.debug("port %s will not go ACTIVE until provisioned by %s", port_id, entity)


def has_block() -> ColumnElement[bool]:
    """Has the port a block left, in a query of ports (``~has_block()``: none left)."""
    return exists().where(ProvisioningBlock.port_id == Port.id)


def provisioning_complete(
    db: Database,
    port_ids: Iterable[str],
    entity: str,
    provisioned: Provisioned,
) -> None:
    """``entity`` has provisioned the ports: remove its blocks and, in the same
    transaction, let ``provisioned`` write those that exist and have no block left; what it
    returns runs after the commit (neutron's notifications)."""
    ids = list(dict.fromkeys(port_ids))
    if not ids:
        return
    with db.transaction() as c:
        after = complete(db, c, ids, entity, provisioned)
    after()


def complete(
    db: Database, c: Connection, ids: list[str], entity: str, provisioned: Provisioned
) -> Callable[[], None]:
    """``provisioning_complete`` in the caller's write transaction: the ports' rows held
    (elsewhere than SQLite, whose writers already go one at a time), the entity's blocks
    removed, then ``provisioned(c, ids)``, which reads the ports with no block left
    (``~has_block()``) and returns what to do after the commit."""
    if c.dialect.name != "sqlite":
        c.execute(*_statements().lock(ids))
    _complete(db, c, ids, entity)
    return provisioned(c, ids)


class _Statements:
    """provisioning_complete's statements, built once (an agent's every report runs them)."""

    def __init__(self) -> None:
        # by the number of ids: an agent's report names one or two (inlists.py)
        self.complete = InList(
            "ids",
            lambda in_: (
                delete(ProvisioningBlock)
                .where(
                    in_(ProvisioningBlock.port_id), ProvisioningBlock.entity == bindparam("entity")
                )
                .returning(ProvisioningBlock.port_id)
            ),
        )
        locked = select(Port.id).order_by(Port.id).with_for_update()
        self.lock = InList("ids", lambda in_: locked.where(in_(Port.id)))


@functools.cache
def _statements() -> _Statements:
    return _Statements()
