"""The NetworkDriver neutron-server uses when it has agents: each database change becomes
the casts neutron makes for it (ML2's AgentNotifierApi and the DhcpAgentNotifyAPI).

Port events go to every L2 agent (fanout: the one whose host has the tap acts on it) and to
the DHCP agents (``dhcp_agent.<host>``), which rewrite their dnsmasq's hosts file.
neutron sends ``port_update`` when a port's binding changes; labcloud also sends it when a
port is created bound to a host, so an agent without taps to watch (the no-op datapath)
learns of the port at once. A change of a security group's rules or members goes to every
L2 agent on ``q-agent-notifier-security_group-update`` (neutron's SecurityGroupAgentRpcApi),
and each refreshes the firewall of its ports that the groups touch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labcloud.context import RequestContext
from labcloud.messaging import Transport
from labcloud.network import segments
from labcloud.network.rpcapi import AgentNotifierApi, DhcpAgentNotifyAPI, L3AgentNotifyAPI


class AgentNotifier:
    def __init__(
        self,
        transport: Transport,
        dhcp_hosts: Callable[[], list[str]],
        segment: Callable[[str], dict[str, Any]],
    ) -> None:
        """``dhcp_hosts``: the hosts of the alive DHCP agents (every one hosts every network:
        neutron's dhcp_agents_per_network scheduling left out); ``segment``: a network's
        network_type, segmentation_id and physical_network."""
        self.agents = AgentNotifierApi(transport)
        self.dhcp = DhcpAgentNotifyAPI(transport)
        self._dhcp_hosts = dhcp_hosts
        self._segment = segment

    def _to_dhcp(
        self, ctxt: RequestContext, method: str, hosts: list[str] | None = None, **payload: Any
    ) -> None:
        self.dhcp.notify(ctxt, self._dhcp_hosts() if hosts is None else hosts, method, **payload)

    def ensure_network(self, ctxt: RequestContext, network: dict[str, Any]) -> None:
        self._to_dhcp(ctxt, "network_create_end", network=network)

    def delete_network(self, ctxt: RequestContext, network_id: str) -> None:
        self.agents.network_delete(ctxt, network_id)
        self._to_dhcp(ctxt, "network_delete_end", network_id=network_id)

    def update_subnet(self, ctxt: RequestContext, subnet: dict[str, Any], event: str) -> None:
        self._to_dhcp(ctxt, f"subnet_{event}_end", subnet=subnet)

    def plug_port(
        self,
        ctxt: RequestContext,
        port: dict[str, Any],
        *,
        network: dict[str, Any] | None = None,
        dhcp_hosts: list[str] | None = None,
    ) -> None:
        """``network`` and ``dhcp_hosts``, read by create_port just before, spare a second
        read of the network's segment and of the DHCP agents for each port."""
        if port.get("binding:host_id"):
            if network is None or network["id"] != port["network_id"]:
                segment = self._segment(port["network_id"])
            else:
                segment = segments.of_view(network)
            self.agents.port_update(ctxt, port, segment)
        self._to_dhcp(ctxt, "port_create_end", dhcp_hosts, port=port)

    def update_port(self, ctxt: RequestContext, port: dict[str, Any]) -> None:
        self.agents.port_update(ctxt, port, self._segment(port["network_id"]))
        self._to_dhcp(ctxt, "port_update_end", port=port)

    def unplug_port(self, ctxt: RequestContext, port: dict[str, Any]) -> None:
        self.agents.port_delete(ctxt, port["id"])
        self._to_dhcp(ctxt, "port_delete_end", port_id=port["id"], network_id=port["network_id"])

    def security_groups_rule_updated(self, ctxt: RequestContext, groups: list[str]) -> None:
        if groups:
            self.agents.security_groups_rule_updated(ctxt, groups)

    def security_groups_member_updated(self, ctxt: RequestContext, groups: list[str]) -> None:
        if groups:
            self.agents.security_groups_member_updated(ctxt, groups)


class L3AgentNotifier:
    """The routers' notifier (routers.L3Notifier) when neutron-server has L3 agents."""

    def __init__(self, transport: Transport, l3_hosts: Callable[[], list[str]]) -> None:
        """``l3_hosts``: the hosts of the alive L3 agents (each hosts every router)."""
        self.api = L3AgentNotifyAPI(transport)
        self._hosts = l3_hosts

    def routers_updated(self, ctxt: RequestContext, router_ids: list[str]) -> None:
        self.api.routers_updated(ctxt, self._hosts(), router_ids)

    def router_deleted(self, ctxt: RequestContext, router_id: str) -> None:
        self.api.router_deleted(ctxt, router_id)
