"""nova as a cloud runs it: nova-api's app, and the conductor, scheduler and compute RPC
servers (one nova-compute per host of the spec), all on one transport."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from labcloud.compute.api import create_compute_app
from labcloud.compute.clients import CinderClient, GlanceClient, NeutronClient
from labcloud.compute.conductor.manager import ConductorManager, service_context
from labcloud.compute.conductor.rpcapi import ConductorAPI
from labcloud.compute.frontend import ComputeFrontend
from labcloud.compute.instances import Instances
from labcloud.compute.manager import ComputeManager
from labcloud.compute.models import Base, ComputeNode, Flavor
from labcloud.compute.periodic import Periodic
from labcloud.compute.rpcapi import ComputeAPI
from labcloud.compute.scheduler.manager import SchedulerManager
from labcloud.compute.scheduler.rpcapi import SchedulerAPI
from labcloud.compute.servicegroup import (
    BUILD_TIMEOUT,
    REPORT_INTERVAL,
    SERVICE_DOWN_TIME,
    ServiceGroup,
)
from labcloud.compute.virt import get_driver
from labcloud.compute.virt.driver import ComputeDriver
from labcloud.db import Database
from labcloud.messaging import RPCServer, Target, Transport
from labcloud.rest.client import ServiceClient
from labcloud.spec import CloudSpec


class ComputeService:
    name = "nova"
    service_type = "compute"

    def __init__(
        self,
        db_url: str,
        spec: CloudSpec,
        *,
        transport: Transport,
        urls: dict[str, str],
        driver: str = "fake",
        driver_options: dict[str, Any] | None = None,
        report_interval: float = REPORT_INTERVAL,
        service_down_time: float = SERVICE_DOWN_TIME,
        build_timeout: float = BUILD_TIMEOUT,
        vif_plugging: tuple[float, bool] = (300.0, True),
        hold: Callable[[], bool] | None = None,
        service_token: Callable[[], str] | None = None,
    ) -> None:
        """``report_interval``: seconds between each nova-compute's reports (0: report only
        when usage changes, and never check builds); ``service_down_time``: silence after
        which a host is down; ``build_timeout``: a build that has not moved for this long
        ends in ERROR (0: never); ``vif_plugging``: nova's vif_plugging_timeout and
        vif_plugging_is_fatal; ``hold``: True while someone has the cloud paused (a stepper),
        when silence proves nothing and the build check waits; ``service_token``: the nova
        service user's, with which the conductor frees the ports of builds it gives up."""
        self.transport = transport
        self.report_interval = report_interval
        self.build_timeout = build_timeout
        self.servicegroup = ServiceGroup(service_down_time)
        self._hold = hold or (lambda: False)
        self._grace_until = 0.0
        self.spec = spec
        self.db = Database(db_url, Base.metadata)
        self.db.create_all()
        self._load_flavors()
        bus = transport.bus
        self.instances = Instances(self.db, bus, "nova-conductor")
        self.scheduler = SchedulerManager(self.db, servicegroup=self.servicegroup, bus=bus)
        self.conductor_api = ConductorAPI(transport, service="nova-api")
        self.compute_api = ComputeAPI(transport, service="nova-conductor")

        def clients(source: str) -> dict[str, Any]:
            def http(target: str, key: str) -> ServiceClient:
                return ServiceClient(
                    urls[key], source=source, target=target, bus=bus, origin=transport.origin
                )

            return {
                "glance": GlanceClient(http("glance-api", "image")),
                "neutron": NeutronClient(http("neutron-server", "network")),
                "cinder": CinderClient(http("cinder-api", "volumev3")),
            }

        self.frontend = ComputeFrontend(
            Instances(self.db, bus, "nova-api"),
            self.conductor_api,
            ComputeAPI(transport, service="nova-api"),
            servicegroup=self.servicegroup,
            **clients("nova-api"),
        )
        capacity = {
            h.name: {"vcpus": h.vcpus, "memory_mb": h.ram_mb, "local_gb": h.disk_gb}
            for h in spec.hosts
        }
        self.drivers: dict[str, ComputeDriver] = {
            h.name: get_driver(
                driver,
                h.name,
                **(capacity[h.name] if driver == "fake" else {}),
                **(driver_options or {}),
            )
            for h in spec.hosts
        }

        self.computes = {
            h.name: ComputeManager(
                h.name,
                self.drivers[h.name],
                ConductorAPI(transport, service="nova-compute"),
                compute=ComputeAPI(transport, service="nova-compute"),
                bus=bus,
                availability_zone=h.availability_zone,
                vif_plugging_timeout=vif_plugging[0],
                vif_plugging_is_fatal=vif_plugging[1],
                **clients("nova-compute"),
            )
            for h in spec.hosts
        }
        self._servers: list[RPCServer] = []
        self._host_servers: dict[str, RPCServer] = {}
        self._periodic: dict[str, Periodic] = {}
        self.conductor = ConductorManager(
            self.instances,
            SchedulerAPI(transport),
            self.compute_api,
            self.servicegroup,
            quota_defaults=lambda: self.frontend.quotas,  # a lab may set other defaults
            neutron=clients("nova-conductor")["neutron"] if service_token else None,
            service_context=(
                (lambda: service_context("nova", service_token())) if service_token else None
            ),
        )

    def _load_flavors(self) -> None:
        with self.db.session() as s:
            for f in self.spec.flavors:
                if s.get(Flavor, f.id) is None:
                    s.add(
                        Flavor(
                            id=f.id,
                            name=f.name,
                            vcpus=f.vcpus,
                            memory_mb=f.ram_mb,
                            root_gb=f.disk_gb,
                        )
                    )

    def create_app(self, auth: Any) -> FastAPI:
        return create_compute_app(self.frontend, auth)

    def start(self) -> None:
        self._serve(
            Target("nova", "scheduler", server="scheduler"), self.scheduler, "nova-scheduler"
        )
        self._serve(
            Target("nova", "conductor", server="conductor"), self.conductor, "nova-conductor"
        )
        for host in self.computes:
            self.start_host(host)
        self.scheduler.refresh(None)
        if self.report_interval > 0:
            self._periodic["check_builds"] = Periodic(
                "nova-conductor-check-builds", self.report_interval, self._check_builds
            ).start()

    def start_host(self, host: str) -> None:
        """Start nova-compute on ``host`` (again): it consumes what waited in its queue,
        fails the builds it had been doing, and reports every ``report_interval``."""
        if host in self._host_servers:
            return
        manager = self.computes[host]
        target = Target("nova", "compute", server=host)
        server = RPCServer(self.transport, target, [manager], service="nova-compute")
        server.start()
        self._host_servers[host] = server
        manager.init_host()
        if self.report_interval > 0:
            self._periodic[host] = Periodic(
                f"nova-compute-report-{host}", self.report_interval, manager.report_state
            ).start()

    def stop_host(self, host: str) -> None:
        """Stop nova-compute on ``host``, as if its process died: no consumer on its queues
        (messages for it wait there), no more reports (after ``service_down_time`` it is
        down). Its instances stay where they are."""
        if host not in self.computes:
            raise KeyError(f"no compute host {host!r} (hosts: {', '.join(self.computes)})")
        periodic = self._periodic.pop(host, None)
        if periodic is not None:
            periodic.stop()
        server = self._host_servers.pop(host, None)
        if server is not None:
            server.stop()
            server.wait()
        self.computes[host].cleanup_host()

    def hosts_up(self) -> dict[str, bool]:
        """Each compute host: up (reported within ``service_down_time``) or not."""
        with self.db.reader() as s:
            last = {n.host: n.updated_at for n in s.scalars(select(ComputeNode))}
        return {h: self.servicegroup.is_up(last.get(h)) for h in self.computes}

    def _check_builds(self) -> None:
        if self._hold():  # paused by a stepper: reports are held up too, silence means nothing
            self._grace_until = time.monotonic() + self.servicegroup.down_time
            return
        if time.monotonic() >= self._grace_until:
            self.conductor.check_builds(self.build_timeout)

    def _serve(self, target: Target, endpoint: object, service: str) -> None:
        server = RPCServer(self.transport, target, [endpoint], service=service)
        server.start()
        self._servers.append(server)

    def stop(self) -> None:
        for periodic in self._periodic.values():
            periodic.stop()
        self._periodic.clear()
        servers = self._servers + list(self._host_servers.values())
        for server in servers:
            server.stop()
        for server in servers:
            server.wait()
        for manager in self.computes.values():
            manager.cleanup_host()
        self._servers.clear()
        self._host_servers.clear()
        self.db.dispose()
