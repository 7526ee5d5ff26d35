"""Ports: creating one allocates a MAC and addresses; deleting it returns them to the pool.

A port's own choices are checked before the insert, so that a MAC or address already taken
is a 409 naming it; an address chosen here races other ports only on the unique constraint,
and the loser tries again.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labcloud.context import RequestContext
from labcloud.exceptions import Conflict, Invalid
from labcloud.network import allocations, ipam, port_rows, views
from labcloud.network import provisioning_blocks as blocks
from labcloud.network.manager import (
    ALLOCATION_ATTEMPTS,
    NetworkManager,
    PortNotFound,
    now,
    owner_of,
)
from labcloud.network.models import (
    FloatingIP,
    IPAllocation,
    Port,
    SecurityGroupPortBinding,
)
from labcloud.network.nova import NovaNotifier
from labcloud.network.secgroups import SecurityGroupManager

L3_OWNERS = ("network:router_interface", "network:router_gateway", "network:floatingip")


class PortSecurityAndIPRequiredForSecurityGroups(Invalid):
    msg_fmt = (
        "Port security must be enabled and port must have an IP address in order to use "
        "security groups."
    )


class PortSecurityPortHasSecurityGroup(Conflict):
    msg_fmt = (
        "Port has security group associated. Cannot disable port security or IP address "
        "until security group is removed"
    )


def _port_security(enabled: bool, groups: list[str] | None, had: list[str] | None) -> None:
    """neutron's portsecurity rules: no security group on a port without port security;
    naming groups with it off is a bad request, disabling it while groups remain a conflict."""
    if enabled:
        return
    if groups:
        raise PortSecurityAndIPRequiredForSecurityGroups()
    if groups is None and had:
        raise PortSecurityPortHasSecurityGroup()


class PortManager:
    def __init__(self, networks: NetworkManager) -> None:
        self.networks = networks
        self.db = networks.db
        self.groups = SecurityGroupManager(networks.db, lambda: networks.driver)
        # the routers' manager listens here (neutron's l3 plugin subscribes to port deletes):
        # a deleted port's floating IPs leave their routers, whose L3 agents must hear of it
        self.routers_changed: Callable[[RequestContext, list[str]], None] = lambda c, r: None
        # neutron's nova notifier (nova.py): status changes and deletes of instances' ports
        self.nova: NovaNotifier | None = None
        # the hosts of the live DHCP agents hosting a network (neutron's
        # get_dhcp_agents_hosting_networks): a port there waits for one to serve it; read
        # in the caller's read transaction when given one (create_port's), else in its own
        self.dhcp_agents: Callable[[str, Connection | None], list[str]] = lambda net_id, c: []

    def status_changed(self, port: dict[str, Any], previous: str | None) -> None:
        """Tell nova (neutron's notifier), after the commit, when a port's status changed."""
        if self.nova is not None and port["status"] != previous:
            self.nova.port_status_changed(port, previous, port["status"])

    def create_port(self, ctxt: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        if "network_id" not in body:
            raise Invalid("Invalid input: a port needs a network_id.")
        with self.db.read() as c:  # what the port needs to know, in one read transaction
            net = self.networks.network_for_port(ctxt, str(body["network_id"]), c)
            project_id = owner_of(ctxt, body) or net["project_id"]
            requested = body.get("fixed_ips")
            if requested is not None and not isinstance(requested, list):
                raise Invalid("Invalid input for fixed_ips: it must be a list.")
            allocations.no_twice(requested or [])
            secured = body.get("port_security_enabled") is not False
            _port_security(secured, body.get("security_groups"), None)
            wanted = body.get("security_groups", None if secured else [])
            owner = str(body.get("device_owner", ""))
            groups = self.groups.read_groups_for_port(c, ctxt, project_id, wanted, owner)
            agents = self.networks.agents
            # read once: the DHCP block below and the port_create_end cast both need them
            dhcp_hosts = self.dhcp_agents(net["id"], c) if agents else None
        if groups is None:  # the project's first port: its default group is made now
            groups = [self.groups.default_group(project_id)]
        for _ in range(ALLOCATION_ATTEMPTS):
            values = port_rows.port_values(project_id, net, body, agents=agents)
            try:
                with self.db.transaction() as c:
                    fixed_ips = port_rows.insert_port(
                        self.db,
                        c,
                        values,
                        requested,
                        groups,
                        None if dhcp_hosts is None else bool(dhcp_hosts),
                        mac_asked=bool(body.get("mac_address")),
                    )
                break
            except IntegrityError:  # another port took that address (or MAC) first: again
                continue
        else:
            raise ipam.IpAddressGenerationFailure(net_id=net["id"])
        result = views.port(SimpleNamespace(**values), fixed_ips, groups)
        self.networks.driver.plug_port(ctxt, result, network=net, dhcp_hosts=dhcp_hosts)
        self.networks.driver.security_groups_member_updated(ctxt, groups)
        self.status_changed(result, None)  # ACTIVE at once without agents: plugged
        return result

    @staticmethod
    def _bind(s: Session, port_id: str, groups: list[str], *, new: bool = False) -> None:
        """Bind the port to exactly ``groups``; a ``new`` port has no binding to delete."""
        if not new:
            s.execute(
                delete(SecurityGroupPortBinding).where(SecurityGroupPortBinding.port_id == port_id)
            )
        for group_id in groups:
            s.add(SecurityGroupPortBinding(port_id=port_id, security_group_id=group_id))

    @staticmethod
    def _groups(s: Session, port_ids: Any) -> dict[str, list[str]]:
        """Each port's security groups (``port_ids``: a list or a subquery)."""
        found: dict[str, list[str]] = {}
        for port_id, group_id in s.execute(
            select(
                SecurityGroupPortBinding.port_id, SecurityGroupPortBinding.security_group_id
            ).where(SecurityGroupPortBinding.port_id.in_(port_ids))
        ):
            found.setdefault(port_id, []).append(group_id)
        return found

    def _view(self, s: Session, port: Port) -> dict[str, Any]:
        return views.port(port, fixed_ips(s, port.id), self._groups(s, [port.id]).get(port.id))

    def list_ports(self, ctxt: RequestContext, filters: views.Filters) -> list[dict[str, Any]]:
        query = select(Port)
        # the service role (neutron's service_api rule) sees every project's ports: nova's
        # conductor frees those of builds it gives up, whoever owns them
        if not (ctxt.is_admin or "service" in ctxt.roles):
            query = query.where(Port.project_id == ctxt.project_id)
        for column in ("id", "device_id", "network_id", "device_owner"):
            wanted = filters.get(column)
            if wanted is not None:
                values = wanted if isinstance(wanted, list) else [wanted]
                query = query.where(getattr(Port, column).in_(values))
        with self.db.reader() as s:
            ports = list(s.scalars(query))
            # every port's addresses in one query, not one query per port
            ids = query.with_only_columns(Port.id)
            fixed_ips: dict[str, list[dict[str, str]]] = {p.id: [] for p in ports}
            for port_id, subnet_id, address in s.execute(
                select(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address)
                .where(IPAllocation.port_id.in_(ids))
                .order_by(IPAllocation.id)
            ):
                if port_id in fixed_ips:
                    fixed_ips[port_id].append({"subnet_id": subnet_id, "ip_address": address})
            groups = self._groups(s, ids)
            rows = [views.port(p, fixed_ips[p.id], groups.get(p.id)) for p in ports]
        return views.filtered(rows, filters)

    def get_port(self, ctxt: RequestContext, port_id: str) -> dict[str, Any]:
        found = self.list_ports(ctxt, {"id": port_id})
        if not found:
            raise PortNotFound(port_id=port_id)
        return found[0]

    def update_port(
        self, ctxt: RequestContext, port_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        before = self.get_port(ctxt, port_id)
        if "fixed_ips" in body:
            allocations.no_twice(body["fixed_ips"])
        _port_security(
            bool(body.get("port_security_enabled", before["port_security_enabled"])),
            body.get("security_groups"),
            before["security_groups"],
        )
        agents = self.networks.agents
        net_id = before["network_id"]
        hosted = agents and "fixed_ips" in body and bool(self.dhcp_agents(net_id, None))
        groups = None  # checked before the write: its reader would nest in it on one connection
        if "security_groups" in body:
            owner = str(body.get("device_owner", before["device_owner"]))
            wanted = body["security_groups"]
            groups = self.groups.groups_for_port(ctxt, before["project_id"], wanted, owner)
        with self.db.session() as s:
            port = s.get(Port, port_id)
            assert port is not None
            for key in (
                "name",
                "description",
                "device_id",
                "device_owner",
                "admin_state_up",
                "port_security_enabled",
            ):
                if key in body:
                    setattr(port, key, body[key])
            if "binding:host_id" in body and port.host != str(body["binding:host_id"]):
                port.host = str(body["binding:host_id"])
                if agents:  # the new host's agent reports it up
                    port.status = "DOWN"
                    blocks.insert_l2_block(s, port)
            if not agents:
                port.status = "ACTIVE" if port.device_id else "DOWN"
            if "fixed_ips" in body:
                self._reallocate(s, port, body["fixed_ips"])
                ips = fixed_ips(s, port.id)
                if agents and ips != before["fixed_ips"]:  # the DHCP agents serve them first
                    blocks.setup_dhcp_block(s, port.id, ips, hosted)
            if groups is not None:
                self._bind(s, port.id, groups)
            port.revision_number += 1
            port.updated_at = now()
            result = self._view(s, port)
        self.networks.driver.update_port(ctxt, result)
        self.status_changed(result, before["status"])
        if "security_groups" in body or "fixed_ips" in body:  # members or their addresses
            changed = dict.fromkeys(before["security_groups"] + result["security_groups"])
            self.networks.driver.security_groups_member_updated(ctxt, list(changed))
        return result

    def _reallocate(self, s: Session, port: Port, requested: list[dict[str, Any]]) -> None:
        """neutron's port update of fixed_ips: addresses still asked for stay, a bare
        subnet_id keeps the port's address there, the others go back to the pool."""
        held = tuple((ip["subnet_id"], ip["ip_address"]) for ip in fixed_ips(s, port.id))
        new = allocations.allocate(s, port.id, port.network_id, requested, keep=held)
        still = {(ip["subnet_id"], ip["ip_address"]) for ip in new}
        for subnet_id, address in held:
            if (subnet_id, address) not in still:
                s.execute(
                    delete(IPAllocation).where(
                        IPAllocation.port_id == port.id,
                        IPAllocation.subnet_id == subnet_id,
                        IPAllocation.ip_address == address,
                    )
                )
        try:
            s.flush()
        except IntegrityError:  # another port took a chosen address since: say which
            raise Conflict(f"IP allocation for port {port.id} raced another port: retry.") from None

    def delete_port(self, ctxt: RequestContext, port_id: str, *, l3: bool = False) -> None:
        """Delete the port and give its addresses back to the pool; a floating IP on it
        is disassociated. A router's or floating IP's port goes only with them (``l3``)."""
        gone = self.get_port(ctxt, port_id)
        if gone["device_owner"] in L3_OWNERS and not l3:
            raise Conflict(
                f"Port {port_id} cannot be deleted directly via the port API: has device "
                f"owner {gone['device_owner']}."
            )
        with self.db.session() as s:
            routers = set(
                s.scalars(select(FloatingIP.router_id).where(FloatingIP.fixed_port_id == port_id))
            )
            s.execute(
                update(FloatingIP)
                .where(FloatingIP.fixed_port_id == port_id)
                .values(fixed_port_id=None, fixed_ip_address=None, router_id=None, status="DOWN")
            )
            s.execute(delete(IPAllocation).where(IPAllocation.port_id == port_id))
            port = s.get(Port, port_id)
            if port is not None:
                s.delete(port)
        self.networks.driver.unplug_port(ctxt, gone)
        if self.nova is not None:
            self.nova.port_deleted(gone)
        self.networks.driver.security_groups_member_updated(ctxt, gone["security_groups"])
        if routers - {None}:
            self.routers_changed(ctxt, sorted(r for r in routers if r))


def fixed_ips(s: Session, port_id: str) -> list[dict[str, str]]:
    """A port's addresses, in the order they were allocated."""
    return [
        {"subnet_id": a.subnet_id, "ip_address": a.ip_address}
        for a in s.scalars(
            select(IPAllocation).where(IPAllocation.port_id == port_id).order_by(IPAllocation.id)
        )
    ]
