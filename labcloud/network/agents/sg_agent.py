"""The L2 agent's side of security groups (neutron's SecurityGroupAgentRpc): it asks the
server about its ports (``security_group_info_for_devices`` on ``q-plugin``: each group's
rules and members once), expands each port's rules itself (sgrules.py) and keeps its
firewall in step with the server's notifications.

``setup_port_filters`` runs before the agent plugs a new port, so a port is never on its
bridge unfiltered. A notification (``security_groups_rule_updated``: a group's rules
changed; ``security_groups_member_updated``: a group's members or their addresses did)
only marks the ports it concerns, and a later round refreshes them together with its new
ports, in one call to the server and one change of the firewall (neutron's
defer_refresh_firewall), at most once per ``refresh_interval`` (the agent's polling
interval: neutron refreshes in its rpc_loop, which runs once per polling interval): a
thousand ports booting into one group cost one refresh of the group per interval, not one
per port and round. A marked port filtered anew in a round needs no refresh. A port whose
rules are being fetched while a notification arrives is refreshed again: its answer may
predate the change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from labcloud.context import RequestContext
from labcloud.network.agents.firewall import FirewallDriver
from labcloud.network.agents.rpc import SecurityGroupServerRpcApi
from labcloud.network.sgrules import MemberRules, expand


class SecurityGroupAgentRpc:
    def __init__(
        self,
        plugin: SecurityGroupServerRpcApi,
        firewall: FirewallDriver,
        refresh_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.plugin = plugin
        self.firewall = firewall
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: set[str] = set()  # devices to refresh once a refresh is due
        # the devices this agent filtered, by port key and group: whom a notification concerns
        self._by_group: dict[str, dict[str, set[str]]] = {KEY_RULES: {}, KEY_MEMBERS: {}}
        self._fetching: set[str] = set()  # devices whose rules are being asked for
        self._next_refresh = 0.0  # clock time before which marked devices wait
        self._inputs = _Inputs()  # what each device was last filtered from
        self._member_rules = MemberRules()  # remote-group rules per member, across rounds

    def setup_port_filters(self, ctxt: RequestContext, devices: Iterable[str]) -> set[str]:
        """Filter the new ``devices`` and, when a refresh is due, refresh the marked ones
        still filtered, in one call to the server and one change of the firewall (neutron's
        setup_port_filters under defer_apply_on). Returns the refreshed; they stay marked
        if this fails."""
        devices = set(devices)
        with self._lock:
            self._pending -= devices  # fetched afresh below
            now = self._clock()
            if now >= self._next_refresh:
                pending, self._pending = self._pending & set(self.firewall.ports()), set()
                if pending:
                    self._next_refresh = now + self.refresh_interval
            else:
                pending = set()
        try:
            self._filter(ctxt, sorted(devices | pending))
        except BaseException:
            with self._lock:
                self._pending |= pending
            raise
        return pending

    def _filter(self, ctxt: RequestContext, wanted: list[str]) -> None:
        """Fetch the devices' rules and filter them (a device of no port is skipped). With
        none, the firewall still applies once: the agent's first round sweeps a crashed
        agent's rules even when this host has no port left (neutron's first rpc_loop). A
        device whose port, groups' rules and (without ipset) remote groups' members are
        as when it was last filtered is filtered as it is: its rules are not built again."""
        if not wanted:
            self.firewall.prepare_port_filters([])
            return
        with self._lock:
            self._fetching |= set(wanted)
        try:
            info = self.plugin.security_group_info_for_devices(ctxt, wanted)
            groups, members = info["security_groups"], info["sg_member_ips"]
            ipset = self.firewall.enable_ipset  # neutron: sets first, then the ports' rules
            if ipset:
                self.firewall.update_security_group_members(members)
            inputs = self._inputs.of(info, ipset)
            filtered = self.firewall.ports()
            memo = self._member_rules
            memo.new_answer()
            ports = [
                port
                | {"device": d, "security_group_rules": expand(port, groups, members, memo, ipset)}
                for d, port in info["devices"].items()
                if d not in filtered or not self._inputs.same(d, inputs[d])
            ]
            self.firewall.prepare_port_filters(ports)
            with self._lock:
                for port in ports:
                    self._index(port["device"], port)
            self._inputs.filtered({p["device"]: inputs[p["device"]] for p in ports})
        finally:
            with self._lock:
                self._fetching -= set(wanted)

    def refresh_due_in(self) -> float | None:
        """Seconds until the marked devices' refresh is due (0: now), None if none is marked."""
        with self._lock:
            if not self._pending:
                return None
            return max(0.0, self._next_refresh - self._clock())

    def remove_devices_filter(self, devices: Iterable[str]) -> None:
        devices = sorted(devices)
        self.firewall.remove_port_filters(devices)
        with self._lock:
            for device in devices:
                self._index(device, None)
        self._inputs.forget(devices)

    def _index(self, device: str, port: dict[str, Any] | None) -> None:
        """(under the lock) ``device`` now filtered as ``port`` (None: not any more)."""
        before = self._inputs.port_of(device)
        for key, by_group in self._by_group.items():
            old, new = before.get(key, ()), (port or {}).get(key, ())
            if old == new:
                continue  # as in most rounds: the same groups
            for group in old:
                by_group.get(group, set()).discard(device)
            for group in new:
                by_group.setdefault(group, set()).add(device)

    # -- notifications (the agent passes them on from its RPC endpoint) --------------------
    def security_groups_rule_updated(self, groups: list[str]) -> bool:
        return self._mark(groups, KEY_RULES)

    def security_groups_member_updated(self, groups: list[str]) -> bool:
        return self._mark(groups, KEY_MEMBERS)

    def _mark(self, groups: list[str], key: str) -> bool:
        """Mark the devices filtered with these groups (by this agent's index of them: a
        burst of boots is a notification per port to every agent, and looking through
        every filtered port at each was most of an agent's work). A device being fetched
        now is refreshed again: its answer may predate the change. Whether a device was
        marked that was not already (else its refresh is as due as it was)."""
        with self._lock:
            before = len(self._pending)
            by_group = self._by_group[key]
            for group in groups:
                self._pending |= by_group.get(group, _NONE)
            self._pending |= self._fetching
            return len(self._pending) > before


