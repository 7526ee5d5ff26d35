"""What neutron-server does after its database changed: tell whoever builds the datapath.

In neutron this is ML2's mechanism drivers and the agent notifiers; here a narrow Protocol
with two implementations: ``NoopDriver`` records the calls and touches nothing (an API
without agents), and ``AgentNotifier`` (notifier.py) casts neutron's notifications to the
L2 and DHCP agents over the broker.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from labcloud.context import RequestContext


class NetworkDriver(Protocol):
    def ensure_network(self, ctxt: RequestContext, network: dict[str, Any]) -> None:
        """A network was created; safe to repeat."""

    def delete_network(self, ctxt: RequestContext, network_id: str) -> None:
        """It was deleted; safe to repeat."""

    def update_subnet(self, ctxt: RequestContext, subnet: dict[str, Any], event: str) -> None:
        """A subnet was created, updated or deleted (``event``: create, update, delete)."""

    def plug_port(
        self,
        ctxt: RequestContext,
        port: dict[str, Any],
        *,
        network: dict[str, Any] | None = None,
        dhcp_hosts: list[str] | None = None,
    ) -> None:
        """A port was created (its MAC and fixed IPs are known). ``network`` (its view) and
        ``dhcp_hosts`` (the live DHCP agents' hosts), when given, are what the caller has
        just read: the driver uses them rather than reading them again."""

    def update_port(self, ctxt: RequestContext, port: dict[str, Any]) -> None:
        """A port changed (bound to a host, renamed ...)."""

    def unplug_port(self, ctxt: RequestContext, port: dict[str, Any]) -> None:
        """A port was deleted; safe to repeat."""

    def security_groups_rule_updated(self, ctxt: RequestContext, groups: list[str]) -> None:
        """A rule of these groups was created or deleted."""

    def security_groups_member_updated(self, ctxt: RequestContext, groups: list[str]) -> None:
        """A port joined or left these groups, or its addresses changed."""


class NoopDriver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []

    def _record(self, call: str, ident: str) -> None:
        with self._lock:
            self.calls.append((call, ident))

    def ensure_network(self, ctxt: RequestContext, network: dict[str, Any]) -> None:
        self._record("ensure_network", network["id"])

    def delete_network(self, ctxt: RequestContext, network_id: str) -> None:
        self._record("delete_network", network_id)

    def update_subnet(self, ctxt: RequestContext, subnet: dict[str, Any], event: str) -> None:
        self._record(f"{event}_subnet", subnet["id"])

    def plug_port(
        self,
        ctxt: RequestContext,
        port: dict[str, Any],
        *,
        network: dict[str, Any] | None = None,
        dhcp_hosts: list[str] | None = None,
    ) -> None:
        self._record("plug_port", port["id"])

    def update_port(self, ctxt: RequestContext, port: dict[str, Any]) -> None:
        self._record("update_port", port["id"])

    def unplug_port(self, ctxt: RequestContext, port: dict[str, Any]) -> None:
        self._record("unplug_port", port["id"])

    def security_groups_rule_updated(self, ctxt: RequestContext, groups: list[str]) -> None:
        for group in groups:
            self._record("security_groups_rule_updated", group)

    def security_groups_member_updated(self, ctxt: RequestContext, groups: list[str]) -> None:
        for group in groups:
            self._record("security_groups_member_updated", group)
