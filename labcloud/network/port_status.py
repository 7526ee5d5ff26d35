"""What the agents say about ports, as ML2's RPC handlers write it: a port an L2 agent
plugs goes BUILD, its L2 provisioning block goes once the agent says it is up, DOWN when the
agent unplugs it; ACTIVE once no block is left (provisioning_blocks.py), and then nova
hears network-vif-plugged (nova.py), after the commit, as neutron's notifier.

Devices are the agents' names for ports: ``tap`` + the first 11 characters of the id
(neutron's linuxbridge naming), or the whole id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select

from labcloud.network import provisioning_blocks as blocks
from labcloud.network import views
from labcloud.network.manager import now
from labcloud.network.models import IPAllocation, Port
from labcloud.network.ports import PortManager, fixed_ips

TAP_ID_LENGTH = 11  # characters of a port's id in its tap's name (neutron's linuxbridge)


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
            port = s.scalar(_of_device(device))
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
        """``set_status`` for an agent's round of devices, in one transaction: device →
        the port (a device of no port is left out); ``status`` None leaves it as it is."""
        if not devices:
            return {}
        found: dict[str, dict[str, Any]] = {}
        changed: list[tuple[dict[str, Any], str]] = []  # (the port, its status before)
        with self.db.session() as s:
            ports = {p.id[:TAP_ID_LENGTH]: p for p in s.scalars(_of_devices(devices))}
            ips: dict[str, list[dict[str, str]]] = {p.id: [] for p in ports.values()}
            if view and ips:
                for port_id, subnet_id, address in s.execute(
                    select(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address)
                    .where(IPAllocation.port_id.in_(list(ips)))
                    .order_by(IPAllocation.id)
                ):
                    ips[port_id].append({"subnet_id": subnet_id, "ip_address": address})
            for device in devices:
                port = ports.get(device.removeprefix("tap")[:TAP_ID_LENGTH])
                if port is None or not port.id.startswith(device.removeprefix("tap")):
                    continue
                if status is not None and port.status != status:
                    changed.append((_owner(port), port.status))
                    port.status = status
                    port.updated_at = now()
                if host and not port.host:
                    port.host = host
                found[device] = views.port(port, ips[port.id]) if view else {"id": port.id}
        for owner, previous in changed:  # after the commit, as neutron's notifier
            self.ports.status_changed({**owner, "status": status}, previous)
        return found

    def devices_up(self, devices: list[str], host: str) -> list[str]:
        """The L2 agent on ``host`` has plugged these devices (update_device_up): their
        ports' L2 blocks are complete (a port of no host takes the agent's). The devices
        that name a port."""
        found = self.set_statuses(devices, None, host)
        ids = [port["id"] for port in found.values()]
        blocks.provisioning_complete(self.db, ids, blocks.L2_AGENT_ENTITY, self.port_provisioned)
        return list(found)

    def port_provisioned(self, port_ids: list[str]) -> None:
        """ML2's _port_provisioned: nothing blocks these ports any more. A bound one (it
        has a host) that is administratively up goes ACTIVE, unless a block came back
        meanwhile; nova hears network-vif-plugged. Safe to repeat."""
        changed: list[tuple[dict[str, Any], str]] = []
        with self.db.session() as s:
            # a port with a block again (its address changed meanwhile) is not read
            unblocked = select(Port).where(Port.id.in_(port_ids), ~blocks.has_block())
            for port in s.scalars(unblocked.with_for_update()):
                if port.status == "ACTIVE":
                    continue
                if not port.host or not port.admin_state_up:
                    continue  # unbound (a DHCP agent was first) or disabled: not ACTIVE
                changed.append((_owner(port), port.status))
                port.status = "ACTIVE"
                port.updated_at = now()
        for owner, previous in changed:
            self.ports.status_changed({**owner, "status": "ACTIVE"}, previous)


def _owner(port: Port) -> dict[str, Any]:
    """What neutron's nova notifier reads of a port: whose it is and its status."""
    return {k: getattr(port, k) for k in ("id", "device_id", "device_owner", "status")}


def _of_devices(devices: list[str]) -> Select[Port]:
    """The ports the devices name, in one query."""
    return select(Port).where(devices_where(devices))


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


def _of_device(device: str) -> Select[Port]:
    """The port a device names: ``tap`` + the first 11 characters of its id, or the id."""
    prefix = device.removeprefix("tap")
    # a range on the primary key uses its index (LIKE 'prefix%' would scan the table)
    return select(Port).where(Port.id >= prefix, Port.id < prefix + "~").limit(1)
