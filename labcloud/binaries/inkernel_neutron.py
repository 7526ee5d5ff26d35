"""neutron as the in-kernel cloud runs it: neutron-server, a linuxbridge agent on every host,
the DHCP and L3 agents on the network host, each built by its factory in
labcloud.binaries.network over what the cloud shares (its transport, the catalog's URLs,
neutron-server's API socket, and the datapath every agent drives).

Labs and tests act on the agents as on processes: ``stop_l2_agent(host)`` stops one (with
``cleanup=False``, as if its process died: its bridges and rules stay), ``start_l2_agent``
starts a new one; likewise the L3 agent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from labcloud.binaries.base import Binary
from labcloud.binaries.inkernel import CONTROLLER, Project
from labcloud.binaries.network import (
    NeutronServer,
    dhcp_agent,
    l3_agent,
    linuxbridge_agent,
    neutron_server,
)
from labcloud.binaries.shared import Shared
from labcloud.conf.options import ServiceConf
from labcloud.netns.fabric import Fabric
from labcloud.network.agents.dhcp import DhcpAgent
from labcloud.network.agents.l3 import L3Agent
from labcloud.network.agents.linuxbridge import LinuxBridgeAgent
from labcloud.network.datapath import Datapath
from labcloud.network.guests import GuestAccess

LOG = logging.getLogger(__name__)


class Neutron(Project):
    """neutron-server, a linuxbridge agent on the network host and on each of ``hosts``, and
    the DHCP and L3 agents on the network host (DevStack's all-in-one controller), all
    driving the cloud's datapath (``shared.datapath``; the no-op one if None)."""

    def __init__(
        self,
        shared: Shared,
        conf: Callable[[str], ServiceConf],
        hosts: Sequence[str],
        network_host: str = CONTROLLER,
    ) -> None:
        """``conf(host)``: neutron's settings for a binary on ``host``."""
        self.drivers = shared.datapath or Datapath()
        self._shared = shared
        self._conf = conf
        self.server = neutron_server(conf(network_host), shared=shared)
        server = self.server.manager
        assert isinstance(server, NeutronServer)
        self.manager, self.ports, self.agents_db = server.manager, server.ports, server.agents_db
        self.nova = server.nova
        self.l2 = {h: self._l2(h) for h in dict.fromkeys([network_host, *hosts])}
        self.network_host = network_host
        self.dhcp = dhcp_agent(conf(network_host), shared=shared)
        self.l3: Binary | None = self._l3()
        self.guests = GuestAccess(self.drivers.fabric, self.ports)
        LOG.info("neutron: %s", self.drivers.reason)

    def _l2(self, host: str) -> Binary:
        return linuxbridge_agent(self._conf(host), shared=self._shared)

    def _l3(self) -> Binary:
        return l3_agent(self._conf(self.network_host), shared=self._shared)

    @property
    def binaries(self) -> list[Binary]:  # type: ignore[override]
        l3 = [self.l3] if self.l3 is not None else []
        return [self.server, *self.l2.values(), self.dhcp, *l3]

    @property
    def datapath(self) -> str:
        """``noop`` or ``linuxbridge``."""
        return self.drivers.name

    @property
    def datapath_reason(self) -> str:
        return self.drivers.reason

    @property
    def fabric(self) -> Fabric | None:
        return self.drivers.fabric

    @property
    def state_dir(self) -> Path | None:
        return self.drivers.state_dir

    @property
    def l2_agents(self) -> dict[str, LinuxBridgeAgent]:
        agents = {host: b.manager for host, b in self.l2.items()}
        return {h: a for h, a in agents.items() if isinstance(a, LinuxBridgeAgent)}

    @property
    def dhcp_agent(self) -> DhcpAgent | None:
        agent = self.dhcp.manager
        return agent if self.dhcp.running and isinstance(agent, DhcpAgent) else None

    @property
    def l3_agent(self) -> L3Agent | None:
        agent = self.l3.manager if self.l3 is not None else None
        return agent if isinstance(agent, L3Agent) else None

    def host_namespace(self, host: str) -> str | None:
        """The network namespace playing ``host`` (None: no datapath)."""
        return self.drivers.host_namespace(host)

    def start_l2_agent(self, host: str) -> LinuxBridgeAgent:
        """Start a linuxbridge agent on ``host`` (a new one, after ``stop_l2_agent``)."""
        if host not in self.l2:
            self.l2[host] = self._l2(host)
        binary = self.l2[host].start()
        assert isinstance(binary.manager, LinuxBridgeAgent)
        return binary.manager

    def stop_l2_agent(self, host: str, *, cleanup: bool = True) -> None:
        """Stop the agent on ``host`` (``cleanup=False``: as if its process died, none of its
        stop runs and its bridges and firewall rules stay)."""
        binary = self.l2.pop(host, None)
        if binary is None:
            return
        _stop(binary, cleanup)

    def start_l3_agent(self) -> L3Agent:
        """Start an L3 agent on the network host (a new one, after ``stop_l3_agent``): it
        syncs its routers with the server's."""
        if self.l3 is None:
            self.l3 = self._l3()
        agent = self.l3.start().manager
        assert isinstance(agent, L3Agent)
        return agent

    def stop_l3_agent(self, *, cleanup: bool = True) -> None:
        """Stop the L3 agent (``cleanup=False``: as if its process died, its routers'
        namespaces stay)."""
        binary, self.l3 = self.l3, None
        if binary is not None:
            _stop(binary, cleanup)


def _stop(agent: Binary, cleanup: bool) -> None:
    """Stop an agent's binary, or (``cleanup=False``) only its agent, as a process that dies
    runs none of its stop: what it built stays."""
    if cleanup:
        agent.stop()
    elif isinstance(agent.manager, LinuxBridgeAgent | L3Agent):
        agent.manager.stop(cleanup=False)
