"""neutron-server and its agents: the L2 agent on every host, the DHCP and L3 agents on one.

neutron-server is its core plugin (networks, subnets and ports with IPAM; security groups,
routers and floating IPs), the agents table, the notifiers that cast to the agents, the
RPC servers agents call and its REST API. An agent drives a datapath: given ``shared`` (the
in-kernel cloud), the cloud's (``noop``, or ``linuxbridge`` in its fabric of namespaces);
in a process of its own, what ``[linux_bridge] datapath`` says: ``noop`` (ports go ACTIVE
when an agent says so, nothing is built) or ``linuxbridge`` in the namespaces of the fabric
tagged ``[linux_bridge] fabric_tag``, which every agent of the cloud, in whichever process,
shares (see :func:`datapath`).
"""

from __future__ import annotations

from dataclasses import dataclass

from labcloud.binaries.base import Binary
from labcloud.binaries.shared import Shared
from labcloud.conf.options import ConfigError, ServiceConf
from labcloud.messaging import Target
from labcloud.netns.fabric import Fabric
from labcloud.network.agents.dhcp import DhcpAgent
from labcloud.network.agents.l3 import L3Agent
from labcloud.network.agents.linuxbridge import POLLING_INTERVAL, LinuxBridgeAgent
from labcloud.network.agents_db import DHCP, L3, AgentsDb
from labcloud.network.api import create_network_app
from labcloud.network.datapath import Datapath, choose_datapath
from labcloud.network.l3_rpc import L3RpcCallback
from labcloud.network.manager import NetworkManager
from labcloud.network.notifier import AgentNotifier, L3AgentNotifier
from labcloud.network.nova import NovaClient, NovaNotifier
from labcloud.network.plugin_rpc import ReportsCallback, RpcCallbacks
from labcloud.network.ports import PortManager
from labcloud.network.rpcapi import EXCHANGE, L3_PLUGIN, PLUGIN, REPORTS
from labcloud.rest.client import ServiceClient


@dataclass(frozen=True)
class NeutronServer:
    """What neutron-server serves: ``manager`` (networks, subnets, IPAM), ``ports`` (ports,
    security groups), the agents table, and how it tells nova of ports (None: it does not)."""

    manager: NetworkManager
    ports: PortManager
    agents_db: AgentsDb
    nova: NovaNotifier | None


def neutron_server(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    """neutron-server: the REST API, ``q-plugin`` (what agents ask), ``q-l3-plugin`` (what
    L3 agents ask) and ``q-reports-plugin`` (their heartbeats), as ``[DEFAULT] host``."""
    binary = Binary("neutron-server", conf, shared=shared)
    transport = binary.transport
    manager = NetworkManager(conf.database_url, agents=True)  # ports wait for their agents
    binary.release(manager.db.dispose)
    ports = PortManager(manager)
    agents_db = AgentsDb(manager.db, conf.DEFAULT.service_down_time)
    # each live DHCP agent hosts every network, each live L3 agent every router
    ports.dhcp_agents = lambda network_id, c: agents_db.hosts(DHCP[0], c=c)
    manager.driver = AgentNotifier(transport, lambda: agents_db.hosts(DHCP[0]), manager.segment)
    l3_notifier = L3AgentNotifier(transport, lambda: agents_db.hosts(L3[0]))
    nova = _nova(binary, conf) if conf.DEFAULT.notify_nova_on_port_status_changes else None
    if nova is not None:
        ports.nova = nova
        binary.part(lambda: None, nova.stop)  # stopped after the RPC servers' methods end
    binary.manager = NeutronServer(manager, ports, agents_db, nova)
    host = conf.DEFAULT.host
    binary.rpc(Target(EXCHANGE, PLUGIN, server=host), RpcCallbacks(manager, ports))
    binary.rpc(Target(EXCHANGE, L3_PLUGIN, server=host), L3RpcCallback(manager, ports))
    binary.rpc(Target(EXCHANGE, REPORTS, server=host), ReportsCallback(agents_db))
    binary.http(create_network_app(manager, binary.validator(), ports, agents_db, l3_notifier))
    return binary


def _nova(binary: Binary, conf: ServiceConf) -> NovaNotifier:
    """How neutron-server tells nova of its instances' ports: nova-api at the catalog's URL
    (waits for keystone), with neutron's service user's token."""
    http = ServiceClient(
        binary.catalog()["compute"],
        source=binary.name,
        target="nova-api",
        bus=binary.bus,
        origin=binary.origin,
    )
    token = binary.service_token()
    return NovaNotifier(NovaClient(http, token), conf.DEFAULT.send_events_interval)


def datapath(conf: ServiceConf) -> Datapath:
    """The agents' drivers as ``[linux_bridge]`` says (linuxbridge: raises DatapathError
    when this process cannot build it: not root, or a tool missing)."""
    options = conf.linux_bridge
    if options.datapath == "noop":
        return Datapath()
    if not options.fabric_tag:
        raise ConfigError("[linux_bridge] datapath = linuxbridge needs a fabric_tag")
    _, reason = choose_datapath(options.datapath)
    return Datapath(Fabric(options.fabric_tag), conf.DEFAULT.state_path, reason)


def _drivers(binary: Binary) -> Datapath:
    """The cloud's datapath when shared, else the one its settings choose."""
    shared = binary.shared
    if shared is not None and shared.datapath is not None:
        return shared.datapath
    return datapath(binary.conf)


def linuxbridge_agent(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    """neutron-linuxbridge-agent on ``[DEFAULT] host``: plugs taps into bridges and filters
    them with the host's firewall."""
    binary = Binary("neutron-linuxbridge-agent", conf, shared=shared)
    host, drivers = conf.DEFAULT.host, _drivers(binary)
    firewall = drivers.firewall(host, enable_ipset=conf.securitygroup.enable_ipset)
    polling = shared.polling_interval if shared is not None else None
    agent = LinuxBridgeAgent(
        binary.transport,
        host,
        drivers.l2(host),
        firewall,
        polling_interval=polling or POLLING_INTERVAL,
        report_interval=conf.DEFAULT.report_interval,
        configurations=drivers.l2_configurations(host, firewall),
    )
    binary.manager = agent
    binary.part(agent.start, agent.stop)
    return binary


def dhcp_agent(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    """neutron-dhcp-agent on ``[DEFAULT] host``: a dnsmasq per network."""
    binary = Binary("neutron-dhcp-agent", conf, shared=shared)
    host = conf.DEFAULT.host
    agent = DhcpAgent(
        binary.transport,
        host,
        _drivers(binary).dhcp(host),
        report_interval=conf.DEFAULT.report_interval,
    )
    binary.manager = agent
    binary.part(agent.start, agent.stop)
    return binary


def l3_agent(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    """neutron-l3-agent on ``[DEFAULT] host``: a namespace per router, NAT for its
    floating IPs."""
    binary = Binary("neutron-l3-agent", conf, shared=shared)
    host = conf.DEFAULT.host
    agent = L3Agent(
        binary.transport,
        host,
        _drivers(binary).l3(host),
        report_interval=conf.DEFAULT.report_interval,
    )
    binary.manager = agent
    binary.part(agent.start, agent.stop)
    return binary
