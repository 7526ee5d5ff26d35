"""neutron-server with its agents on one transport, behind its REST API, for tests: built
by the binaries' factories as the in-kernel cloud builds them (labcloud.binaries.inkernel's
Neutron), or neutron-server's managers alone behind their app."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

import httpx

from labcloud.binaries.inkernel_neutron import Neutron as InKernelNeutron
from labcloud.binaries.shared import Shared
from labcloud.conf.options import ServiceConf
from labcloud.identity.models import Project
from labcloud.messaging import get_transport
from labcloud.netns.fabric import Fabric
from labcloud.network.agents_db import AGENT_DOWN_TIME, REPORT_INTERVAL, AgentsDb
from labcloud.network.api import create_network_app
from labcloud.network.datapath import Datapath
from labcloud.network.driver import NoopDriver
from labcloud.network.manager import NetworkManager
from labcloud.network.models import Port
from labcloud.network.ports import PortManager
from labcloud.rest.server import ApiServer
from labcloud.trace import TraceBus
from labcloud.trace.events import StateEvent
from tests.conftest import Keystone


class NeutronCloud:
    """``service``: neutron-server, an L2 agent on the network host (``controller``) and on
    each of ``hosts``, the DHCP and L3 agents on the network host."""

    def __init__(
        self,
        keystone: Keystone,
        hosts: list[str],
        *,
        datapath: str = "noop",
        state_dir: Path | None = None,
        transport_url: str = "memory://",
        report_interval: float = REPORT_INTERVAL,
        agent_down_time: float = AGENT_DOWN_TIME,
        polling_interval: float = 0.5,
    ) -> None:
        self.bus = TraceBus()
        self.states = self.bus.collect(lambda e: isinstance(e, StateEvent))
        self.transport = get_transport(transport_url, bus=self.bus)
        self.datapath = Datapath(
            Fabric() if datapath == "linuxbridge" else None,
            state_dir or Path(tempfile.gettempdir()),
            datapath,
        )
        self.server = ApiServer(None, name="neutron")
        shared = Shared(
            self.transport,
            {},
            servers={"neutron-server": self.server},
            validator=lambda binary: keystone.validator(),  # type: ignore[return-value,arg-type]
            datapath=self.datapath,
            polling_interval=polling_interval,
        )

        def conf(host: str) -> ServiceConf:
            return ServiceConf.model_validate(
                {
                    "project": "neutron",
                    "DEFAULT": {
                        "transport_url": transport_url,
                        "host": host,
                        "report_interval": report_interval,
                        "service_down_time": agent_down_time,
                        "notify_nova_on_port_status_changes": False,
                    },
                    "database": {"connection": "sqlite://"},
                }
            )

        self.service = InKernelNeutron(shared, conf, hosts)
        self.service.manager.db.trace(self.bus, "neutron-server", {Port: ("port", "status")})
        self.url = self.server.url + "/v2.0"
        self.keystone = keystone
        self.token = keystone.token("demo")
        self.admin = keystone.token("admin", "admin")
        try:
            self.service.start()
        except BaseException:
            self.stop()
            raise

    def call(
        self, method: str, path: str, body: Any = None, *, admin: bool = False
    ) -> httpx.Response:
        headers = {"X-Auth-Token": self.admin if admin else self.token}
        return httpx.request(method, self.url + path, json=body, headers=headers, timeout=30)

    def make(self, kind: str, body: dict[str, Any], *, admin: bool = False) -> dict[str, Any]:
        answer = self.call("POST", f"/{kind}s", {kind: body}, admin=admin)
        assert answer.status_code == 201, answer.text
        return dict(answer.json()[kind])

    def network(
        self, cidr: str = "10.20.0.0/24", *, admin: bool = False, **net: Any
    ) -> tuple[str, str]:
        made = self.make("network", {"name": "n"} | net, admin=admin)
        sub = self.make("subnet", {"network_id": made["id"], "cidr": cidr}, admin=admin)
        return made["id"], sub["id"]

    def wait_port(self, port_id: str, status: str, timeout: float = 10.0) -> StateEvent:
        event: StateEvent = self.states.wait_for(
            lambda e: e.resource == "port" and e.id == port_id and e.status == status, timeout
        )
        return event

    def port_states(self, port_id: str) -> list[str]:
        return [e.status for e in list(self.states) if e.resource == "port" and e.id == port_id]

    def stop(self) -> None:
        self.service.stop()
        self.server.stop()  # never started, if the service failed to
        self.datapath.destroy()
        self.transport.cleanup()
        self.states.close()


def wait_until(check: Any, timeout: float = 10.0, every: float = 0.05) -> None:
    """For what sends no event (a heartbeat going stale): check until true, or fail."""
    done = threading.Event()
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            if check():
                return
            done.wait(every)
        raise AssertionError(f"not true within {timeout} s: {check}")
    finally:
        timer.cancel()


NO_SUCH = "2a6d5ac0-0000-4000-8000-000000000000"  # a well-formed id no resource has


def collection(kind: str) -> str:
    """``security_group`` -> ``/security-groups``: where neutron serves a resource."""
    return "/" + kind.replace("_", "-") + "s"


class Neutron:
    """neutron-server alone (no agents) behind its REST API; ``token`` is demo's (a member
    of project demo), ``other`` admin's, ``eve`` a member of another project, ``eve``."""

    def __init__(self, keystone: Keystone, db_url: str = "sqlite://") -> None:
        self.driver = NoopDriver()
        self.manager = NetworkManager(db_url, self.driver)
        self.ports = PortManager(self.manager)
        app = create_network_app(
            self.manager,
            keystone.validator(),  # type: ignore[arg-type]
            self.ports,
            AgentsDb(self.manager.db),
        )
        self.server = ApiServer(app, name="neutron").start()
        self.url = self.server.url + "/v2.0"
        self.keystone = keystone
        self.token = keystone.token("demo")
        self.other = keystone.token("admin", "admin")
        self._eve = ""

    @property
    def eve(self) -> str:
        """A token of a member of another project (made on first use)."""
        if not self._eve:
            manager = self.keystone.manager
            if "eve" not in {p["name"] for p in manager.names(Project)}:
                manager.create_project("eve")
                manager.create_user("eve", None, "eve")
                manager.assign_role("eve", "eve", "member")
            self._eve = self.keystone.token("eve", "eve")
        return self._eve

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {"X-Auth-Token": token or self.token} | kw.pop("headers", {})
        return httpx.request(method, self.url + path, json=body, headers=headers, timeout=30, **kw)

    def make(self, kind: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        answer = self.call("POST", collection(kind), {kind: body}, token)
        assert answer.status_code == 201, answer.text
        return dict(answer.json()[kind])

    def network(self, cidr: str = "10.9.0.0/29", **subnet: Any) -> tuple[str, str]:
        net = self.make("network", {"name": "n"})
        sub = self.make("subnet", {"network_id": net["id"], "cidr": cidr, "ip_version": 4} | subnet)
        return net["id"], sub["id"]

    def external(self, cidr: str = "203.0.113.0/29") -> tuple[str, str]:
        """An external network and its subnet, made by the admin (floating IPs come from it)."""
        net = self.make("network", {"name": "public", "router:external": True}, self.other)
        body = {"network_id": net["id"], "cidr": cidr, "ip_version": 4}
        return net["id"], self.make("subnet", body, self.other)["id"]

    def stop(self) -> None:
        self.server.stop()
        self.manager.db.dispose()
