"""nova as a cloud runs it: nova-api's app, and the conductor, scheduler and compute RPC
servers (one nova-compute per host of the spec), all on one transport."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from labcloud.compute.api import create_compute_app
from labcloud.compute.clients import CinderClient, GlanceClient, NeutronClient
from labcloud.compute.conductor.manager import ConductorManager
from labcloud.compute.conductor.rpcapi import ConductorAPI
from labcloud.compute.frontend import ComputeFrontend
from labcloud.compute.instances import Instances
from labcloud.compute.manager import ComputeManager
from labcloud.compute.models import Base, Flavor
from labcloud.compute.rpcapi import ComputeAPI
from labcloud.compute.scheduler.manager import SchedulerManager
from labcloud.compute.scheduler.rpcapi import SchedulerAPI
from labcloud.compute.virt import get_driver
from labcloud.compute.virt.driver import ComputeDriver
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.messaging import RPCServer, Target, Transport
from labcloud.rest.client import ServiceClient
from labcloud.spec import CloudSpec
from labcloud.trace.flow import emit_step


class TracedScheduler:
    """nova-scheduler's endpoint, reporting the seed's steps 9–11 around each decision."""

    def __init__(self, manager: SchedulerManager, transport: Transport) -> None:
        self.manager = manager
        self.bus = transport.bus

    def select_destinations(
        self, ctxt: RequestContext, request_spec: dict[str, Any], instance_uuids: list[str]
    ) -> list[dict[str, Any]]:
        for step in (9, 10):
            for uuid in instance_uuids:
                emit_step(self.bus, step, instance_uuid=uuid, request_id=ctxt.request_id)
        result: list[dict[str, Any]] = self.manager.select_destinations(
            ctxt, request_spec=request_spec, instance_uuids=instance_uuids
        )
        for uuid in instance_uuids:
            emit_step(self.bus, 11, instance_uuid=uuid, request_id=ctxt.request_id)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.manager, name)


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
    ) -> None:
        self.transport = transport
        self.spec = spec
        self.db = Database(db_url, Base.metadata)
        self.db.create_all()
        self._load_flavors()
        bus = transport.bus
        self.instances = Instances(self.db, bus, "nova-conductor")
        self.scheduler = SchedulerManager(self.db)
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
                **clients("nova-compute"),
            )
            for h in spec.hosts
        }
        self._servers: list[RPCServer] = []

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
        t = self.transport
        conductor = ConductorManager(self.instances, SchedulerAPI(t), self.compute_api)
        self._serve(
            Target("nova", "scheduler", server="scheduler"),
            TracedScheduler(self.scheduler, t),
            "nova-scheduler",
        )
        self._serve(Target("nova", "conductor", server="conductor"), conductor, "nova-conductor")
        for host, manager in self.computes.items():
            self._serve(Target("nova", "compute", server=host), manager, "nova-compute")
        for manager in self.computes.values():
            manager.init_host()
        self.scheduler.refresh(None)

    def _serve(self, target: Target, endpoint: object, service: str) -> None:
        server = RPCServer(self.transport, target, [endpoint], service=service)
        server.start()
        self._servers.append(server)

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        for server in self._servers:
            server.wait()
        self._servers.clear()
        self.db.dispose()
