"""neutron's RPC, server → agents: the topics and the notifiers neutron-server casts with.

Names as neutron/common/topics.py has them, on the ``neutron`` exchange (the seed's older
``quantum``). The L2 agents listen on ``q-agent-notifier-<resource>-<operation>`` (each
with its own ``..._fanout_<uuid>`` queue, so every agent hears every notification); the
DHCP agents on ``dhcp_agent`` and ``dhcp_agent.<host>``; the L3 agents on ``l3_agent``,
``l3_agent.<host>`` and ``l3_agent_fanout``. Agents call the server on ``q-plugin`` (the L3
agent on ``q-l3-plugin``, agents/rpc.py) and report their state on ``q-reports-plugin``.
"""

from __future__ import annotations

from typing import Any

from labcloud.context import RequestContext
from labcloud.messaging import RPCClient, Target, Transport

EXCHANGE = "neutron"
PLUGIN = "q-plugin"
REPORTS = "q-reports-plugin"
AGENT = "q-agent-notifier"
DHCP_AGENT = "dhcp_agent"
L3_AGENT = "l3_agent"
L3_PLUGIN = "q-l3-plugin"
PORT, NETWORK, SECURITY_GROUP = "port", "network", "security_group"
UPDATE, DELETE = "update", "delete"


def topic_name(prefix: str, table: str, operation: str) -> str:
    """``q-agent-notifier-port-update``, as neutron's topics.get_topic_name builds it."""
    return f"{prefix}-{table}-{operation}"


class AgentNotifierApi:
    """neutron-server → every L2 agent: fanout casts (neutron's ml2 AgentNotifierApi)."""

    def __init__(self, transport: Transport, service: str = "neutron-server") -> None:
        self.client = RPCClient(transport, Target(exchange=EXCHANGE), service=service)

    def _fanout(self, table: str, operation: str) -> RPCClient:
        return self.client.prepare(topic=topic_name(AGENT, table, operation), fanout=True)

    def port_update(
        self, ctxt: RequestContext, port: dict[str, Any], segment: dict[str, Any]
    ) -> None:
        self._fanout(PORT, UPDATE).cast(
            ctxt,
            "port_update",
            port=port,
            network_type=segment["network_type"],
            segmentation_id=segment["segmentation_id"],
            physical_network=segment["physical_network"],
        )

    def port_delete(self, ctxt: RequestContext, port_id: str) -> None:
        self._fanout(PORT, DELETE).cast(ctxt, "port_delete", port_id=port_id)

    def network_delete(self, ctxt: RequestContext, network_id: str) -> None:
        self._fanout(NETWORK, DELETE).cast(ctxt, "network_delete", network_id=network_id)

    def security_groups_rule_updated(self, ctxt: RequestContext, groups: list[str]) -> None:
        self._fanout(SECURITY_GROUP, UPDATE).cast(
            ctxt, "security_groups_rule_updated", security_groups=groups
        )

    def security_groups_member_updated(self, ctxt: RequestContext, groups: list[str]) -> None:
        self._fanout(SECURITY_GROUP, UPDATE).cast(
            ctxt, "security_groups_member_updated", security_groups=groups
        )


class DhcpAgentNotifyAPI:
    """neutron-server → the DHCP agents hosting a network: a cast to ``dhcp_agent.<host>``
    each (neutron's DhcpAgentNotifyAPI), or a fanout when no agent is known yet."""

    def __init__(self, transport: Transport, service: str = "neutron-server") -> None:
        self.client = RPCClient(
            transport, Target(exchange=EXCHANGE, topic=DHCP_AGENT), service=service
        )

    def notify(self, ctxt: RequestContext, hosts: list[str], method: str, **payload: Any) -> None:
        """``method``: network_create_end, subnet_update_end, port_create_end, ..."""
        if not hosts:
            self.client.prepare(fanout=True).cast(ctxt, method, payload=payload)
        for host in hosts:
            self.client.prepare(server=host).cast(ctxt, method, payload=payload)


class L3AgentNotifyAPI:
    """neutron-server → the L3 agents (neutron's L3AgentNotifyAPI): ``routers_updated`` with
    the changed routers' ids to ``l3_agent.<host>`` of each agent hosting them (a fanout
    when none is known yet), ``router_deleted`` fanned out to all of them."""

    def __init__(self, transport: Transport, service: str = "neutron-server") -> None:
        self.client = RPCClient(
            transport, Target(exchange=EXCHANGE, topic=L3_AGENT), service=service
        )

    def routers_updated(
        self, ctxt: RequestContext, hosts: list[str], router_ids: list[str]
    ) -> None:
        if not hosts:
            self.client.prepare(fanout=True).cast(ctxt, "routers_updated", routers=router_ids)
        for host in hosts:
            self.client.prepare(server=host).cast(ctxt, "routers_updated", routers=router_ids)

    def router_deleted(self, ctxt: RequestContext, router_id: str) -> None:
        self.client.prepare(fanout=True).cast(ctxt, "router_deleted", router_id=router_id)
