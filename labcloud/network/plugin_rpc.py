"""neutron-server's RPC endpoints for its agents: what they call on ``q-plugin`` (the
ML2 RpcCallbacks and the DHCP agent's DhcpRpcCallback, by neutron's method names) and on
``q-reports-plugin`` (report_state).

A port goes DOWN → BUILD (an agent asked for its details to plug it) → ACTIVE once every
provisioning block is gone (provisioning_blocks.py): the L2 agent's, when it has plugged the
port and said ``update_device_list`` (or ``update_device_up`` for one device), and the DHCP
agent's, when its dnsmasq knows the port and it said ``dhcp_ready_on_ports``, whichever
comes last. neutron then tells nova "network-vif-plugged" (nova.py), which the instance's
build waits for.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from labcloud.context import RequestContext
from labcloud.network import provisioning_blocks, secgroups_rpc, views
from labcloud.network.agents_db import AgentsDb
from labcloud.network.manager import NetworkManager
from labcloud.network.models import Network, Subnet
from labcloud.network.port_status import PortStatus
from labcloud.network.ports import PortManager

LOG = logging.getLogger(__name__)
ADMIN = RequestContext(is_admin=True, roles=("admin",))


class RpcCallbacks:
    """``q-plugin``: an L2 agent plugging devices, a DHCP agent asking what to serve."""

    def __init__(self, networks: NetworkManager, ports: PortManager) -> None:
        self.networks = networks
        self.ports = ports
        self.status = PortStatus(ports)  # what the agents say about ports

    # -- the L2 agents (neutron/plugins/ml2/rpc.py) -----------------------------------------
    def get_device_details(
        self, ctxt: RequestContext, device: str, agent_id: str, host: str
    ) -> dict[str, Any]:
        """What the agent needs to plug ``device``; the port becomes BUILD."""
        return self.get_devices_details_list(ctxt, [device], agent_id, host)[0]

    def get_devices_details_list(
        self, ctxt: RequestContext, devices: list[str], agent_id: str, host: str
    ) -> list[dict[str, Any]]:
        """``get_device_details`` for a round of devices, in one transaction."""
        ports = self.status.set_statuses(devices, "BUILD", host, view=True)
        found = []
        for device in devices:
            port = ports.get(device)
            if port is None:
                LOG.debug("device %s from %s has no port", device, agent_id)
                found.append({"device": device})
                continue
            found.append(
                {
                    "device": device,
                    "port_id": port["id"],
                    "network_id": port["network_id"],
                    "mac_address": port["mac_address"],
                    "admin_state_up": port["admin_state_up"],
                    "fixed_ips": port["fixed_ips"],
                    "device_owner": port["device_owner"],
                    **port["segment"],
                }
            )
        return found

    def update_device_up(self, ctxt: RequestContext, device: str, agent_id: str, host: str) -> None:
        """The agent plugged the device: its port's L2 block is complete."""
        self.status.devices_up([device], host)

    def update_device_down(
        self, ctxt: RequestContext, device: str, agent_id: str, host: str
    ) -> dict[str, Any]:
        exists = self.status.set_status(device, "DOWN") is not None
        return {"device": device, "exists": exists}

    def update_device_list(
        self,
        ctxt: RequestContext,
        devices_up: list[str],
        devices_down: list[str],
        agent_id: str,
        host: str,
    ) -> dict[str, list[str]]:
        """A round's devices up and down in one call (neutron's update_device_list);
        a device of no port is listed as failed."""
        up = self.status.devices_up(devices_up, host)
        down = list(self.status.set_statuses(devices_down, "DOWN"))
        return {
            "devices_up": up,
            "failed_devices_up": sorted(set(devices_up) - set(up)),
            "devices_down": down,
            "failed_devices_down": sorted(set(devices_down) - set(down)),
        }

    def security_group_rules_for_devices(
        self, ctxt: RequestContext, devices: list[str]
    ) -> dict[str, Any]:
        """Each device's port with its security group rules, remote groups expanded
        (neutron's SecurityGroupServerRpcCallback); a device of no port is left out."""
        return secgroups_rpc.rules_for_ports(
            self.networks.db, secgroups_rpc.ports_of_devices(self.networks.db, devices)
        )

    def security_group_info_for_devices(
        self, ctxt: RequestContext, devices: list[str]
    ) -> dict[str, Any]:
        """The same, each group's rules and members sent once (neutron's enhanced RPC)."""
        return secgroups_rpc.info_for_devices(self.networks.db, devices)

    # -- the DHCP agents (neutron/api/rpc/handlers/dhcp_rpc.py) -------------------------------
    def get_active_networks_info(self, ctxt: RequestContext, host: str) -> list[dict[str, Any]]:
        """Every network with a DHCP subnet, with its subnets and ports."""
        with self.networks.db.session() as s:
            ids = sorted(
                set(s.scalars(select(Subnet.network_id).where(Subnet.enable_dhcp.is_(True))))
            )
        return [self.get_network_info(ctxt, i) for i in ids]

    def get_network_info(self, ctxt: RequestContext, network_id: str) -> dict[str, Any]:
        with self.networks.db.reader() as s:
            net = s.get(Network, network_id)
            if net is None:
                return {}
            subnets = [
                views.subnet(x)
                for x in s.scalars(select(Subnet).where(Subnet.network_id == network_id))
            ]
            result = views.network(net, [x["id"] for x in subnets])
        ports = self.ports.list_ports(ADMIN, {"network_id": network_id})
        return result | {"subnets": subnets, "ports": ports}

    def create_dhcp_port(self, ctxt: RequestContext, port: dict[str, Any]) -> dict[str, Any]:
        """The DHCP agent's own port on a network (device_owner ``network:dhcp``)."""
        mine = self.ports.list_ports(
            ADMIN, {"network_id": port["network_id"], "device_id": port["device_id"]}
        )
        if mine:
            return mine[0]
        return self.ports.create_port(ADMIN, port | {"device_owner": "network:dhcp"})

    def release_dhcp_port(self, ctxt: RequestContext, network_id: str, device_id: str) -> None:
        for port in self.ports.list_ports(
            ADMIN, {"network_id": network_id, "device_id": device_id}
        ):
            self.ports.delete_port(ADMIN, port["id"])

    def dhcp_ready_on_ports(self, ctxt: RequestContext, port_ids: list[str]) -> None:
        """The DHCP agent's dnsmasq knows these ports: their DHCP blocks are complete (a
        port deleted meanwhile is left out)."""
        provisioning_blocks.provisioning_complete(
            self.networks.db,
            port_ids,
            provisioning_blocks.DHCP_ENTITY,
            self.status.provisioned_in,
        )


class ReportsCallback:
    """``q-reports-plugin``: agents' heartbeats into the agents table."""

    def __init__(self, agents: AgentsDb) -> None:
        self.agents = agents

    def report_state(self, ctxt: RequestContext, agent_state: dict[str, Any], time: str) -> str:
        return self.agents.report_state(agent_state["agent_state"])
