"""neutron as a cloud runs it: neutron-server (its REST app, and its RPC servers on
``q-plugin``, ``q-l3-plugin`` and ``q-reports-plugin``), a linuxbridge agent per host, and
a DHCP agent and an L3 agent on the network host, all on one transport.

Without a transport there are no agents: the API and IPAM alone, ports ACTIVE at once.
With one, the datapath is ``noop`` (agents, RPC and port states as neutron has them,
nothing built, no firewall: the in-kernel cloud without root) or ``linuxbridge`` (root:
bridges, VXLAN, dnsmasq and routers with iptables NAT in namespaces, see labcloud.netns, and
security groups enforced by iptables in each host's namespace, see agents/iptables_firewall.py).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from fastapi import FastAPI

from labcloud.messaging import RPCServer, Target, Transport
from labcloud.netns.fabric import Fabric
from labcloud.network.agents.dhcp import DhcpAgent
from labcloud.network.agents.l3 import L3Agent
from labcloud.network.agents.linuxbridge import LinuxBridgeAgent
from labcloud.network.agents_db import AGENT_DOWN_TIME, DHCP, L3, REPORT_INTERVAL, AgentsDb
from labcloud.network.api import create_network_app
from labcloud.network.datapath import DATAPATHS, Datapath
from labcloud.network.driver import NetworkDriver
from labcloud.network.guests import GuestAccess
from labcloud.network.l3_rpc import L3RpcCallback
from labcloud.network.manager import NetworkManager
from labcloud.network.notifier import AgentNotifier, L3AgentNotifier
from labcloud.network.nova import NovaNotifier
from labcloud.network.plugin_rpc import ReportsCallback, RpcCallbacks
from labcloud.network.ports import PortManager
from labcloud.network.routers import L3Notifier
from labcloud.network.rpcapi import EXCHANGE, L3_PLUGIN, PLUGIN, REPORTS
from labcloud.rest.auth import TokenValidator

NETWORK_HOST = "controller"  # where the DHCP agent runs (devstack's all-in-one host)
LOG = logging.getLogger(__name__)


class NetworkService:
    name = "neutron"
    service_type = "network"

    def __init__(
        self,
        db_url: str,
        *,
        validator: TokenValidator,
        driver: NetworkDriver | None = None,
        transport: Transport | None = None,
        datapath: str = "noop",
        datapath_reason: str = "",
        state_dir: Path | None = None,
        report_interval: float = REPORT_INTERVAL,
        agent_down_time: float = AGENT_DOWN_TIME,
        polling_interval: float = 0.5,
        nova: NovaNotifier | None = None,
    ) -> None:
        """``polling_interval``: how often an L2 agent scans for taps (neutron: 2 s);
        ``nova``: how neutron-server tells nova of its instances' ports (None: it does not)."""
        if datapath not in DATAPATHS:
            raise ValueError(
                f"unknown datapath {datapath!r} (labcloud has: {', '.join(DATAPATHS)})"
            )
        self.transport = transport
        self.datapath = datapath if transport is not None else "none"
        self.validator = validator
        self.manager = NetworkManager(db_url, driver, agents=transport is not None)
        self.ports = PortManager(self.manager)
        self.ports.nova = self.nova = nova
        self.agents_db = AgentsDb(self.manager.db, agent_down_time)
        if transport is not None:  # each live DHCP agent hosts every network
            self.ports.dhcp_agents = lambda network_id: self.agents_db.hosts(DHCP[0])
        self.l3_notifier: L3Notifier | None = None
        if transport is not None and driver is None:
            self.manager.driver = AgentNotifier(
                transport, lambda: self.agents_db.hosts(DHCP[0]), self.manager.segment
            )
            self.l3_notifier = L3AgentNotifier(transport, lambda: self.agents_db.hosts(L3[0]))
        self.fabric: Fabric | None = Fabric() if datapath == "linuxbridge" else None
        self.datapath_reason = datapath_reason or self.datapath
        self.drivers = Datapath(self.fabric, state_dir or Path(tempfile.gettempdir()))
        self.guests = GuestAccess(self.fabric, self.ports)
        LOG.info("neutron: %s", self.datapath_reason)
        self.state_dir = self.drivers.state_dir
        self._intervals = {"report_interval": report_interval}
        self._polling = polling_interval
        self._servers: list[RPCServer] = []
        self.l2_agents: dict[str, LinuxBridgeAgent] = {}
        self.dhcp_agent: DhcpAgent | None = None
        self.l3_agent: L3Agent | None = None

    def create_app(self) -> FastAPI:
        return create_network_app(
            self.manager, self.validator, self.ports, self.agents_db, self.l3_notifier
        )

    # -- neutron-server's RPC and the agents ----------------------------------------------------
    def start(self, hosts: list[str]) -> None:
        """Serve ``q-plugin``, ``q-l3-plugin`` and ``q-reports-plugin``, then start an L2
        agent on each of ``hosts`` and on the network host, and the DHCP and L3 agents there."""
        if self.transport is None:
            return
        endpoints = (
            (PLUGIN, RpcCallbacks(self.manager, self.ports)),
            (L3_PLUGIN, L3RpcCallback(self.manager, self.ports)),
            (REPORTS, ReportsCallback(self.agents_db)),
        )
        for topic, endpoint in endpoints:
            server = RPCServer(
                self.transport,
                Target(EXCHANGE, topic, server=NETWORK_HOST),
                [endpoint],
                service="neutron-server",
            )
            server.start()
            self._servers.append(server)
        for host in [NETWORK_HOST, *hosts]:
            self.start_l2_agent(host)
        self.dhcp_agent = DhcpAgent(
            self.transport, NETWORK_HOST, self.drivers.dhcp(NETWORK_HOST), **self._intervals
        ).start()
        self.l3_agent = L3Agent(
            self.transport, NETWORK_HOST, self.drivers.l3(NETWORK_HOST), **self._intervals
        ).start()

    def host_namespace(self, host: str) -> str | None:
        """The network namespace playing ``host`` (None: no datapath)."""
        return self.drivers.host_namespace(host)

    def start_l2_agent(self, host: str) -> LinuxBridgeAgent:
        if host not in self.l2_agents:
            assert self.transport is not None
            firewall = self.drivers.firewall(host)
            configurations = self.drivers.l2_configurations(host, firewall)
            self.l2_agents[host] = LinuxBridgeAgent(
                self.transport,
                host,
                self.drivers.l2(host),
                firewall,
                polling_interval=self._polling,
                configurations=configurations,
                **self._intervals,
            ).start()
        return self.l2_agents[host]

    def stop_l2_agent(self, host: str, *, cleanup: bool = True) -> None:
        """Stop the agent (``cleanup=False``: as if it crashed, its bridges stay)."""
        agent = self.l2_agents.pop(host, None)
        if agent is not None:
            agent.stop(cleanup=cleanup)

    def stop(self) -> None:
        if self.nova is not None:
            self.nova.stop()
        if self.l3_agent is not None:
            self.l3_agent.stop()
            self.l3_agent = None
        if self.dhcp_agent is not None:
            self.dhcp_agent.stop()
            self.dhcp_agent = None
        for host in list(self.l2_agents):
            self.stop_l2_agent(host)
        for server in self._servers:
            server.stop()
        for server in self._servers:
            server.wait()
        self._servers.clear()
        self.drivers.destroy()
        self.manager.db.dispose()
