"""LabCloud: builds and starts every service a CloudSpec describes, in this process.

    with LabCloud(CloudSpec.demo()) as cloud:
        token = cloud.login("demo", "demo-secret")
        ...

Services talk over one transport (``memory://`` unless Settings say otherwise), each project
has its own database, and every REST API is served on 127.0.0.1 (free ports unless the
Settings fix them) and listed in keystone's catalog. Two LabClouds in one process share
nothing. ``stop()`` releases threads, ports and (if it made them) files.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from labcloud.booting import Boot
from labcloud.compute.service import ComputeService
from labcloud.compute.virt.driver import ComputeDriver
from labcloud.config import Settings
from labcloud.identity.service import IdentityService
from labcloud.image.service import ImageService
from labcloud.messaging import Transport, get_transport
from labcloud.network.service import NetworkService
from labcloud.rest.auth import (
    KeystoneValidator,
    TokenCache,
    TracedValidator,
    install_request_id,
    require_token,
)
from labcloud.rest.client import ServiceClient
from labcloud.rest.server import ApiServer
from labcloud.spec import CloudSpec
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import BrokerEvent, Origin
from labcloud.trace.stepper import Stepper

if TYPE_CHECKING:
    from labcloud.messaging.memory import BrokerRestart
    from labcloud.notebook.dashboard import Dashboard
from labcloud.volume.service import VolumeService

# catalog type -> (keystone name, API server name, path, validation steps, when called by)
SERVICES: dict[str, tuple[str, str, str, tuple[int, ...], str]] = {
    "identity": ("keystone", "keystone", "/v3", (), ""),
    "compute": ("nova", "nova-api", "/v2.1", (4, 5), ""),
    "image": ("glance", "glance-api", "", (20,), "nova-compute"),
    "network": ("neutron", "neutron-server", "", (23,), "nova-compute"),
    "volumev3": ("cinderv3", "cinder-api", "/v3/$(project_id)s", (26,), "nova-compute"),
}


class LabCloud:
    def __init__(
        self,
        spec: CloudSpec | None = None,
        settings: Settings | None = None,
        *,
        compute_driver: str = "fake",
        bcrypt_rounds: int = 4,
        share_trace: bool = False,
    ) -> None:
        """``share_trace``: publish the trace to ``labcloud.trace`` and obey stepper commands
        from ``labcloud.control``, so a notebook or ``labcloud debug`` elsewhere can watch and
        step this cloud (needs a RabbitMQ transport)."""
        self.spec = spec or CloudSpec.demo()
        self._tmp: Path | None = None
        settings = settings or Settings()
        if settings.state_dir is None and not settings.database_url:
            self._tmp = Path(tempfile.mkdtemp(prefix="labcloud-"))
            settings = settings.but(state_dir=self._tmp)
        self.settings = settings
        self.state_dir = settings.state_dir or Path(tempfile.gettempdir())
        self.bus = TraceBus()
        self._stepper: Stepper | None = None
        self._dashboards: list[Dashboard] = []
        self._share_trace = share_trace
        self._remote: list[Any] = []  # a TraceForwarder and a StepperService when shared
        self.origin = Origin(service="labcloud")
        self.transport: Transport = get_transport(
            settings.transport_url, bus=self.bus, origin=self.origin
        )
        self.servers = {
            kind: ApiServer(None, settings.host, settings.port_for(name), name=name)
            for kind, (_, name, _, _, _) in SERVICES.items()
        }
        self.urls = {kind: server.url for kind, server in self.servers.items()}
        self._compute_driver = compute_driver
        self._bcrypt_rounds = bcrypt_rounds
        self._started = False
        self._services: list[Any] = []

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
        self.identity = IdentityService(
            s.database_url_for("keystone"),
            bus=self.bus,
            token_expiry=s.token_expiry,
            bcrypt_rounds=self._bcrypt_rounds,
        )
        self._services.append(self.identity)
        self.identity.load(self.spec)
        for kind, (name, _, path, _, _) in SERVICES.items():
            self.identity.manager.register_endpoint(
                kind, name, self.urls[kind] + path, self.spec.region
            )
        self._serve("identity", self.identity.create_app())
        projects = {p: self.project_id(p) for p in self.spec.projects}

        self.network = NetworkService(
            s.database_url_for("neutron"), validator=self._validator("network")
        )
        self._services.append(self.network)
        self.network.load(self.spec, projects)
        self._serve("network", self.network.create_app())

        self.image = ImageService(
            s.database_url_for("glance"),
            validator=self._validator("image"),
            data_dir=self.state_dir / "images",
        )
        self._services.append(self.image)
        self.image.load(self.spec, projects["admin"])
        self._serve("image", self.image.create_app())

        self.volume = VolumeService(
            s.database_url_for("cinder"),
            transport=self.transport,
            validator=self._validator("volumev3"),
            data_dir=self.state_dir / "volumes",
        )
        self._services.append(self.volume)
        self.volume.start()
        self._serve("volumev3", self.volume.create_app())

        self.compute = ComputeService(
            s.database_url_for("nova"),
            self.spec,
            transport=self.transport,
            urls=self.urls,
            driver=self._compute_driver,
            report_interval=s.report_interval,
            service_down_time=s.service_down_time,
            build_timeout=s.build_timeout,
            hold=lambda: self._stepper is not None and bool(self._stepper.paused),
        )
        self._services.append(self.compute)
        self.compute.start()
        self._serve("compute", self.compute.create_app(require_token(self._validator("compute"))))
        self._trace_databases()

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

    def _validator(self, kind: str) -> TracedValidator:
        _, name, _, steps, caller = SERVICES[kind]
        http = ServiceClient(
            self.urls["identity"], source=name, target="keystone", bus=self.bus, origin=self.origin
        )
        cache = None
        if self.settings.token_cache_time > 0:
            cache = TokenCache(self.settings.token_cache_time)
            self.identity.manager.revocation_listeners.append(cache.forget)
        return TracedValidator(KeystoneValidator(http, cache), self.bus, steps, caller=caller)

    def _serve(self, kind: str, app: Any) -> None:
        install_request_id(app)
        self.servers[kind].start(app)

    @property
    def stepper(self) -> Stepper:
        """Breakpoints on this cloud's flow (see labcloud.trace.stepper)."""
        if self._stepper is None:
            self._stepper = Stepper(self.bus, host=self.origin.host, process=self.origin.process)
        return self._stepper

    def watch(self, *, rate: float = 20.0) -> Dashboard:
        """Live widgets for this cloud (display the result in a notebook cell)."""
        from labcloud.notebook.dashboard import Dashboard

        dashboard = Dashboard(self.bus, self.transport.snapshot, self.stepper, rate=rate)
        self._dashboards.append(dashboard)
        return dashboard

    def stop(self) -> None:
        for remote in reversed(self._remote):
            remote.stop()
        self._remote.clear()
        for dashboard in self._dashboards:
            dashboard.close()
        self._dashboards.clear()
        if self._stepper is not None:  # let paused service threads go, or stopping hangs
            self._stepper.close()
        for server in self.servers.values():
            server.stop()
        for service in reversed(self._services):
            service.stop()
        self._services.clear()
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

    def login(
        self,
        user: str = "demo",
        password: str | None = None,
        project: str | None = None,
        *,
        timeout: float = 30.0,
    ) -> str:
        """A token, got the way a client gets one (POST /v3/auth/tokens): seed steps 1–2."""
        spec_user = next((u for u in self.spec.users if u.name == user), None)
        password = password or (spec_user.password if spec_user else "")
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
            answer = keystone.post("/v3/auth/tokens", json=body, user=user)
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
        **server: Any,
    ) -> Boot:
        """Log in and boot, from a worker thread (seed steps 1–28); returns at once.

        Safe with breakpoints anywhere, also on steps 1–8, where keystone and nova-api are
        held while they answer. ``boot.server_id``, ``boot.wait("ACTIVE")``.
        """

        def request() -> dict[str, Any]:
            token = self.login(user, timeout=600)
            headers = {"X-Auth-Token": token}
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
                    "/v2.1/servers", json={"server": body | server}, token=token, user=user
                )
            finally:
                nova.close()
            if answer.status_code != 202:
                raise RuntimeError(f"nova-api answered {answer.status_code}: {answer.text[:300]}")
            return dict(answer.json())

        return Boot(self.bus, request)

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
        start_app`` restarts RabbitMQ: its queues go with what they hold, every service
        declares its queues again, clients resend their recent casts. The trace gets a
        BrokerEvent saying what was lost."""
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
                replayed=report.replayed,
                host=self.origin.host,
                process=self.origin.process,
            )
        )
        return report
