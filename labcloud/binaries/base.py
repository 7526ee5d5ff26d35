"""What every binary is made of: a transport, RPC servers, an HTTP API, periodic tasks, and
the way it finds the other services (keystone's catalog) and checks tokens (its service user).

A :class:`Binary` starts its parts in order and stops them in reverse, the way an OpenStack
service stops on SIGTERM: RPC consumers cancelled first (what the broker still holds for it
stays there, unacknowledged messages go back), the methods running finish, HTTP requests in
flight are answered, then its database sessions and broker connection close. Stopped
without ``release``, its parts can start again (the in-kernel cloud's ``stop_compute`` and
``start_compute``: a nova-compute that dies and comes back on a host whose hypervisor lives
on).

Given a :class:`~labcloud.binaries.shared.Shared` (the in-kernel cloud's), a binary uses the
transport, databases, catalog URLs, API sockets and token validators in it instead of making
its own from its settings, and closes none of them.

On RabbitMQ, a started binary also publishes its trace to the ``labcloud.trace`` exchange
and obeys stepper commands from ``labcloud.control`` (as ``LabCloud(share_trace=True)``), so
a notebook's ``RemoteCloud`` watches every process and a breakpoint pauses the process
whose thread reaches it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from labcloud.binaries.shared import Shared
from labcloud.compute.periodic import Periodic
from labcloud.conf.options import PROJECTS, ServiceConf
from labcloud.db import Database
from labcloud.messaging import RPCServer, Target, Transport, get_transport
from labcloud.messaging.control import StepperService
from labcloud.messaging.remote import TraceForwarder
from labcloud.rest.auth import (
    KeystoneValidator,
    ServiceCredentials,
    ServiceToken,
    TokenCache,
    TokenValidator,
    install_request_id,
)
from labcloud.rest.client import ServiceClient
from labcloud.rest.server import ApiServer
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import Origin
from labcloud.trace.stepper import Stepper

if TYPE_CHECKING:
    from sqlalchemy import MetaData

LOG = logging.getLogger(__name__)
CATALOG_TIMEOUT = 60.0  # seconds a service waits for keystone to answer at start-up
PAUSE = threading.Event()  # never set: .wait(t) paces retries against another process
REMOTE_SCHEMES = ("amqp", "rabbit", "pyamqp")  # transports other processes can watch


class Binary:
    """One OpenStack binary (``nova-compute``, ``glance-api`` ...): parts added by its factory,
    started by ``start()``, stopped in reverse by ``stop()``."""

    def __init__(
        self,
        name: str,
        conf: ServiceConf,
        *,
        bus: TraceBus | None = None,
        shared: Shared | None = None,
    ) -> None:
        self.name = name
        self.conf = conf
        self.shared = shared
        self._transport: Transport | None = None
        if shared is not None:  # the cloud's process and machine; its steps, its bus
            self._transport = shared.transport
            self.origin = shared.transport.origin.with_service(name)
            self.bus = shared.transport.bus
        else:
            self.origin = Origin(host=conf.DEFAULT.host, service=name)
            self.bus = bus if bus is not None else TraceBus(self.origin)  # its steps' origin
        self._starts: list[Callable[[], object]] = []
        self._stops: list[Callable[[], object]] = []
        self._started: list[Callable[[], object]] = []
        self._releases: list[Callable[[], object]] = []
        self.running = False
        self.api: ApiServer | None = None
        self.manager: object = None  # what its factory serves (nova-compute's ComputeManager...)
        self._forwarder: TraceForwarder | None = None  # on RabbitMQ, once started
        self._stepping: tuple[Stepper, StepperService] | None = None
        self._service_token: ServiceToken | None = None

    @property
    def transport(self) -> Transport:
        """The binary's broker connection, made on first use."""
        if self._transport is None:
            url = self.conf.DEFAULT.transport_url
            self._transport = get_transport(
                url,
                bus=self.bus,
                origin=self.origin,
                rpc_response_timeout=self.conf.DEFAULT.rpc_response_timeout,
            )
        return self._transport

    def part(self, start: Callable[[], object], stop: Callable[[], object]) -> None:
        self._starts.append(start)
        self._stops.append(stop)

    def release(self, close: Callable[[], object]) -> None:
        """Call ``close`` when the binary ends (a database it opened, an HTTP client), after
        its parts have stopped, the last added first."""
        self._releases.append(close)

    def database(self, metadata: MetaData) -> Database:
        """The project's database: the cloud's when shared, else one opened here."""
        if self.shared is not None:
            return self.shared.dbs[self.conf.project]
        db = Database(self.conf.database_url, metadata)
        self.release(db.dispose)
        return db

    def catalog(self) -> dict[str, str]:
        """``{service type: base URL}``: the cloud's when shared, else keystone's catalog."""
        if self.shared is not None:
            return dict(self.shared.urls)
        return catalog(self.conf, self.name)

    def validator(self) -> TokenValidator:
        """Its keystonemiddleware: the cloud's when shared, else ``[keystone_authtoken]``'s."""
        if self.shared is not None and self.shared.validator is not None:
            return self.shared.validator(self.name)
        return validator(self.conf, self.name, self.bus, self.service_token())

    def service_token(self) -> ServiceToken:
        """Its service user's token: got once (at its first use) and renewed, for every
        client of the binary that calls as the service, as a keystoneauth session."""
        shared = self.shared.service_token if self.shared is not None else None
        if self._service_token is None and shared is not None:
            self._service_token = shared(self.name)
        if self._service_token is None:
            http = keystone_client(self.conf, self.name, self.bus)
            self._service_token = ServiceToken(http, credentials(self.conf))
        return self._service_token

    def held(self) -> bool:
        """True while the in-kernel cloud is held by a stepper."""
        return self.shared is not None and self.shared.held()

    def rpc(self, target: Target, endpoint: object) -> RPCServer:
        server = RPCServer(self.transport, target, [endpoint], service=self.name)

        def stop() -> None:
            server.stop()  # consumers cancelled: what the broker holds stays there
            server.wait()  # the methods running finish

        self.part(server.start, stop)
        return server

    def periodic(self, what: str, interval: float, task: Callable[[], object]) -> None:
        if interval <= 0:
            return
        running: list[Periodic] = []  # a thread per start: a stopped binary may start again

        def start() -> None:
            running.append(Periodic(f"{self.name}-{what}", interval, task).start())

        def stop() -> None:
            while running:
                running.pop().stop()

        self.part(start, stop)

    def http(self, app: Any) -> ApiServer:
        """Serve ``app`` on the project's [api] bind_host:bind_port (the cloud's socket
        for this binary, when shared)."""
        install_request_id(app)
        if self.shared is not None:
            self.api = self.shared.servers[self.name]
        else:
            host, port = self.conf.bind
            self.api = ApiServer(None, host, port, name=self.name)
        api = self.api
        self.part(lambda: api.start(app), api.stop)
        return api

    def start(self) -> Binary:
        if self.running:
            return self
        self.running = True
        for start, stop in zip(self._starts, self._stops, strict=True):
            start()
            self._started.append(stop)
        if self.shared is None:  # the in-kernel cloud shares its trace itself
            self._share_trace()
        LOG.info("%s started", self.name)
        return self

    def _share_trace(self) -> None:
        if not self.conf.DEFAULT.transport_url.startswith(REMOTE_SCHEMES):
            return  # memory://: nobody outside this process could watch
        try:
            driver = self.transport.driver
        except Exception:  # keystone serves without a broker; its trace is not shared then
            LOG.warning("%s: its trace is not shared (no broker)", self.name, exc_info=True)
            return
        stepper = Stepper(self.bus, host=self.origin.host, process=self.origin.process)
        self._forwarder = TraceForwarder(driver, self.bus)
        self._stepping = (stepper, StepperService(driver, stepper))

    def stop(self, *, release: bool = True) -> None:
        """Stop the parts in reverse; with ``release``, then close what the binary opened
        (without, it can ``start()`` again)."""
        self.running = False
        if self._stepping is not None:  # no more commands; paused threads let go
            stepper, service = self._stepping
            service.stop()
            stepper.close()
            self._stepping = None
        while self._started:
            stop = self._started.pop()
            try:
                stop()
            except Exception:
                LOG.warning("%s: a part did not stop cleanly", self.name, exc_info=True)
        while release and self._releases:
            close = self._releases.pop()
            try:
                close()
            except Exception:
                LOG.warning("%s: did not close cleanly", self.name, exc_info=True)
        if self._forwarder is not None:  # the trace of its stopping, then the connection
            self._forwarder.stop()
            self._forwarder = None
        if release and self.shared is None and self._transport is not None:
            self._transport.cleanup()
            self._transport = None
        LOG.info("%s stopped", self.name)


