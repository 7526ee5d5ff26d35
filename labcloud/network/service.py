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
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from labcloud.messaging import RPCServer, Target, Transport
from labcloud.netns import links
from labcloud.netns.fabric import Fabric
from labcloud.netns.links import DatapathError
from labcloud.network.agents.dhcp import DhcpAgent
from labcloud.network.agents.dhcp_driver import DhcpDriver, DnsmasqDhcp, NoopDhcp
from labcloud.network.agents.firewall import FirewallDriver, NoopFirewall
from labcloud.network.agents.iptables_firewall import IptablesFirewall
from labcloud.network.agents.l2 import L2Datapath, LinuxBridge, NoopL2
from labcloud.network.agents.l3 import L3Agent
from labcloud.network.agents.l3_driver import L3Driver, NamespaceRouters, NoopL3
from labcloud.network.agents.linuxbridge import LinuxBridgeAgent
from labcloud.network.agents_db import AGENT_DOWN_TIME, DHCP, L3, REPORT_INTERVAL, AgentsDb
from labcloud.network.api import create_network_app
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
DATAPATHS = ("noop", "linuxbridge")
LOG = logging.getLogger(__name__)
# Debian: iproute2 dnsmasq-base busybox iputils-ping iptables
TOOLS = ("ip", "dnsmasq", "busybox", "ping", "iptables-restore")


def choose_datapath(wanted: str = "auto") -> tuple[str, str]:
    """("noop" or "linuxbridge", why). ``auto``: linuxbridge when this process is root and
    has the tools, else noop; ``linuxbridge`` raises when it cannot be had."""
    if wanted == "noop":
        return "noop", (
            "the no-op datapath was asked for: ports go ACTIVE, nothing is built, "
            "security groups are kept but not enforced"
        )
    ok, why = links.available()
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if ok and missing:
        ok, why = False, f"missing {', '.join(missing)}"
    if ok:
        return "linuxbridge", (
            "linuxbridge in namespaces: bridges, VXLAN, dnsmasq, pingable guests, "
            "security groups enforced by iptables"
        )
    if wanted == "linuxbridge":
        raise DatapathError(reason=f"the linuxbridge datapath needs root and tools: {why}")
    return "noop", (
        f"no-op datapath ({why}): instances cannot be pinged, security groups are not enforced"
    )


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
        self.guests = GuestAccess(self.fabric, self.ports)
        LOG.info("neutron: %s", self.datapath_reason)
        self.state_dir = state_dir or Path(tempfile.gettempdir())
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
            self.transport, NETWORK_HOST, self._dhcp_driver(), **self._intervals
        ).start()
        self.l3_agent = L3Agent(
            self.transport, NETWORK_HOST, self._l3_driver(), **self._intervals
        ).start()

    def host_namespace(self, host: str) -> str | None:
        """The network namespace playing ``host`` (None: no datapath)."""
        return self.fabric.host(host) if self.fabric is not None else None

    def _l2_datapath(self, host: str) -> L2Datapath:
        if self.fabric is None:
            return NoopL2()
        return LinuxBridge(self.fabric.host(host))

    def _firewall(self, host: str) -> FirewallDriver:
        if self.fabric is None:
            return NoopFirewall()
        return IptablesFirewall(self.fabric.host(host))

    def _dhcp_driver(self) -> DhcpDriver:
        if self.fabric is None:
            return NoopDhcp()
        fabric = self.fabric
        return DnsmasqDhcp(
            fabric.host(NETWORK_HOST),
            lambda net: fabric.ns(f"qdhcp-{net}"),
            self.state_dir / f"dhcp-{fabric.tag}",
        )

    def _l3_driver(self) -> L3Driver:
        if self.fabric is None:
            return NoopL3()
        fabric = self.fabric
        return NamespaceRouters(fabric.host(NETWORK_HOST), lambda r: fabric.ns(f"qrouter-{r}"))

    def start_l2_agent(self, host: str) -> LinuxBridgeAgent:
        if host not in self.l2_agents:
            assert self.transport is not None
            firewall = self._firewall(host)
            configurations: dict[str, Any] = {
                "datapath": self.datapath,
                "firewall_driver": type(firewall).__name__,
            }
            if self.fabric is not None:
                configurations |= {
                    "tunneling_ip": self.fabric.tunnel_ip(host),
                    "interface_mappings": {"physnet1": "phy0"},
                    "tunnel_types": ["vxlan"],
                }
            self.l2_agents[host] = LinuxBridgeAgent(
                self.transport,
                host,
                self._l2_datapath(host),
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
        if self.fabric is not None:
            self.fabric.destroy()
        self.manager.db.dispose()
