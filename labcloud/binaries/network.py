"""neutron-server and its agents: the L2 agent on every host, the DHCP and L3 agents on one.

The agents of a process cloud use the no-op datapath (ports go ACTIVE when an agent says
so, nothing is built): the linuxbridge datapath lives in one process's namespaces for now.
"""

from __future__ import annotations

from labcloud.binaries.base import Binary, catalog, credentials, keystone_client, validator
from labcloud.conf.options import ServiceConf
from labcloud.messaging import Target
from labcloud.network.agents.dhcp import DhcpAgent
from labcloud.network.agents.dhcp_driver import NoopDhcp
from labcloud.network.agents.l2 import NoopL2
from labcloud.network.agents.l3 import L3Agent
from labcloud.network.agents.l3_driver import NoopL3
from labcloud.network.agents.linuxbridge import LinuxBridgeAgent
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


def linuxbridge_agent(conf: ServiceConf) -> Binary:
    """neutron-linuxbridge-agent on ``[DEFAULT] host``."""
    binary = Binary("neutron-linuxbridge-agent", conf)
    agent = LinuxBridgeAgent(
        binary.transport,
        conf.DEFAULT.host,
        NoopL2(),
        report_interval=conf.DEFAULT.report_interval,
        configurations={"datapath": "noop"},
    )
    binary.part(agent.start, agent.stop)
    return binary


def dhcp_agent(conf: ServiceConf) -> Binary:
    """neutron-dhcp-agent on ``[DEFAULT] host``."""
    binary = Binary("neutron-dhcp-agent", conf)
    agent = DhcpAgent(
        binary.transport,
        conf.DEFAULT.host,
        NoopDhcp(),
        report_interval=conf.DEFAULT.report_interval,
    )
    binary.part(agent.start, agent.stop)
    return binary


def l3_agent(conf: ServiceConf) -> Binary:
    """neutron-l3-agent on ``[DEFAULT] host``."""
    binary = Binary("neutron-l3-agent", conf)
    agent = L3Agent(
        binary.transport, conf.DEFAULT.host, NoopL3(), report_interval=conf.DEFAULT.report_interval
    )
    binary.part(agent.start, agent.stop)
    return binary
