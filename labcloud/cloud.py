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
What a notebook does with the cloud once built (login, boot, wait_for, ping, lab 07's
failures ...) is in labcloud.cloudactions.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labcloud.binaries import SERVICE_USERS
from labcloud.cloudactions import CloudActions
from labcloud.config import Settings
from labcloud.messaging import Transport, get_transport
from labcloud.network.datapath import Datapath, choose_datapath
from labcloud.pids import DAEMONS_DIR
from labcloud.rest.server import ApiServer
from labcloud.spec import CloudSpec
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import Origin
from labcloud.trace.stepper import Stepper

if TYPE_CHECKING:
    from labcloud.conf.options import ServiceConf
    from labcloud.db import Database
    from labcloud.rest.auth import KeystoneValidator, ServiceToken

# catalog type -> (keystone name, API server name, path in the catalog's URL)
SERVICES: dict[str, tuple[str, str, str]] = {
    "identity": ("keystone", "keystone", "/v3"),
    "compute": ("nova", "nova-api", "/v2.1"),
    "image": ("glance", "glance-api", ""),
    "network": ("neutron", "neutron-server", ""),
    "volumev3": ("cinderv3", "cinder-api", "/v3/$(project_id)s"),
}
API_KINDS = {name: kind for kind, (_, name, _) in SERVICES.items()}  # API server -> type


