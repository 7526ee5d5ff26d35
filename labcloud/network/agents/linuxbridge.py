"""neutron-linuxbridge-agent: one per host. It listens for the server's notifications
(``q-agent-notifier-port-update`` / ``-port-delete`` / ``-network-delete`` /
``-security_group-update``, each with its fanout queue), scans its host for taps every
``polling_interval``, or at once after a notification or when the kernel says a link
changed on the host (the datapath's ``watch``: neutron's linuxbridge agent only polls,
its OVS agent watches ovsdb the same way). The taps new in a round are treated together,
as neutron's agent does: one ``get_devices_details_list`` on ``q-plugin``, one firewall
change filtering them by their security groups (sg_agent.py), one plug into their
networks' bridges, and one ``update_device_list`` saying them up: only then is a port
ACTIVE. A tap that vanished is reported down in the same call and its filter removed. A
security group notification marks the ports it concerns, refreshed in a round at most once
per polling interval (sg_agent.py).
Every ``report_interval`` it reports its state (``q-reports-plugin``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from labcloud.context import RequestContext, new_request_id
from labcloud.exceptions import LabCloudError
from labcloud.messaging import MessagingError, RPCServer, Target, Transport
from labcloud.network.agents.firewall import FirewallDriver, NoopFirewall
from labcloud.network.agents.l2 import L2Datapath, NoopL2, tap_name
from labcloud.network.agents.rpc import PluginApi, ReportStateAPI, SecurityGroupServerRpcApi
from labcloud.network.agents.sg_agent import SecurityGroupAgentRpc
from labcloud.network.agents_db import LINUXBRIDGE, REPORT_INTERVAL
from labcloud.network.rpcapi import (
    AGENT,
    DELETE,
    EXCHANGE,
    NETWORK,
    PORT,
    SECURITY_GROUP,
    UPDATE,
    topic_name,
)

LOG = logging.getLogger(__name__)
BINARY = LINUXBRIDGE[1]
POLLING_INTERVAL = 2.0  # seconds, neutron's [AGENT] polling_interval


class LinuxBridgeAgent:
    def __init__(
        self,
        transport: Transport,
        host: str,
        datapath: L2Datapath | None = None,
        firewall: FirewallDriver | None = None,
        *,
        polling_interval: float = POLLING_INTERVAL,
        report_interval: float = REPORT_INTERVAL,
        configurations: dict[str, Any] | None = None,
    ) -> None:
        self.transport = transport
        self.host = host
        self.datapath: L2Datapath = datapath or NoopL2()
        self.polling_interval = polling_interval
        self.report_interval = report_interval
        self.plugin = PluginApi(transport, host, BINARY)
        self.reports = ReportStateAPI(transport, BINARY)
        self.sg = SecurityGroupAgentRpc(
            SecurityGroupServerRpcApi(transport, BINARY),
            firewall or NoopFirewall(),
            refresh_interval=polling_interval,
        )
        self.configurations = configurations or {}
        self.known: set[str] = set()
        self._unknown: set[str] = set()  # taps of no port: asked again after a port_update
        self._updated: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._servers: list[RPCServer] = []
        self._next_report = 0.0
        self._unwatch: Callable[[], None] = lambda: None

    # -- notifications from neutron-server (fanout casts) -----------------------------------
    def port_update(self, ctxt: RequestContext, port: dict[str, Any], **segment: Any) -> None:
        """Mark the port's tap for the next round (neutron's updated_devices); wake the
        loop only when it is this host's port or a tap it has seen: every agent hears of
        every port, and a round for another host's port finds nothing to do."""
        device = tap_name(port["id"])
        bound = port.get("binding:host_id") == self.host
        if bound:
            self.datapath.port_bound(port)
        with self._lock:
            self._updated.add(device)
        if bound or device in self.known or device in self._unknown:
            self._wake.set()

    def port_delete(self, ctxt: RequestContext, port_id: str) -> None:
        self.datapath.port_deleted(port_id)
        self._wake.set()

    def network_delete(self, ctxt: RequestContext, network_id: str) -> None:
        self.datapath.delete_network(network_id)

    # a notification wakes the loop only when it marked a port not marked yet: the loop
    # already waits no longer than the marked ports' refresh is due
    def security_groups_rule_updated(
        self, ctxt: RequestContext, security_groups: list[str]
    ) -> None:
        if self.sg.security_groups_rule_updated(security_groups):
            self._wake.set()

    def security_groups_member_updated(
        self, ctxt: RequestContext, security_groups: list[str]
    ) -> None:
        if self.sg.security_groups_member_updated(security_groups):
            self._wake.set()

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> LinuxBridgeAgent:
        """Report (so the server knows this agent), listen, then scan in a thread."""
        self._report(start=True)
        for table, operation in (
            (PORT, UPDATE),
            (PORT, DELETE),
            (NETWORK, DELETE),
            (SECURITY_GROUP, UPDATE),
        ):
            target = Target(EXCHANGE, topic_name(AGENT, table, operation), server=self.host)
            server = RPCServer(self.transport, target, [self], service=BINARY)
            server.start()
            self._servers.append(server)
        self._unwatch = self.datapath.watch(self._wake.set)
        self._thread = threading.Thread(
            target=self._loop, name=f"{BINARY}-{self.host}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, *, cleanup: bool = True) -> None:
        """Stop listening and scanning; ``cleanup``: remove its bridges and firewall rules
        too (a crash does not)."""
        self._stop.set()
        self._unwatch()
        self._wake.set()
        for server in self._servers:
            server.stop()
        for server in self._servers:
            server.wait()
        self._servers.clear()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if cleanup:
            try:
                self.sg.firewall.cleanup()
            finally:
                self.datapath.cleanup()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            wait = self.polling_interval
            try:
                self.scan()
                due = self.sg.refresh_due_in()  # a deferred security group refresh
                wait = wait if due is None else min(due, wait)
                if time.monotonic() >= self._next_report:
                    self._report()
            except (MessagingError, LabCloudError):
                LOG.warning(
                    "%s on %s: this round failed; the next (in %s s) treats all devices again",
                    BINARY,
                    self.host,
                    self.polling_interval,
                    exc_info=True,
                )
                # neutron's resync: a round that failed half way (its update_device_list
                # lost with a broker restart, say) may have left ports in BUILD that nothing
                # would report up again, and nova waiting for their network-vif-plugged
                with self._lock:
                    self._updated |= self.known
            self._wake.wait(wait)  # a failed round waits the whole interval

    def _report(self, start: bool = False) -> None:
        state = {
            "binary": BINARY,
            "host": self.host,
            "topic": "N/A",
            "agent_type": LINUXBRIDGE[0],
            "configurations": self.configurations | {"devices": len(self.known)},
            "start_flag": start,
        }
        self.reports.report_state(RequestContext(is_admin=True, request_id=new_request_id()), state)
        self._next_report = time.monotonic() + self.report_interval

    def scan(self) -> None:
        """One round of neutron's daemon_loop: treat added, updated and removed devices,
        all of the round's at once (neutron's treat_devices_added_updated): one
        ``get_devices_details_list``, one firewall change for them and for the ports whose
        groups changed, one plug, one ``update_device_list``."""
        current = self.datapath.devices()
        with self._lock:
            updated, self._updated = self._updated & current, set()
        added = (current - self.known - self._unknown) | updated
        removed = self.known - current
        self._unknown &= current
        ctxt = RequestContext(is_admin=True, request_id=new_request_id())
        found = self.plugin.get_devices_details_list(ctxt, sorted(added)) if added else []
        ports = {d["device"]: d for d in found if "port_id" in d}
        self._unknown |= {d["device"] for d in found} - set(ports)  # a port_update brings it back
        self._unknown -= set(ports)
        self.sg.setup_port_filters(ctxt, ports)  # filtered before it is on the bridge
        plugged = self.datapath.plug(list(ports.values())) if ports else []
        self.known |= set(plugged)
        up = [d for d in plugged if ports[d]["admin_state_up"]]
        self.known -= removed
        if up or removed:
            self.plugin.update_device_list(ctxt, up, sorted(removed))
        if removed:
            self.datapath.unplugged(sorted(removed))
        vanished = set(ports) - set(plugged)  # gone between the listing and the plug
        if removed or vanished:
            self.sg.remove_devices_filter(removed | vanished)
