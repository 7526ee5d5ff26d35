"""What the agents say about ports, as ML2's RPC handlers write it: a port an L2 agent
plugs goes BUILD, its L2 provisioning block goes once the agent says it is up, DOWN when the
agent unplugs it; ACTIVE once no block is left (provisioning_blocks.py), and then nova
hears network-vif-plugged (nova.py), after the commit, as neutron's notifier.

Devices are the agents' names for ports: ``tap`` + the first 11 characters of the id
(neutron's linuxbridge naming), or the whole id.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Row,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)

from labcloud.network import provisioning_blocks as blocks
from labcloud.network import segments, views
from labcloud.network.inlists import InList
from labcloud.network.manager import now
from labcloud.network.models import IPAllocation, Network, Port
from labcloud.network.ports import PortManager, fixed_ips

LOG = logging.getLogger(__name__)
TAP_ID_LENGTH = 11  # characters of a port's id in its tap's name (neutron's linuxbridge)
VIEW_KEYS = ("id", "network_id", "mac_address", "admin_state_up", "device_owner", "device_id")
STATUS_COLUMNS = (*VIEW_KEYS, "status", "host")
WRITTEN = ("id", "device_id", "device_owner", "status", "host", "admin_state_up")
KEY_RANGES = 16  # up to this many tap names, a range of the primary key each (its index)
PORTS: Table = Port.__table__  # type: ignore[assignment]  # a Table, typed FromClause


class PortStatus:
    """neutron-server's side of the agents' port reports, on ``ports``' database."""

    def __init__(self, ports: PortManager) -> None:
        self.ports = ports
        self.db = ports.db

    def set_status(
        self, device: str, status: str, host: str | None = None, *, view: bool = False
    ) -> dict[str, Any] | None:
        """An agent's word on the port a device names: BUILD (being plugged), ACTIVE (up),
        DOWN. None when no port has that device; with ``view``, the port as an agent plugs
        it (its addresses, not its security groups), else only its id."""
        with self.db.session() as s:  # one transaction finds and changes it
            port = s.scalar(_of_device(device, s.get_bind().dialect.name == "sqlite"))
            if port is None:
                return None
            previous = port.status
            if port.status != status:
                port.status = status
                port.updated_at = now()
            if host and not port.host:
                port.host = host
            shown = views.port(port, fixed_ips(s, port.id)) if view else {"id": port.id}
            owner = _owner(port)
        self.ports.status_changed(owner, previous)  # after the commit, as neutron's notifier
        return shown

    def set_statuses(
        self,
        devices: list[str],
        status: str | None,
        host: str | None = None,
        *,
        view: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """``set_status`` for an agent's round of devices: device → the port (a device of
        no port is left out); ``status`` None leaves it as it is. With ``view``, the port
        as an agent plugs it (its addresses and its network's ``segment``), else its id.
        The ports are read as columns in the write transaction that writes those to change
        (a round's ports almost always change: DOWN -> BUILD), read again as they are now
        (PostgreSQL: another's change may have come) and written by Core statements
        (traced as a session's flush: each row updated, then its new status)."""
        if not devices:
            return {}
        changed: list[tuple[dict[str, Any], str]] = []  # (the port, its status before)
        with self.db.transaction() as c:
            found = _found(c, devices, view)
            to_change = _to_change(found, status, host)
            if to_change:
                changed = self._change(c, to_change, status, host)
        self._notify(changed, status)
        if not view:
            return {d: {"id": p["id"]} for d, p in found.items()}
        return {d: _agent_view(p) for d, p in found.items()}

    def _change(
        self,
        c: Connection,
        to_change: dict[str, dict[str, Any]],
        status: str | None,
        host: str | None,
    ) -> list[tuple[dict[str, Any], str]]:
        """Write ``to_change``'s ports as they are now (read again in the write transaction):
        ``status``, and ``host`` where they have none; the ports whose status changed, each
        with its status before."""
        changed: list[tuple[dict[str, Any], str]] = []
        for row in c.execute(*_statements().written(list(to_change))).all():
            values: dict[str, Any] = {}
            if status is not None and row.status != status:
                changed.append((_owner(row), row.status))
                values |= {"status": status, "updated_at": now()}
            if host and not row.host:
                values["host"] = host
            self._write(c, row.id, values)
            now_is = {"status": row.status, "host": row.host} | values
            to_change[row.id] |= {k: now_is[k] for k in ("status", "host")}
        return changed

    def _notify(self, changed: list[tuple[dict[str, Any], str]], status: str | None) -> None:
        for owner, previous in changed:  # after the commit, as neutron's notifier
            self.ports.status_changed({**owner, "status": status}, previous)

    def devices_up(self, devices: list[str], host: str) -> list[str]:
        """The L2 agent on ``host`` has plugged these devices (update_device_up): their
        ports' L2 blocks are complete (a port of no host takes the agent's). The devices
        that name a port. One write transaction finds the ports, writes a missing host,
        removes the blocks and writes ACTIVE (provisioning_blocks.complete), in
        neutron's order; nova hears of it after the commit."""
        if not devices:
            return []
        with self.db.transaction() as c:
            found = _found(c, devices, False)
            to_change = _to_change(found, None, host)
            if to_change:  # the host alone: no status changes, nobody to tell
                self._change(c, to_change, None, host)
            ids = list(dict.fromkeys(port["id"] for port in found.values()))
            after = _nothing
            if ids:
                after = blocks.complete(
                    self.db, c, ids, blocks.L2_AGENT_ENTITY, self.provisioned_in
                )
        after()
        return list(found)

    def port_provisioned(self, port_ids: list[str]) -> None:
        """ML2's _port_provisioned: nothing blocks these ports any more. A bound one (it
        has a host) that is administratively up goes ACTIVE, unless a block came back
        meanwhile; nova hears network-vif-plugged. Safe to repeat."""
        with self.db.transaction() as c:
            after = self.provisioned_in(c, port_ids)
        after()

    def provisioned_in(self, c: Connection, port_ids: list[str]) -> Callable[[], None]:
        """``port_provisioned`` in the caller's write transaction, for those of the ports
        with no block left; telling nova is what it returns, to run after the commit."""
        changed: list[tuple[dict[str, Any], str]] = []
        # a port with a block (still, or again: its address changed) is not read
        for port in c.execute(*_statements().unblocked(port_ids)).all():
            if port.status == "ACTIVE":
                continue
            if not port.host or not port.admin_state_up:
                continue  # unbound (a DHCP agent was first) or disabled: not ACTIVE
            changed.append((_owner(port), port.status))
            self._write(c, port.id, {"status": "ACTIVE", "updated_at": now()})
        if changed:
            LOG.debug("provisioning of ports %s complete", [o["id"] for o, _ in changed])
        return functools.partial(self._notify, changed, "ACTIVE")

    def _write(self, c: Connection, port_id: str, values: dict[str, Any]) -> None:
        """One port's changed columns, by a Core UPDATE (built once per set of columns),
        traced as a session's flush traces it: the row updated, then its new status."""
        if not values:
            return
        c.execute(_update(tuple(values)), {"port_id": port_id, **values})
        self.db.record(c, PORTS.name, "update", port_id)
        if "status" in values:
            self.db.record_state(c, Port, port_id, values["status"])


def _found(c: Connection, devices: list[str], view: bool) -> dict[str, dict[str, Any]]:
    """device -> its port as columns (``_read_ports``); a device of no port is left out."""
    ports = _read_ports(c, devices, view)
    found: dict[str, dict[str, Any]] = {}
    for device in devices:
        prefix = device.removeprefix("tap")
        read = ports.get(prefix[:TAP_ID_LENGTH])
        if read is not None and read["id"].startswith(prefix):
            found[device] = read
    return found


def _to_change(
    found: dict[str, dict[str, Any]], status: str | None, host: str | None
) -> dict[str, dict[str, Any]]:
    """The found ports whose status is not ``status`` (None: any) or that have no host."""
    return {
        p["id"]: p
        for p in found.values()
        if (status is not None and p["status"] != status) or (host and not p["host"])
    }


def _nothing() -> None:
    """Nothing to do after the commit."""


def _read_ports(c: Connection, devices: list[str], view: bool) -> dict[str, dict[str, Any]]:
    """The ports the devices name, by their ids' first 11 characters, as columns (with
    ``view``, their addresses and their network's segment too), in one statement."""
    prefixes = {d.removeprefix("tap") for d in devices}
    statements = _statements()
    keys = sorted({p[:TAP_ID_LENGTH] for p in prefixes})
    params: dict[str, Any] = {"prefixes": keys}
    if not all(len(p) >= TAP_ID_LENGTH for p in prefixes):  # not tap names: the general
        unfiltered = statements.viewed_any if view else statements.ports_any  # (and rare) form
        query = unfiltered.where(devices_where(prefixes))
    elif by_key_ranges(c, keys):  # a round's few devices: the key's index
        query, params = _ranged(view, len(keys)), key_params(keys)
    else:
        query, params = (statements.viewed if view else statements.ports)(keys)
    found: dict[str, dict[str, Any]] = {}
    for row in c.execute(query, params).all():
        port = found.get(row[0][:TAP_ID_LENGTH])
        if port is None or port["id"] != row[0]:
            port = dict(zip(STATUS_COLUMNS, row, strict=False))
            found[row.id[:TAP_ID_LENGTH]] = port
            if view:
                port["fixed_ips"] = []
                port["segment"] = {k: getattr(row, k) for k in segments.KEYS}
        if view and row.ip_address is not None:
            port["fixed_ips"].append({"subnet_id": row.subnet_id, "ip_address": row.ip_address})
    return found


def _agent_view(port: dict[str, Any]) -> dict[str, Any]:
    shown = {k: port[k] for k in (*VIEW_KEYS, "status", "fixed_ips", "segment")}
    return shown | {"binding:host_id": port["host"]}


class _Statements:
    """What the agents' reports read, built once (SQLAlchemy then finds their compiled
    form without building and hashing a statement per call)."""

    def __init__(self) -> None:
        prefix = func.substr(Port.id, 1, TAP_ID_LENGTH)
        self.ports_any = select(*(getattr(Port, k) for k in STATUS_COLUMNS))
        self.viewed_any = (
            self.ports_any.add_columns(
                IPAllocation.subnet_id,
                IPAllocation.ip_address,
                *(getattr(Network, k) for k in segments.KEYS),
            )
            .join(Network, Network.id == Port.network_id)
            .outerjoin(IPAllocation, IPAllocation.port_id == Port.id)
            .order_by(Port.id, IPAllocation.id)
        )
        # by the number of id prefixes (inlists.py)
        self.ports = InList("prefixes", lambda in_: self.ports_any.where(in_(prefix)))
        self.viewed = InList("prefixes", lambda in_: self.viewed_any.where(in_(prefix)))
        # the ports whose status or host change, as columns: those written or told to nova
        # (the writes are Core UPDATEs, traced as the ORM's flush would trace them); by the
        # number of ids (inlists.py)
        written = select(*(getattr(Port, k) for k in WRITTEN))
        self.written = InList("ids", lambda in_: written.where(in_(Port.id)))
        # a port with a block again (its address changed meanwhile) is not read
        self.unblocked = InList(
            "ids", lambda in_: written.where(in_(Port.id), ~blocks.has_block()).with_for_update()
        )


@functools.cache
def _statements() -> _Statements:
    return _Statements()


@functools.cache
def _ranged(view: bool, count: int) -> Select[Any]:
    """``_read_ports``' statement for ``count`` tap names, built once per count."""
    statements = _statements()
    return (statements.viewed_any if view else statements.ports_any).where(key_ranges(count))


@functools.cache
def key_ranges(count: int) -> ColumnElement[bool]:
    """Is a port one that ``count`` tap names name (``key_params``): a range of the primary
    key per name, which the database finds in the key's index, where the first 11
    characters of every port's id (``substr(id) IN``) are computed and compared; one
    statement per count of names, built once."""
    return or_(
        *(and_(Port.id >= bindparam(f"lo{i}"), Port.id < bindparam(f"hi{i}")) for i in range(count))
    )


def by_key_ranges(c: Connection, keys: list[str]) -> bool:
    """Whether to find these tap names' ports by ``key_ranges``: a few of them, on SQLite,
    which compares text byte by byte. A locale's collation (a PostgreSQL database's may
    be one) skips punctuation first, and ``key + "~"`` then sorts before the key's ids."""
    return len(keys) <= KEY_RANGES and c.dialect.name == "sqlite"


def key_params(keys: list[str]) -> dict[str, str]:
    """The bounds ``key_ranges(len(keys))`` takes: from each id prefix to the prefix and
    ``~`` (after every character of an id, as ``_of_device``'s range)."""
    params: dict[str, str] = {}
    for i, key in enumerate(keys):
        params[f"lo{i}"], params[f"hi{i}"] = key, key + "~"
    return params


@functools.cache
def _update(columns: tuple[str, ...]) -> Update:
    """UPDATE ports SET ``columns`` WHERE id = :port_id, built once per set of columns."""
    values: dict[str, BindParameter[Any]] = {k: bindparam(k) for k in columns}
    return update(PORTS).where(PORTS.c.id == bindparam("port_id")).values(values)


def _owner(port: Port | Row[Any]) -> dict[str, Any]:
    """What neutron's nova notifier reads of a port: whose it is and its status."""
    return {k: getattr(port, k) for k in ("id", "device_id", "device_owner", "status")}


def devices_where(devices: Iterable[str]) -> ColumnElement[bool]:
    """Is a port one the devices name: an IN of the ids' first 11 characters, one statement
    SQLAlchemy compiles once whatever the number of devices (an OR of a range per device
    was built and compiled anew at each call, the larger part of an agent's round); a
    device of fewer characters (not a tap name) is a range on the key."""
    prefixes = {d.removeprefix("tap") for d in devices}
    match = func.substr(Port.id, 1, TAP_ID_LENGTH).in_(
        sorted({p[:TAP_ID_LENGTH] for p in prefixes if len(p) >= TAP_ID_LENGTH})
    )
    short = sorted(p for p in prefixes if len(p) < TAP_ID_LENGTH)
    return or_(match, *(Port.id.between(p, p + "~") for p in short)) if short else match


def _of_device(device: str, sqlite: bool) -> Select[Port]:
    """The port a device names: ``tap`` + the first 11 characters of its id, or the id.
    On SQLite a range on the primary key, which uses its index (LIKE 'prefix%' would scan
    the table); elsewhere ``devices_where``: a locale's collation (a PostgreSQL database's
    may be one) sorts ``prefix + "~"`` before the prefix's ids, and the range finds none."""
    prefix = device.removeprefix("tap")
    if sqlite:
        return select(Port).where(Port.id >= prefix, Port.id < prefix + "~").limit(1)
    return select(Port).where(devices_where([device])).limit(1)