class LabCloud(CloudActions):
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
        fabric = None
        if self.datapath == "linuxbridge":
            from labcloud.netns.fabric import Fabric

            fabric = Fabric()
        self._datapath = Datapath(  # what neutron's agents drive, wherever they run
            fabric,
            self.state_dir,
            self.datapath_reason,
        )
        self._bcrypt_rounds = bcrypt_rounds or settings.password_hash_rounds
        self._passwords: dict[str, str] = {}
        self._service_passwords: dict[str, str] = {}  # the services' users'
        self._tokens: dict[str, ServiceToken] = {}  # API binary -> its service user's token
        self._logins: list[threading.Thread] = []  # the APIs' first logins, at start
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

    def _hash_passwords(self) -> dict[str, Future[str]]:
        """Every user's password, made now and hashed (bcrypt at keystone's cost: a quarter
        of a second of CPU each) on the other cores while _build imports the services'
        modules (there, at their first use) and builds them; keystone takes the hashes
        when it creates the users, last."""
        from labcloud.identity.passwords import hash_ahead, new_password, spec_passwords

        self._passwords = spec_passwords(self.spec)
        self._service_passwords = {u: new_password() for u in SERVICE_USERS.values()}
        passwords = [*self._passwords.values(), *self._service_passwords.values()]
        return hash_ahead(passwords, self._bcrypt_rounds)

    def _build(self) -> None:
        hashes = self._hash_passwords()
        # the services' modules, imported here at their first use, not with this module
        from labcloud.binaries import content
        from labcloud.binaries.inkernel import (
            CONTROLLER,
            Cinder,
            Glance,
            Keystone,
            Nova,
            cinder_database,
            driver_options,
            nova_database,
        )
        from labcloud.binaries.inkernel_neutron import Neutron
        from labcloud.binaries.shared import Shared
        from labcloud.conf.options import IdentitySection, TokenSection

        s = self.settings
        shared = Shared(
            self.transport,
            self.urls,
            servers={name: self.servers[kind] for kind, (_, name, _) in SERVICES.items()},
            validator=lambda binary: self._validator(API_KINDS[binary]),
            service_token=self._service_token,
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
        self.identity.manager.hashes_ahead(hashes)
        content.load_projects(self.identity.manager, self.spec)
        for kind, (name, _, path) in SERVICES.items():
            self.identity.manager.register_endpoint(
                kind, name, self.urls[kind] + path, self.spec.region
            )
        self.identity.start()
        projects = {p: self.project_id(p) for p in self.spec.projects}

        self.network = Neutron(
            # the L2 agents scan on neutron's clock ([AGENT] polling_interval, 2 s): a port
            # bound (port_update) or a tap made (a netlink event) wakes them at once anyway
            dataclasses.replace(shared, datapath=self._datapath),
            self._neutron_conf,
            [h.name for h in self.spec.hosts],
        )
        self._services.append(self.network)
        content.load_networks(self.network.manager, self.spec, projects)
        self.network.start()

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
        content.load_users(self.identity.manager, self.spec, self._passwords)
        content.add_service_users(
            self.identity.manager, SERVICE_USERS.values(), self._service_passwords
        )
        self._trace_databases()
        # each API's keystonemiddleware logs in now, beside the first requests, not in front
        # of its first one: a bcrypt check (a quarter of a second) each, on another core
        self._logins = [token.log_in_soon() for token in self._tokens.values()]

    def _conf(self, project: str, host: str) -> ServiceConf:
        """``project``'s settings for its binary on ``host``, from this cloud's."""
        from labcloud.binaries.inkernel import project_conf
        from labcloud.conf.options import PROJECTS

        user = SERVICE_USERS.get(PROJECTS[project].service_type, "")  # keystone: none
        return project_conf(
            project,
            self.settings,
            host=host,
            state_dir=self.state_dir,
            driver=self._compute_driver,
            keystone=(self.urls["identity"], user, self._service_passwords.get(user, "")),
        )

    def _neutron_conf(self, host: str) -> ServiceConf:
        """neutron's agents report on neutron's clock ([AGENT] report_interval 30 s,
        agent_down_time 75 s), not on the Settings' (nova's, which labs run faster)."""
        from labcloud.network.agents_db import AGENT_DOWN_TIME, REPORT_INTERVAL

        return self._conf("neutron", host).but(
            "DEFAULT", report_interval=REPORT_INTERVAL, service_down_time=AGENT_DOWN_TIME
        )

    def _driver_options(self) -> dict[str, Any]:
        """libvirt keeps its guests' disks in the cloud's state directory; with a real
        datapath, guests are plugged into it: the fake hypervisor's are network namespaces,
        libvirt's have taps (both get an address by DHCP and answer ping)."""
        fabric = self._datapath.fabric
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

    def _validator(self, kind: str) -> KeystoneValidator:
        """``kind``'s keystonemiddleware: it validates with its service user's own token."""
        from labcloud.rest.auth import KeystoneValidator, TokenCache
        from labcloud.rest.client import ServiceClient

        _, name, _ = SERVICES[kind]
        http = ServiceClient(
            self.urls["identity"], source=name, target="keystone", bus=self.bus, origin=self.origin
        )
        cache = None
        if self.settings.token_cache_time > 0:
            cache = TokenCache(self.settings.token_cache_time)
            self.identity.manager.revocation_listeners.append(cache.forget)
        token = self._service_token(name)
        return KeystoneValidator(http, cache, service_token=token, bus=self.bus, service=name)

    def _service_token(self, binary: str) -> ServiceToken | None:
        """An API binary's service token, one for its auth_token and its other clients (the
        neutron-server's nova notifier): it logs in once. Other binaries log in by themselves."""
        kind = API_KINDS.get(binary)
        if kind is None:
            return None
        if binary not in self._tokens:
            from labcloud.rest.auth import ServiceCredentials, ServiceToken
            from labcloud.rest.client import ServiceClient

            http = ServiceClient(
                self.urls["identity"],
                source=binary,
                target="keystone",
                bus=self.bus,
                origin=self.origin,
            )
            user = SERVICE_USERS[kind]
            credentials = ServiceCredentials(user, self._service_passwords[user])
            self._tokens[binary] = ServiceToken(http, credentials)
        return self._tokens[binary]

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

    def stop(self) -> None:
        for remote in reversed(self._remote):
            remote.stop()
        self._remote.clear()
        for close in self._on_stop:
            close()
        self._on_stop.clear()
        if self._stepper is not None:  # let paused service threads go, or stopping hangs
            self._stepper.close()
        while self._logins:  # a login still in flight ends before keystone goes
            self._logins.pop().join()
        for server in self.servers.values():  # all at once: each takes ~0.1 s to drain
            server.request_stop()
        for server in self.servers.values():
            server.join()
        for service in reversed(self._services):
            service.stop()
        self._services.clear()
        while self._databases:
            self._databases.pop().dispose()
        self._datapath.destroy()  # namespaces, bridges and dnsmasqs, once nothing uses them
        self.transport.cleanup()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> LabCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