KEY_RULES, KEY_MEMBERS = "security_groups", "security_group_source_groups"
_NONE: frozenset[str] = frozenset()


class _Inputs:
    """What each device's filter was built from, by version: its port as the server sent
    it and a version of each of its groups' rules and (without ipset) of each remote
    group's members. A version changes when what the server sends for the group does."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[int, Any]] = {}  # (kind, group) → version, value
        self._devices: dict[str, tuple[Any, ...]] = {}

    def of(self, info: dict[str, Any], ipset: bool) -> dict[str, tuple[Any, ...]]:
        """Each device's inputs in this answer."""
        rules = {g: self._version("rules", g, r) for g, r in info["security_groups"].items()}
        members = (
            {}
            if ipset
            else {g: self._version("members", g, m) for g, m in info["sg_member_ips"].items()}
        )
        return {
            d: (
                port,
                tuple(rules.get(g) for g in port["security_groups"]),
                tuple(members.get(g) for g in port["security_group_source_groups"]),
                ipset,
            )
            for d, port in info["devices"].items()
        }

    def _version(self, kind: str, group: str, value: Any) -> int:
        version, seen = self._seen.get((kind, group), (0, None))
        if version and seen == value:
            return version
        # a copy: the answer's may change under it (a plugin answering in-process)
        if kind == "rules":
            value = [dict(rule) for rule in value]
        else:
            value = {ethertype: list(addresses) for ethertype, addresses in value.items()}
        self._seen[kind, group] = (version + 1, value)
        return version + 1

    def port_of(self, device: str) -> dict[str, Any]:
        """The port ``device`` was last filtered as ({} if none)."""
        inputs = self._devices.get(device)
        return inputs[0] if inputs else {}

    def same(self, device: str, inputs: tuple[Any, ...]) -> bool:
        return self._devices.get(device) == inputs

    def filtered(self, inputs: dict[str, tuple[Any, ...]]) -> None:
        self._devices |= inputs

    def forget(self, devices: Iterable[str]) -> None:
        for device in devices:
            self._devices.pop(device, None)
