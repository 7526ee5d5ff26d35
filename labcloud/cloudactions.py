"""What a notebook or a test does with a running LabCloud, as a client and an operator would:
log in, boot, wait for a server's status, ping and run commands in guests, look at a
network's dnsmasq, and lab 07's failures (a nova-compute that dies and comes back, the
broker restarted).

``CloudActions`` is the part of LabCloud's public API that uses the cloud once it is built;
labcloud.cloud builds it. It reaches the services the way a client does (REST, with the
request id a student follows in the flow) or through the in-kernel projects' objects.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import httpx

from labcloud.booting import Boot
from labcloud.context import new_request_id
from labcloud.rest.client import ServiceClient
from labcloud.trace.events import BrokerEvent, StateEvent

if TYPE_CHECKING:
    from labcloud.binaries.inkernel import Keystone, Nova
    from labcloud.binaries.inkernel_neutron import Neutron
    from labcloud.compute.virt.driver import ComputeDriver
    from labcloud.messaging import Transport
    from labcloud.messaging.memory import BrokerRestart
    from labcloud.netns.dnsmasq import Dnsmasq
    from labcloud.spec import CloudSpec
    from labcloud.trace.bus import TraceBus
    from labcloud.trace.events import Origin


class CloudActions:
    """LabCloud's methods for notebooks and tests, over what LabCloud builds."""

    spec: CloudSpec
    urls: dict[str, str]  # service type -> base URL
    bus: TraceBus
    origin: Origin
    transport: Transport
    identity: Keystone
    network: Neutron
    compute: Nova
    _passwords: dict[str, str]  # the spec's users' passwords, made for this cloud

    def names(self) -> dict[str, str]:
        """Every server's and network's id -> its name (the topology view's labels)."""
        from labcloud.context import RequestContext

        admin = RequestContext(is_admin=True, roles=("admin",))
        found = {n["id"]: n["name"] for n in self.network.manager.list_networks(admin, {})}
        found |= {i["uuid"]: i["display_name"] for i in self.compute.instances.list(None)}
        return found

    def project_id(self, name: str) -> str:
        from labcloud.identity.models import Project

        return next(p["id"] for p in self.identity.manager.names(Project) if p["name"] == name)

    def credentials(self, user: str = "demo") -> dict[str, str]:
        """How ``user`` logs in to this cloud, as a clouds.yaml ``auth`` section: auth_url,
        username, password (made for this cloud), project_name and the domains."""
        spec_user = next((u for u in self.spec.users if u.name == user), None)
        if spec_user is None or user not in self._passwords:
            known = ", ".join(u.name for u in self.spec.users)
            raise KeyError(f"no user {user!r} in this cloud's spec (it has {known})")
        return {
            "auth_url": self.urls["identity"] + "/v3",
            "username": user,
            "password": self._passwords[user],
            "project_name": spec_user.project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        }

    def login(
        self,
        user: str = "demo",
        password: str | None = None,
        project: str | None = None,
        *,
        timeout: float = 30.0,
        request_id: str = "",
    ) -> str:
        """A token, got the way a client gets one (POST /v3/auth/tokens): seed steps 1–2,
        with ``request_id`` (a new one if not given) in X-OpenStack-Request-ID."""
        spec_user = next((u for u in self.spec.users if u.name == user), None)
        password = password or self._passwords.get(user, "")
        project = project or (spec_user.project if spec_user else user)
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user, "domain": {"id": "default"}, "password": password}
                    },
                },
                "scope": {"project": {"name": project, "domain": {"id": "default"}}},
            }
        }
        keystone = ServiceClient(
            self.urls["identity"],
            source="client",
            target="keystone",
            bus=self.bus,
            origin=self.origin,
            timeout=timeout,
        )
        try:
            answer = keystone.post(
                "/v3/auth/tokens", json=body, user=user, request_id=request_id or new_request_id()
            )
        finally:
            keystone.close()
        answer.raise_for_status()
        return answer.headers["X-Subject-Token"]

    def boot(
        self,
        name: str = "vm1",
        *,
        flavor: str = "m1.tiny",
        image: str = "cirros",
        user: str = "demo",
        volumes: tuple[str, ...] = (),
        token: str | None = None,
        **server: Any,
    ) -> Boot:
        """Log in and boot, from a worker thread (seed steps 1–28); returns at once.

        Safe with breakpoints anywhere, also on steps 1–8, where keystone and nova-api are
        held while they answer. The login and POST /servers carry one request id, which ties
        the login to this boot in the flow. With ``token``, no login: the token is used again,
        as a client session does, and the services find it in their caches (steps 4, 20, 23
        and 26 come from cache, keystone is not asked). ``boot.server_id``, ``boot.wait()``.
        """
        request_id = new_request_id()

        def request() -> dict[str, Any]:
            auth = token or self.login(user, timeout=600, request_id=request_id)
            headers = {"X-Auth-Token": auth}
            glance = self.urls["image"] + "/v2/images"
            found = httpx.get(glance, params={"name": image}, headers=headers, timeout=600)
            images = found.json().get("images") or []
            if not images:
                raise RuntimeError(f"no image named {image!r}")
            body: dict[str, Any] = {"name": name, "flavorRef": flavor, "imageRef": images[0]["id"]}
            if volumes:
                body["block_device_mapping_v2"] = [
                    {"uuid": v, "source_type": "volume", "destination_type": "volume"}
                    for v in volumes
                ]
            nova = ServiceClient(
                self.urls["compute"],
                source="client",
                target="nova-api",
                bus=self.bus,
                origin=self.origin,
                timeout=600,
            )
            try:  # flavorRef by name: nova-api takes an id or a name
                answer = nova.post(
                    "/v2.1/servers",
                    json={"server": body | server},
                    token=auth,
                    user=user,
                    request_id=request_id,
                )
            finally:
                nova.close()
            if answer.status_code != 202:
                raise RuntimeError(f"nova-api answered {answer.status_code}: {answer.text[:300]}")
            return dict(answer.json())

        return Boot(self.bus, request)

    def wait_for(self, server_id: str, status: str = "ACTIVE", timeout: float = 60.0) -> str:
        """Wait until server ``server_id`` has ``status`` (ACTIVE, ERROR ...) and return it.

        Looks at the server's current status first, then at its state changes: a server that
        got there before the call returns at once (a FlowRecorder made after the boot has
        seen nothing of it)."""
        changed = threading.Condition()
        seen: list[str] = []

        def on_state(event: StateEvent) -> None:
            with changed:
                seen.append(event.status)
                changed.notify_all()

        sub = self.bus.subscribe(
            on_state, where=lambda e: isinstance(e, StateEvent) and e.id == server_id
        )
        try:
            current = self.compute.instances.get(server_id)["status"]
            with changed:
                seen.insert(0, current)
                if not changed.wait_for(lambda: status in seen, timeout):
                    raise TimeoutError(
                        f"server {server_id} did not become {status} within {timeout} s; "
                        f"it was {' then '.join(dict.fromkeys(seen))}"
                    )
        finally:
            sub.close()
        return status

    def ping(self, server: str, from_: str | None = None, count: int = 1) -> Any:
        """Ping ``server`` (an id or name) from another server, or from its network's DHCP
        namespace, as an operator would (needs the linuxbridge datapath). Its security
        groups decide: the default group lets in only its members, so pinging from the DHCP
        namespace needs an ICMP rule, as in neutron."""
        return self.network.guests.ping(server, from_, count)

    def exec(self, server: str, cmd: str) -> Any:
        """Run ``cmd`` inside ``server``'s guest (needs the linuxbridge datapath)."""
        return self.network.guests.exec(server, cmd)

    def dhcp_server(self, network_id: str, timeout: float = 10.0) -> Dnsmasq | None:
        """The dnsmasq neutron's DHCP agent runs for a network (its leases and log), once it
        runs: the agent starts it when told of a DHCP subnet, on its own thread. None: the
        no-op datapath, or no dnsmasq within ``timeout`` (the network has no DHCP subnet)."""
        from labcloud.network.agents.dhcp_driver import DnsmasqDhcp

        agent = self.network.dhcp_agent
        driver = agent.driver if agent is not None else None
        if not isinstance(driver, DnsmasqDhcp):
            return None
        deadline, pause = time.monotonic() + timeout, threading.Event()
        while (server := driver.server(network_id)) is None or not server.running:
            if time.monotonic() >= deadline:
                return None
            pause.wait(0.05)  # the agent sends no event when its dnsmasq is up
        return server

    def compute_driver(self, host: str) -> ComputeDriver:
        return self.compute.drivers[host]

    # -- failures, for lab 07 -------------------------------------------------------------
    def stop_compute(self, host: str) -> None:
        """nova-compute on ``host`` stops, as if its process died: its queue keeps what is
        sent to it, and after ``service_down_time`` without a report the host is down."""
        self.compute.stop_host(host)

    def start_compute(self, host: str) -> None:
        """nova-compute on ``host`` starts again (builds it had been doing end in ERROR)."""
        self.compute.start_host(host)

    def hosts_up(self) -> dict[str, bool]:
        """Each compute host and whether nova sees it up (its servicegroup's verdict)."""
        return self.compute.hosts_up()

    def restart_broker(self) -> BrokerRestart:
        """Restart the in-process broker (``memory://``), as ``rabbitmqctl stop_app;
        start_app`` restarts RabbitMQ: its non-durable queues go with what they hold (and
        messages delivered but not yet acknowledged), every service declares its queues
        again. Nothing is resent, as in OpenStack: the periodic tasks (build timeout,
        compute heartbeats) recover. The trace gets a BrokerEvent saying what was lost."""
        from labcloud.messaging.memory import MemoryDriver

        driver = self.transport.driver
        if not isinstance(driver, MemoryDriver):
            raise RuntimeError(
                f"restart_broker() restarts the in-process broker; this cloud uses "
                f"{self.transport.url}: restart RabbitMQ itself (rabbitmqctl stop_app; "
                "rabbitmqctl start_app)"
            )
        report = driver.broker.restart()
        self.bus.emit(
            BrokerEvent(
                event="restarted",
                queues_dropped=list(report.queues_dropped),
                messages_lost=report.messages_lost,
                consumers_reconnected=report.consumers_reconnected,
                host=self.origin.host,
                process=self.origin.process,
            )
        )
        return report
