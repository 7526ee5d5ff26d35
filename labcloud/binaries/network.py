"""neutron-server and its agents: the L2 agent on every host, the DHCP and L3 agents on one.

The agents build what ``[linux_bridge] datapath`` says: ``noop`` (ports go ACTIVE when an
agent says so, nothing is built) or ``linuxbridge`` in the namespaces of the fabric tagged
``[linux_bridge] fabric_tag``, which every agent of the cloud, in whichever process, shares.
"""

from __future__ import annotations

from labcloud.binaries.base import Binary, catalog, credentials, keystone_client, validator
from labcloud.conf.options import ConfigError, ServiceConf
from labcloud.messaging import Target
from labcloud.netns.fabric import Fabric
from labcloud.network.agents.dhcp import DhcpAgent
from labcloud.network.agents.l3 import L3Agent
from labcloud.network.agents.linuxbridge import LinuxBridgeAgent
from labcloud.network.datapath import Datapath, choose_datapath
from labcloud.network.l3_rpc import L3RpcCallback
from labcloud.network.nova import NovaClient, NovaNotifier
from labcloud.network.plugin_rpc import ReportsCallback, RpcCallbacks
from labcloud.network.rpcapi import EXCHANGE, L3_PLUGIN, PLUGIN, REPORTS
from labcloud.network.service import NetworkService
from labcloud.rest.auth import ServiceToken
from labcloud.rest.client import ServiceClient


def neutron_server(conf: ServiceConf) -> Binary:
    """neutron-server: the REST API, ``q-plugin`` (what agents ask), ``q-l3-plugin`` (what
    L3 agents ask) and ``q-reports-plugin`` (their heartbeats)."""
    binary = Binary("neutron-server", conf)
    service = NetworkService(
        conf.database_url,
        validator=validator(conf, binary.name, binary.bus),
        transport=binary.transport,
        agent_down_time=conf.DEFAULT.service_down_time,
        nova=_nova(binary, conf) if conf.DEFAULT.notify_nova_on_port_status_changes else None,
    )
    binary.part(lambda: None, service.stop)  # its database: closed last
    host = conf.DEFAULT.host
    binary.rpc(Target(EXCHANGE, PLUGIN, server=host), RpcCallbacks(service.manager, service.ports))
    binary.rpc(
        Target(EXCHANGE, L3_PLUGIN, server=host), L3RpcCallback(service.manager, service.ports)
    )
    binary.rpc(Target(EXCHANGE, REPORTS, server=host), ReportsCallback(service.agents_db))
    binary.http(service.create_app())
    return binary


def _nova(binary: Binary, conf: ServiceConf) -> NovaNotifier:
    """How neutron-server tells nova of its instances' ports: nova-api at the catalog's URL
    (waits for keystone), with neutron's service user's token."""
    http = ServiceClient(
        catalog(conf, binary.name)["compute"],
        source=binary.name,
        target="nova-api",
        bus=binary.bus,
        origin=binary.origin,
    )
    token = ServiceToken(keystone_client(conf, binary.name, binary.bus), credentials(conf))
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


def linuxbridge_agent(conf: ServiceConf) -> Binary:
    """neutron-linuxbridge-agent on ``[DEFAULT] host``."""
    binary = Binary("neutron-linuxbridge-agent", conf)
    drivers, host = datapath(conf), conf.DEFAULT.host
    firewall = drivers.firewall(host)
    agent = LinuxBridgeAgent(
        binary.transport,
        host,
        drivers.l2(host),
        firewall,
        report_interval=conf.DEFAULT.report_interval,
        configurations=drivers.l2_configurations(host, firewall),
    )
    binary.part(agent.start, agent.stop)
    return binary


def dhcp_agent(conf: ServiceConf) -> Binary:
    """neutron-dhcp-agent on ``[DEFAULT] host``."""
    binary = Binary("neutron-dhcp-agent", conf)
    agent = DhcpAgent(
        binary.transport,
        conf.DEFAULT.host,
        datapath(conf).dhcp(conf.DEFAULT.host),
        report_interval=conf.DEFAULT.report_interval,
    )
    binary.part(agent.start, agent.stop)
    return binary


def l3_agent(conf: ServiceConf) -> Binary:
    """neutron-l3-agent on ``[DEFAULT] host``."""
    binary = Binary("neutron-l3-agent", conf)
    host = conf.DEFAULT.host
    interval = conf.DEFAULT.report_interval
    agent = L3Agent(binary.transport, host, datapath(conf).l3(host), report_interval=interval)
    binary.part(agent.start, agent.stop)
    return binary
