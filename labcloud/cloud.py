"""LabCloud: builds and starts every service a CloudSpec describes, in this process.

    with LabCloud(CloudSpec.demo()) as cloud:
        token = cloud.login("demo")       # the password made for this cloud
        cloud.credentials("demo")         # auth_url, username, password, project_name ...
        ...

Services talk over one transport (``memory://`` unless Settings say otherwise), each project
has its own database, and every REST API is served on 127.0.0.1 (free ports unless the
Settings fix them) and listed in keystone's catalog. Every user's password is made for
this cloud; keystone's Fernet keys live in the state directory. Two LabClouds in one
process share nothing. ``stop()`` releases threads, ports and (if it made them) files.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from labcloud.binaries import content
from labcloud.binaries.content import SERVICE_USERS
from labcloud.binaries.inkernel import (
    CONTROLLER,
    Cinder,
    Glance,
    Keystone,
    Nova,
    cinder_database,
    driver_options,
    nova_database,
    project_conf,
)
from labcloud.binaries.shared import Shared
from labcloud.booting import Boot
from labcloud.compute.virt.driver import ComputeDriver
from labcloud.conf.options import PROJECTS, IdentitySection, ServiceConf, TokenSection
from labcloud.config import Settings
from labcloud.context import new_request_id
from labcloud.db import Database
from labcloud.messaging import Transport, get_transport
from labcloud.network.datapath import choose_datapath
from labcloud.network.nova import NovaClient, NovaNotifier
from labcloud.network.service import NetworkService
from labcloud.pids import DAEMONS_DIR
from labcloud.rest.auth import (
    KeystoneValidator,
    ServiceCredentials,
    ServiceToken,
    TokenCache,
    install_request_id,
)
from labcloud.rest.client import ServiceClient
from labcloud.rest.server import ApiServer
from labcloud.spec import CloudSpec
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import BrokerEvent, Origin, StateEvent
from labcloud.trace.stepper import Stepper

if TYPE_CHECKING:
    from labcloud.messaging.memory import BrokerRestart
    from labcloud.netns.dnsmasq import Dnsmasq

# catalog type -> (keystone name, API server name, path in the catalog's URL)
SERVICES: dict[str, tuple[str, str, str]] = {
    "identity": ("keystone", "keystone", "/v3"),
    "compute": ("nova", "nova-api", "/v2.1"),
    "image": ("glance", "glance-api", ""),
    "network": ("neutron", "neutron-server", ""),
    "volumev3": ("cinderv3", "cinder-api", "/v3/$(project_id)s"),
}
API_KINDS = {name: kind for kind, (_, name, _) in SERVICES.items()}  # API server -> type


class LabCloud:
    def __init__(
        self,
        spec: CloudSpec | None = None,
        settings: Settings | None = None,
        *,
        compute_driver: str = "fake",
        datapath: str = "noop",
        bcrypt_rounds: int | None = None,
        share_trace: bool = False,
    ) -> None:
        """``bcrypt_rounds``: the password hashes' cost (None: the Settings', keystone's 12;
        a test or bench may ask for less). ``datapath``: ``noop`` (ports go ACTIVE, nothing
        is built), ``linuxbridge`` (bridges, VXLAN and dnsmasq in network namespaces, guests
        that answer ping: needs root) or ``auto`` (linuxbridge when it can be had).
        ``share_trace``: publish the trace to ``labcloud.trace`` and obey stepper commands
        from ``labcloud.control``, so a notebook or ``labcloud debug`` elsewhere can watch
        and step this cloud (needs a RabbitMQ transport)."""
        self.spec = spec or CloudSpec.demo()
        if compute_driver == "libvirt":  # glance holds the tiny guest, as DevStack's cirros
            from labcloud.compute.virt.libvirt import image

            self.spec = self.spec.but(images=image.glance_images(image.build()))
        self._tmp: Path | None = None
        settings = settings or Settings()
        if settings.state_dir is None:  # its own: keys and files of two clouds never mix
            self._tmp = Path(tempfile.mkdtemp(prefix="labcloud-"))
            settings = settings.but(state_dir=self._tmp)
        self.settings = settings
        self.state_dir = settings.state_dir or Path(tempfile.gettempdir())
        # every service runs in this process, on this machine: its steps say so (but
        # nova-compute's, which name the compute host it stands for: trace.flow.step_origin)
        self.origin = Origin(service="labcloud")
        self.bus = TraceBus(self.origin)
        self._stepper: Stepper | None = None
        self._on_stop: list[Callable[[], object]] = []  # a notebook's dashboards
        self._share_trace = share_trace
        self._remote: list[Any] = []  # a TraceForwarder and a StepperService when shared
        self.transport: Transport = get_transport(
            settings.transport_url,
            bus=self.bus,
            origin=self.origin,
            rpc_response_timeout=settings.rpc_response_timeout,
        )
        self.servers = {
            kind: ApiServer(None, settings.host, settings.port_for(name), name=name)
            for kind, (_, name, _) in SERVICES.items()
        }
        self.urls = {kind: server.url for kind, server in self.servers.items()}
        self._compute_driver = compute_driver
        self.datapath, self.datapath_reason = choose_datapath(datapath)
        self._bcrypt_rounds = bcrypt_rounds or settings.password_hash_rounds
        self._passwords: dict[str, str] = {}
        self._service_passwords: dict[str, str] = {}  # the services' users'
        self._started = False
        self._services: list[Any] = []
        self._databases: list[Database] = []  # closed once every service has stopped

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> LabCloud:
        if self._started:
            return self
        self._started = True
        try:
            self._build()
            if self._share_trace:
                from labcloud.messaging.control import StepperService
                from labcloud.messaging.remote import TraceForwarder

                self._remote = [
                    TraceForwarder(self.transport.driver, self.bus),
                    StepperService(self.transport.driver, self.stepper),
                ]
        except BaseException:
            self.stop()
            raise
        return self

    def _build(self) -> None:
        s = self.settings
        shared = Shared(
            self.transport,
            self.urls,
            servers={name: self.servers[kind] for kind, (_, name, _) in SERVICES.items()},
            validator=lambda binary: self._validator(API_KINDS[binary]),
            availability_zones={h.name: h.availability_zone for h in self.spec.hosts},
            held=lambda: self._stepper is not None and bool(self._stepper.paused),
        )
        keystone_conf = self._conf("keystone", CONTROLLER).model_copy(
            update={
                "token": TokenSection(expiration=self.spec.token_expiration or s.token_expiry),
                "identity": IdentitySection(password_hash_rounds=self._bcrypt_rounds),
            }
        )
        self.identity = Keystone(shared, keystone_conf)
        self._services.append(self.identity)
        self._passwords = content.load_accounts(self.identity.manager, self.spec)
        self._service_passwords = content.add_service_users(
            self.identity.manager, SERVICE_USERS.values()
        )
        for kind, (name, _, path) in SERVICES.items():
            self.identity.manager.register_endpoint(
                kind, name, self.urls[kind] + path, self.spec.region
            )
        self.identity.start()
        projects = {p: self.project_id(p) for p in self.spec.projects}

        self.network = NetworkService(
            s.database_url_for("neutron"),
            validator=self._validator("network"),
            transport=self.transport,
            datapath=self.datapath,
            datapath_reason=self.datapath_reason,
            state_dir=self.state_dir,
            nova=self._nova_notifier(),
        )
        self._services.append(self.network)
        content.load_networks(self.network.manager, self.spec, projects)
        self.network.start([h.name for h in self.spec.hosts])
        self._serve("network", self.network.create_app())

        self.image = Glance(shared, self._conf("glance", CONTROLLER))
        self._services.append(self.image)
        content.load_images(self.image.manager, self.spec, projects["admin"])
        self.image.start()

        dbs = {  # the cloud's, shared by each project's binaries
            "nova": nova_database(s.database_url_for("nova"), self.spec),
            "cinder": cinder_database(s.database_url_for("cinder")),
        }
        self._databases.extend(dbs.values())
        shared = dataclasses.replace(
            shared,
            dbs=dbs,
            driver_options=driver_options(self.spec, self._compute_driver, self._driver_options()),
        )
        self.volume = Cinder(shared, self._conf("cinder", CONTROLLER))
        self._services.append(self.volume)
        self.volume.start()
        self.compute = Nova(self.spec, shared, lambda host: self._conf("nova", host))
        self._services.append(self.compute)
        self.compute.start()
        self._trace_databases()

    def _conf(self, project: str, host: str) -> ServiceConf:
        """``project``'s settings for its binary on ``host``, from this cloud's."""
        user = SERVICE_USERS.get(PROJECTS[project].service_type, "")  # keystone: none
        return project_conf(
            project,
            self.settings,
            host=host,
            state_dir=self.state_dir,
            driver=self._compute_driver,
            keystone=(self.urls["identity"], user, self._service_passwords.get(user, "")),
        )

    def _driver_options(self) -> dict[str, Any]:
        """libvirt keeps its guests' disks in the cloud's state directory; with a real
        datapath, guests are plugged into it: the fake hypervisor's are network namespaces,
        libvirt's have taps (both get an address by DHCP and answer ping)."""
        fabric = self.network.fabric
        options: dict[str, Any] = {} if fabric is None else {"datapath_tag": fabric.tag}
        if self._compute_driver == "libvirt":  # disks and overlays under the cloud's state
            options["instances_path"] = self.state_dir / "instances"
            options["daemons_dir"] = self.state_dir / DAEMONS_DIR
        return options

    def _trace_databases(self) -> None:
        """Committed writes of every project's database become DbEvents; volume and port
        status changes become StateEvents (nova's instances report their own)."""
        from labcloud.network.models import Port
        from labcloud.volume.models import Volume

        self.identity.manager.db.trace(self.bus, "keystone")
        self.image.manager.db.trace(self.bus, "glance-api")
        self.network.manager.db.trace(self.bus, "neutron-server", {Port: ("port", "status")})
        self.volume.db.trace(self.bus, "cinder", {Volume: ("volume", "status")})
        self.compute.db.trace(self.bus, "nova")

    def _service_token(self, kind: str, source: str) -> ServiceToken:
        """The token of ``kind``'s service user (nova, neutron ...), got from keystone by
        ``source`` (the binary that uses it)."""
        user = SERVICE_USERS[kind]
        identity = ServiceClient(
            self.urls["identity"],
            source=source,
            target="keystone",
            bus=self.bus,
            origin=self.origin,
        )
        return ServiceToken(identity, ServiceCredentials(user, self._service_passwords[user]))

    def _nova_notifier(self) -> NovaNotifier:
        """neutron-server's way to nova: the catalog's compute URL, as neutron's service user."""
        token = self._service_token("network", "neutron-server")
        http = ServiceClient(
            self.urls["compute"],
            source="neutron-server",
            target="nova-api",
            bus=self.bus,
            origin=self.origin,
        )
        nova = NovaClient(http, token)
        return NovaNotifier(nova, self.settings.send_events_interval)

    def _validator(self, kind: str) -> KeystoneValidator:
        """``kind``'s keystonemiddleware: it validates with its service user's own token."""
        _, name, _ = SERVICES[kind]
        http = ServiceClient(
            self.urls["identity"], source=name, target="keystone", bus=self.bus, origin=self.origin
        )
        cache = None
        if self.settings.token_cache_time > 0:
            cache = TokenCache(self.settings.token_cache_time)
            self.identity.manager.revocation_listeners.append(cache.forget)
        user = SERVICE_USERS[kind]
        credentials = ServiceCredentials(user, self._service_passwords[user])
        return KeystoneValidator(
            http, cache, service_token=ServiceToken(http, credentials), bus=self.bus, service=name
        )

    def _serve(self, kind: str, app: Any) -> None:
        install_request_id(app)
        self.servers[kind].start(app)

    @property
    def stepper(self) -> Stepper:
        """Breakpoints on this cloud's flow (see labcloud.trace.stepper)."""
        if self._stepper is None:
            self._stepper = Stepper(self.bus, host=self.origin.host, process=self.origin.process)
        return self._stepper

    def on_stop(self, close: Callable[[], object]) -> None:
        """Call ``close`` first when the cloud stops: what watches it (a notebook's
        dashboard, ``labcloud.notebook.watch(cloud)``) lets go before the services go."""
        self._on_stop.append(close)

    def names(self) -> dict[str, str]:
        """Every server's and network's id -> its name (the topology view's labels)."""
        from labcloud.context import RequestContext

        admin = RequestContext(is_admin=True, roles=("admin",))
        found = {n["id"]: n["name"] for n in self.network.manager.list_networks(admin, {})}
        found |= {i["uuid"]: i["display_name"] for i in self.compute.instances.list(None)}
        return found

    def stop(self) -> None:
        for remote in reversed(self._remote):
            remote.stop()
        self._remote.clear()
        for close in self._on_stop:
            close()
        self._on_stop.clear()
        if self._stepper is not None:  # let paused service threads go, or stopping hangs
            self._stepper.close()
        for server in self.servers.values():  # all at once: each takes ~0.1 s to drain
            server.request_stop()
        for server in self.servers.values():
            server.join()
        for service in reversed(self._services):
            service.stop()
        self._services.clear()
        while self._databases:
            self._databases.pop().dispose()
        self.transport.cleanup()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> LabCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- for notebooks and tests --------------------------------------------------------
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
