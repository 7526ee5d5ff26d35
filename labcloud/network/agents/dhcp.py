"""neutron-dhcp-agent: serves DHCP for every network with a DHCP-enabled subnet.

It consumes ``dhcp_agent``, ``dhcp_agent.<host>`` and its ``dhcp_agent_fanout_<uuid>``
queue. At start it asks ``get_active_networks_info`` on ``q-plugin``; afterwards each
network or subnet notification (network_create_end, subnet_*_end, network_delete_end)
makes it fetch the network again (``get_network_info``) and rewrite its dnsmasq's
reservations (then SIGHUP). Port notifications (port_create_end, port_update_end,
port_delete_end) carry the port, and the agent applies them to its cached copy of the
network, as neutron's agent does (its NetModel cache and ``reload_allocations``): an older
revision of a port than the cached one, or an update of a port already deleted, is
ignored. A port event for a network it has no copy of, or that arrives while a fetch is
under way, makes it fetch the network again. Refetching on every port event would cost
a fetch of every port per port: a thousand boots, half a million port views. The port
events that arrive while dnsmasq is being told of earlier ones are served together: one
hosts file and one SIGHUP for the lot, not one per port. Its own port on each network
comes from ``create_dhcp_port``.

Once dnsmasq has been told of a port (its hosts file rewritten, SIGHUP), the agent says so
with ``dhcp_ready_on_ports`` on ``q-plugin``: the port's DHCP provisioning block is then
complete, and the port may go ACTIVE (and its guest boot, its first DHCPDISCOVER answered).
As neutron's agent, it reports the port of each event it served, and every port of a
network it fetched whole; the reports go in batches from their own thread (neutron's
``_dhcp_ready_ports_loop``, which looks every 0.2 s: this one wakes when there are some),
so serving the next events does not wait for the server, and a report that fails is
tried again.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from labcloud.context import RequestContext
from labcloud.exceptions import LabCloudError
from labcloud.messaging import MessagingError, RPCServer, Target, Transport
from labcloud.network.agents.dhcp_driver import DhcpDriver, NoopDhcp
from labcloud.network.agents.rpc import DhcpPluginApi, ReportStateAPI, agent_context
from labcloud.network.agents_db import DHCP, REPORT_INTERVAL
from labcloud.network.rpcapi import DHCP_AGENT, EXCHANGE

LOG = logging.getLogger(__name__)
BINARY = DHCP[1]
READY_RETRY = 1.0  # seconds before a failed dhcp_ready_on_ports is tried again


class DhcpAgent:
    def __init__(
        self,
        transport: Transport,
        host: str,
        driver: DhcpDriver | None = None,
        *,
        report_interval: float = REPORT_INTERVAL,
    ) -> None:
        self.transport = transport
        self.host = host
        self.driver: DhcpDriver = driver or NoopDhcp()
        self.report_interval = report_interval
        self.plugin = DhcpPluginApi(transport, host)
        self.reports = ReportStateAPI(transport, BINARY)
        # neutron's device_id for its DHCP ports: dhcp<uuid of the host>-<network id>
        self._device_prefix = f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host)}-"
        self.networks: set[str] = set()
        self._lock = threading.Lock()
        self._serving = threading.Lock()  # one driver change at a time
        self._refreshing: set[str] = set()
        self._dirty: set[str] = set()
        # under _lock: each network as served (or about to be), with the agent's own port
        self._cache: dict[str, _Cached] = {}
        self._stale: set[str] = set()  # networks whose copy changed since it was served
        self._writer = False  # a thread is serving the stale copies
        self._deleted: set[str] = set()  # ports deleted (a late update must not revive one)
        self._applied: dict[str, set[str]] = {}  # network → its ports changed since served
        self._changed: dict[str, set[str]] = {}  # the same, deleted ones too: for the driver
        self._ready: set[str] = set()  # ports dnsmasq knows, not yet reported to the server
        self._ready_wake = threading.Event()
        self._ready_thread: threading.Thread | None = None
        self._server: RPCServer | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- notifications (casts on dhcp_agent.<host>) -------------------------------------------
    def network_create_end(self, ctxt: RequestContext, payload: dict[str, Any]) -> None:
        self.refresh(payload["network"]["id"])

    def network_delete_end(self, ctxt: RequestContext, payload: dict[str, Any]) -> None:
        self.disable(payload["network_id"])

    def subnet_create_end(self, ctxt: RequestContext, payload: dict[str, Any]) -> None:
        self.refresh(payload["subnet"]["network_id"])

    subnet_update_end = subnet_create_end
    subnet_delete_end = subnet_create_end

    def port_create_end(self, ctxt: RequestContext, payload: dict[str, Any]) -> None:
        port = payload["port"]
        self._apply(port["network_id"], port["id"], port)

    port_update_end = port_create_end

    def port_delete_end(self, ctxt: RequestContext, payload: dict[str, Any]) -> None:
        self._apply(payload["network_id"], payload["port_id"], None)

    def _apply(self, network_id: str, port_id: str, port: dict[str, Any] | None) -> None:
        """Put ``port`` into (None: take it out of) the cached network, then serve the
        cache; refetch the network when there is no copy to change or a fetch is under
        way. Changing the copy is a dict update, whatever the network's size."""
        with self._lock:
            cached = self._cache.get(network_id)
            if cached is None or network_id in self._refreshing:
                cached = None
            elif port is None:
                self._deleted.add(port_id)
                cached.ports.pop(port_id, None)
                self._stale.add(network_id)
                self._changed.setdefault(network_id, set()).add(port_id)
            elif port_id not in self._deleted and not _older(port, cached.ports.get(port_id)):
                cached.ports[port_id] = port
                self._stale.add(network_id)
                self._applied.setdefault(network_id, set()).add(port_id)
                self._changed.setdefault(network_id, set()).add(port_id)
        if cached is None:
            self.refresh(network_id)
        else:
            self._serve()

    def _serve(self) -> None:
        """Serve every network whose cached copy changed: one hosts file and one SIGHUP
        per network for all the port events that came meanwhile. The thread that finds
        nobody serving serves, and goes round again while events keep coming (they run
        on the RPC server's workers); the others only leave their change in the cache."""
        with self._lock:
            if self._writer:
                return
            self._writer = True
        try:
            while True:
                with self._serving:  # a refresh's fresher copy is not overwritten
                    with self._lock:
                        stale, self._stale = self._stale, set()
                        if not stale:
                            self._writer = False
                            return
                        copies = {n: self._cache[n] for n in stale if n in self._cache}
                        served = {n: c.network() for n, c in copies.items()}
                        applied = {n: self._applied.pop(n, set()) for n in stale}
                        changed = {
                            n: {i: c.ports.get(i) for i in self._changed.pop(n, ())}
                            for n, c in copies.items()
                        }
                    for network_id, network in served.items():
                        port = copies[network_id].dhcp_port
                        self.driver.enable(network, port, changed[network_id])
                        self._ports_ready(applied[network_id])
        except BaseException:
            with self._lock:
                self._writer = False
            raise

    # -- the work -----------------------------------------------------------------------------
    def refresh(self, network_id: str) -> None:
        """Serve the network as it is now (or stop, if it has no DHCP subnet any more).

        Notifications that arrive while a refresh runs only mark the network dirty: the
        running refresh goes round once more, so a burst of port events costs two fetches,
        not one each."""
        with self._lock:
            if network_id in self._refreshing:
                self._dirty.add(network_id)
                return
            self._refreshing.add(network_id)
        while True:
            try:
                self._refresh_once(network_id)
            except BaseException:
                with self._lock:
                    self._refreshing.discard(network_id)
                    self._dirty.discard(network_id)
                raise
            with self._lock:  # one critical section: a notification can't slip in between
                if network_id not in self._dirty:
                    self._refreshing.discard(network_id)
                    return
                self._dirty.discard(network_id)

    def _refresh_once(self, network_id: str) -> None:
        network = self.plugin.get_network_info(agent_context(), network_id)
        if not network or not any(s["enable_dhcp"] for s in network["subnets"]):
            self.disable(network_id)
            return
        port = self._dhcp_port(network)
        with self._serving:
            self.driver.enable(network, port)
            self.networks.add(network_id)
            with self._lock:
                self._cache[network_id] = _Cached(network, port)
                self._stale.discard(network_id)
                self._applied.pop(network_id, None)
                self._changed.pop(network_id, None)
            # every port of it, in case some came while the agent was not looking
            self._ports_ready({p["id"] for p in network["ports"]} | {port["id"]})

    def _dhcp_port(self, network: dict[str, Any]) -> dict[str, Any]:
        device_id = self._device_prefix + network["id"]
        for port in network["ports"]:
            if port["device_id"] == device_id:
                return dict(port)
        subnets = [{"subnet_id": s["id"]} for s in network["subnets"] if s["enable_dhcp"]]
        body = {"network_id": network["id"], "device_id": device_id, "fixed_ips": subnets}
        body["binding:host_id"] = self.host
        return self.plugin.create_dhcp_port(agent_context(), body)

    def _ports_ready(self, port_ids: set[str]) -> None:
        """dnsmasq knows these ports now: the reporting thread tells the server."""
        if port_ids:
            with self._lock:
                self._ready |= port_ids
            self._ready_wake.set()

    def _reporting_ready(self) -> None:
        """neutron's _dhcp_ready_ports_loop: every port made ready since the last report,
        in one ``dhcp_ready_on_ports``; what could not be reported goes again."""
        while True:
            self._ready_wake.wait()
            if self._stop.is_set():
                return
            self._ready_wake.clear()  # before taking the set: a later port wakes it again
            with self._lock:
                ports, self._ready = self._ready, set()
            if not ports:
                continue
            try:
                self.plugin.dhcp_ready_on_ports(agent_context(), sorted(ports))
            except Exception:  # neutron logs it and tries again on the next round
                LOG.warning("could not report DHCP ready ports; will retry", exc_info=True)
                with self._lock:
                    self._ready |= ports
                self._stop.wait(READY_RETRY)
                self._ready_wake.set()

    def disable(self, network_id: str) -> None:
        with self._serving:
            with self._lock:
                self._cache.pop(network_id, None)
            if network_id in self.networks:
                self.networks.discard(network_id)
                self.driver.disable(network_id)

    def sync_state(self) -> None:
        """neutron's sync_state: serve every active network."""
        for network in self.plugin.get_active_networks_info(agent_context()):
            self.refresh(network["id"])

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> DhcpAgent:
        self._report(start=True)
        self._server = RPCServer(
            self.transport, Target(EXCHANGE, DHCP_AGENT, server=self.host), [self], service=BINARY
        )
        self._server.start()
        self._ready_thread = threading.Thread(
            target=self._reporting_ready, name=f"{BINARY}-{self.host}-ready", daemon=True
        )
        self._ready_thread.start()
        self.sync_state()
        self._thread = threading.Thread(
            target=self._reporting, name=f"{BINARY}-{self.host}", daemon=True
        )
        self._thread.start()
        return self

    def _reporting(self) -> None:
        while not self._stop.wait(self.report_interval):
            try:
                self._report()
            except (MessagingError, LabCloudError):
                LOG.warning("%s on %s could not report", BINARY, self.host, exc_info=True)

    def _report(self, start: bool = False) -> None:
        state = {
            "binary": BINARY,
            "host": self.host,
            "topic": DHCP_AGENT,
            "agent_type": DHCP[0],
            "configurations": {
                "networks": len(self.networks),
                "dhcp_driver": type(self.driver).__name__,
            },
            "start_flag": start,
        }
        self.reports.report_state(agent_context(), state)

    def stop(self, *, cleanup: bool = True) -> None:
        self._stop.set()
        self._ready_wake.set()
        if self._server is not None:
            self._server.stop()
            self._server.wait()
            self._server = None
        for thread in (self._thread, self._ready_thread):
            if thread is not None:
                thread.join(timeout=30)
        self._thread = self._ready_thread = None
        if cleanup:
            self.driver.cleanup()
            self.networks.clear()
            self._cache.clear()


class _Cached:
    """A network as the agent last heard of it: its ports by id (a port event changes
    one entry, not a list of all of them)."""

    def __init__(self, network: dict[str, Any], dhcp_port: dict[str, Any]) -> None:
        self.info = {k: v for k, v in network.items() if k != "ports"}
        self.ports = {p["id"]: p for p in network["ports"]}
        self.dhcp_port = dhcp_port

    def network(self) -> dict[str, Any]:
        return self.info | {"ports": list(self.ports.values())}


def _older(port: dict[str, Any], cached: dict[str, Any] | None) -> bool:
    """Whether ``port`` is an older revision than the cached one (neutron's check)."""
    if cached is None:
        return False
    return int(port.get("revision_number", 0)) < int(cached.get("revision_number", 0))
