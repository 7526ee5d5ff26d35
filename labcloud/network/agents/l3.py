"""neutron-l3-agent: builds the routers of its host (their namespaces, ports and NAT).

It consumes ``l3_agent``, ``l3_agent.<host>`` and its ``l3_agent_fanout_<uuid>`` queue.
neutron-server casts ``routers_updated`` (router ids) when a router, its interfaces, its
gateway or its floating IPs change, and fans out ``router_deleted``. The casts only mark
routers to look at: one worker thread asks ``sync_routers`` on ``q-l3-plugin`` for them and
builds what comes back; a router missing from the answer is removed. At start, every
``resync_interval`` and after a failed round it resyncs all of them (neutron's
periodic_sync_routers_task): ``get_router_ids``, then every router, and namespaces of
routers the server no longer has are removed (a crash leaves none behind for long).
"""

from __future__ import annotations

import logging
import threading
import time

from labcloud.context import RequestContext
from labcloud.exceptions import LabCloudError
from labcloud.messaging import MessagingError, RPCServer, Target, Transport
from labcloud.network.agents.l3_driver import L3Driver, NoopL3
from labcloud.network.agents.rpc import L3PluginApi, ReportStateAPI, agent_context
from labcloud.network.agents_db import L3, REPORT_INTERVAL
from labcloud.network.rpcapi import EXCHANGE, L3_AGENT

LOG = logging.getLogger(__name__)
BINARY = L3[1]
RESYNC_INTERVAL = 120.0  # seconds; neutron's periodic sync runs every periodic_interval (40 s)


class L3Agent:
    def __init__(
        self,
        transport: Transport,
        host: str,
        driver: L3Driver | None = None,
        *,
        report_interval: float = REPORT_INTERVAL,
        resync_interval: float = RESYNC_INTERVAL,
    ) -> None:
        self.transport = transport
        self.host = host
        self.driver: L3Driver = driver or NoopL3()
        self.report_interval = report_interval
        self.resync_interval = resync_interval
        self.plugin = L3PluginApi(transport, host)
        self.reports = ReportStateAPI(transport, BINARY)
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._fullsync = True
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._server: RPCServer | None = None
        self._thread: threading.Thread | None = None
        self._next_report = 0.0
        self._next_resync = 0.0

    # -- notifications (casts on l3_agent, l3_agent.<host>, l3_agent_fanout) -------------------
    def routers_updated(self, ctxt: RequestContext, routers: list[str]) -> None:
        self._mark(routers)

    def router_deleted(self, ctxt: RequestContext, router_id: str) -> None:
        self._mark([router_id])

    def router_added_to_agent(self, ctxt: RequestContext, payload: list[str]) -> None:
        self._mark(payload)

    def router_removed_from_agent(self, ctxt: RequestContext, payload: dict[str, str]) -> None:
        self._mark([payload["router_id"]])

    def _mark(self, router_ids: list[str]) -> None:
        with self._lock:
            self._pending.update(router_ids)
        self._wake.set()

    # -- the work -----------------------------------------------------------------------------
    def sync(self, router_ids: set[str] | None = None) -> None:
        """Build these routers as the server has them now (None: all, and remove the rest)."""
        ctxt = agent_context()
        wanted = None if router_ids is None else sorted(router_ids)
        routers = self.plugin.get_routers(ctxt, wanted)
        found = {r["id"] for r in routers}
        gone = (self.driver.routers() if router_ids is None else router_ids) - found
        for router_id in sorted(gone):
            LOG.info("%s on %s: removing router %s", BINARY, self.host, router_id)
            self.driver.remove(router_id)
        for router in routers:
            statuses = self.driver.process(router)
            if statuses:
                self.plugin.update_floatingip_statuses(ctxt, router["id"], statuses)

    def _round(self) -> None:
        with self._lock:
            full = self._fullsync or time.monotonic() >= self._next_resync
            pending, self._pending, self._fullsync = self._pending, set(), False
        try:
            if full:
                self.sync()
                self._next_resync = time.monotonic() + self.resync_interval
            elif pending:
                self.sync(pending)
        except BaseException:
            with self._lock:  # all again next round: the server or the datapath failed
                self._fullsync = True
            raise

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._round()
                if time.monotonic() >= self._next_report:
                    self._report()
            except (MessagingError, LabCloudError):
                LOG.warning("%s on %s: this round failed", BINARY, self.host, exc_info=True)
            self._wake.wait(min(self.report_interval, self.resync_interval))

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> L3Agent:
        self._report(start=True)
        self._server = RPCServer(
            self.transport, Target(EXCHANGE, L3_AGENT, server=self.host), [self], service=BINARY
        )
        self._server.start()
        self._thread = threading.Thread(
            target=self._loop, name=f"{BINARY}-{self.host}", daemon=True
        )
        self._thread.start()
        return self

    def _report(self, start: bool = False) -> None:
        state = {
            "binary": BINARY,
            "host": self.host,
            "topic": L3_AGENT,
            "agent_type": L3[0],
            "configurations": {
                "routers": len(self.driver.routers()),
                "interface_driver": "linuxbridge",
                "l3_driver": type(self.driver).__name__,
                "agent_mode": "legacy",
            },
            "start_flag": start,
        }
        self.reports.report_state(agent_context(), state)
        self._next_report = time.monotonic() + self.report_interval

    def stop(self, *, cleanup: bool = True) -> None:
        """Stop listening and working; ``cleanup``: remove its routers too (a crash does not)."""
        self._stop.set()
        self._wake.set()
        if self._server is not None:
            self._server.stop()
            self._server.wait()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if cleanup:
            self.driver.cleanup()
