"""neutron's RPC, agents → server (neutron/agent/rpc.py): calls on ``q-plugin`` (the L3
agent's on ``q-l3-plugin``) and the state reports on ``q-reports-plugin``. Every one is a
call: the agent waits for the answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from labcloud.context import RequestContext, new_request_id
from labcloud.messaging import RPCClient, Target, Transport
from labcloud.network.rpcapi import EXCHANGE, L3_PLUGIN, PLUGIN, REPORTS


def agent_context() -> RequestContext:
    """The context an agent sends its own calls with (neutron's
    ``get_admin_context_without_session``): admin, a new request id each time."""
    return RequestContext(is_admin=True, roles=("admin",), request_id=new_request_id())


class PluginApi:
    """An L2 agent asking about its devices (neutron's PluginApi)."""

    def __init__(self, transport: Transport, host: str, service: str) -> None:
        self.client = RPCClient(transport, Target(exchange=EXCHANGE, topic=PLUGIN), service=service)
        self.host = host
        self.agent_id = f"lb-{host}"

    def get_device_details(self, ctxt: RequestContext, device: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.call(
            ctxt, "get_device_details", device=device, agent_id=self.agent_id, host=self.host
        )
        return result

    def get_devices_details_list(
        self, ctxt: RequestContext, devices: list[str]
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.client.call(
            ctxt,
            "get_devices_details_list",
            devices=devices,
            agent_id=self.agent_id,
            host=self.host,
        )
        return result

    def update_device_list(
        self, ctxt: RequestContext, devices_up: list[str], devices_down: list[str]
    ) -> dict[str, list[str]]:
        result: dict[str, list[str]] = self.client.call(
            ctxt,
            "update_device_list",
            devices_up=devices_up,
            devices_down=devices_down,
            agent_id=self.agent_id,
            host=self.host,
        )
        return result

    def update_device_up(self, ctxt: RequestContext, device: str) -> None:
        self.client.call(
            ctxt, "update_device_up", device=device, agent_id=self.agent_id, host=self.host
        )

    def update_device_down(self, ctxt: RequestContext, device: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.call(
            ctxt, "update_device_down", device=device, agent_id=self.agent_id, host=self.host
        )
        return result


class SecurityGroupServerRpcApi:
    """An L2 agent asking for its ports' security group rules (neutron's
    SecurityGroupServerRpcApi, on ``q-plugin`` too)."""

    def __init__(self, transport: Transport, service: str) -> None:
        self.client = RPCClient(transport, Target(exchange=EXCHANGE, topic=PLUGIN), service=service)

    def security_group_rules_for_devices(
        self, ctxt: RequestContext, devices: list[str]
    ) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = self.client.call(
            ctxt, "security_group_rules_for_devices", devices=devices
        )
        return result

    def security_group_info_for_devices(
        self, ctxt: RequestContext, devices: list[str]
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.client.call(
            ctxt, "security_group_info_for_devices", devices=devices
        )
        return result


class DhcpPluginApi:
    """A DHCP agent asking what to serve (neutron's DhcpPluginApi)."""

    def __init__(self, transport: Transport, host: str) -> None:
        self.client = RPCClient(
            transport, Target(exchange=EXCHANGE, topic=PLUGIN), service="neutron-dhcp-agent"
        )
        self.host = host

    def get_active_networks_info(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.client.call(
            ctxt, "get_active_networks_info", host=self.host
        )
        return result

    def get_network_info(self, ctxt: RequestContext, network_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.call(ctxt, "get_network_info", network_id=network_id)
        return result

    def create_dhcp_port(self, ctxt: RequestContext, port: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.client.call(ctxt, "create_dhcp_port", port=port)
        return result

    def release_dhcp_port(self, ctxt: RequestContext, network_id: str, device_id: str) -> None:
        self.client.call(ctxt, "release_dhcp_port", network_id=network_id, device_id=device_id)

    def dhcp_ready_on_ports(self, ctxt: RequestContext, port_ids: list[str]) -> None:
        """Tell the server that DHCP is in place for these ports (their DHCP blocks)."""
        self.client.call(ctxt, "dhcp_ready_on_ports", port_ids=port_ids)


class L3PluginApi:
    """An L3 agent asking which routers to build (neutron's L3PluginApi)."""

    def __init__(self, transport: Transport, host: str) -> None:
        self.client = RPCClient(
            transport, Target(exchange=EXCHANGE, topic=L3_PLUGIN), service="neutron-l3-agent"
        )
        self.host = host

    def get_router_ids(self, ctxt: RequestContext) -> list[str]:
        result: list[str] = self.client.call(ctxt, "get_router_ids", host=self.host)
        return result

    def get_routers(
        self, ctxt: RequestContext, router_ids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.client.call(
            ctxt, "sync_routers", host=self.host, router_ids=router_ids
        )
        return result

    def update_floatingip_statuses(
        self, ctxt: RequestContext, router_id: str, fip_statuses: dict[str, str]
    ) -> None:
        self.client.call(
            ctxt, "update_floatingip_statuses", router_id=router_id, fip_statuses=fip_statuses
        )


class ReportStateAPI:
    """An agent's heartbeat (neutron's PluginReportStateAPI)."""

    def __init__(self, transport: Transport, service: str) -> None:
        self.client = RPCClient(
            transport, Target(exchange=EXCHANGE, topic=REPORTS), service=service
        )

    def report_state(self, ctxt: RequestContext, state: dict[str, Any]) -> str:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        result: str = self.client.call(
            ctxt, "report_state", agent_state={"agent_state": state}, time=now
        )
        return result
