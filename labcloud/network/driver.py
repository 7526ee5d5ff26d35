"""The datapath interface: what a network backend does when networks and ports come and go.

``NoopDriver`` is the reference: it records the calls and touches nothing, which is all the
in-kernel cloud needs; the linuxbridge driver (namespaces, bridges, dnsmasq) comes later.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol


class NetworkDriver(Protocol):
    def ensure_network(self, network: dict[str, Any]) -> None:
        """Make the network exist on the datapath (a bridge, a VLAN ...); safe to repeat."""

    def delete_network(self, network_id: str) -> None:
        """Remove it; safe to repeat."""

    def plug_port(self, port: dict[str, Any]) -> None:
        """Connect a port (its MAC and fixed IPs) to its network."""

    def unplug_port(self, port_id: str) -> None:
        """Disconnect it; safe to repeat."""


class NoopDriver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []

    def _record(self, call: str, ident: str) -> None:
        with self._lock:
            self.calls.append((call, ident))

    def ensure_network(self, network: dict[str, Any]) -> None:
        self._record("ensure_network", network["id"])

    def delete_network(self, network_id: str) -> None:
        self._record("delete_network", network_id)

    def plug_port(self, port: dict[str, Any]) -> None:
        self._record("plug_port", port["id"])

    def unplug_port(self, port_id: str) -> None:
        self._record("unplug_port", port_id)