# -- keystone: the service user, its token validation, the catalog -----------------------
def keystone_client(conf: ServiceConf, source: str, bus: TraceBus | None = None) -> ServiceClient:
    url = conf.keystone_authtoken.auth_url
    return ServiceClient(url, source=source, target="keystone", bus=bus)


def credentials(conf: ServiceConf) -> ServiceCredentials:
    auth = conf.keystone_authtoken
    return ServiceCredentials(conf.username, auth.password, auth.project_name)


def validator(
    conf: ServiceConf,
    name: str,
    bus: TraceBus | None = None,
    token: ServiceToken | None = None,
) -> KeystoneValidator:
    """keystonemiddleware's auth_token, as ``[keystone_authtoken]`` configures it, validating
    with ``token`` (None: a service token of its own)."""
    http = keystone_client(conf, name, bus)
    ttl = conf.keystone_authtoken.token_cache_time
    cache = TokenCache(ttl) if ttl > 0 else None
    token = token or ServiceToken(http, credentials(conf))
    return KeystoneValidator(http, cache, service_token=token, bus=bus, service=name)


def catalog(conf: ServiceConf, name: str, timeout: float = CATALOG_TIMEOUT) -> dict[str, str]:
    """``{service type: base URL}`` from keystone's catalog, logging in as the service user
    (waits for keystone up to ``timeout`` s: the processes of a cloud start together)."""
    auth = conf.keystone_authtoken
    user = {"name": conf.username, "domain": {"name": auth.user_domain_name}}
    scope = {"project": {"name": auth.project_name, "domain": {"name": auth.project_domain_name}}}
    identity = {"methods": ["password"], "password": {"user": user | {"password": auth.password}}}
    body = {"auth": {"identity": identity, "scope": scope}}
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = httpx.post(
                f"{auth.auth_url.rstrip('/')}/v3/auth/tokens", json=body, timeout=10
            )
            if answer.status_code == 201:
                return _public_urls(answer.json()["token"]["catalog"], auth.region_name)
            why = f"keystone answered {answer.status_code}: {answer.text[:200]}"
        except httpx.HTTPError as exc:
            why = f"keystone at {auth.auth_url} does not answer ({exc})"
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{name} cannot read keystone's catalog: {why}")
        LOG.info("%s waits for keystone: %s", name, why)
        PAUSE.wait(0.5)


def _public_urls(entries: list[dict[str, Any]], region: str) -> dict[str, str]:
    paths = {p.service_type: p.path for p in PROJECTS.values()}
    urls = {}
    for entry in entries:
        for endpoint in entry["endpoints"]:
            if endpoint["interface"] == "public" and endpoint.get("region", region) == region:
                path = paths.get(entry["type"], "")
                url = str(endpoint["url"])
                urls[entry["type"]] = url.removesuffix(path) if path else url
    return urls
