"""nova's four binaries: nova-api, nova-conductor, nova-scheduler and nova-compute.

nova-api, the conductor and the scheduler share nova's database; nova-compute never opens
it (it asks the conductor over RPC, as nova's does). nova-api and nova-compute reach glance,
neutron and cinder at the URLs of keystone's catalog, with the user's token.

Each factory builds its binary from nova's settings alone (``labcloud run``, ``labcloud up
--processes``) or, given ``shared``, over what the in-kernel cloud shares (its transport,
nova's database, the catalog's URLs, its API socket; see labcloud.binaries.shared).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from labcloud.binaries.base import Binary
from labcloud.binaries.shared import Shared
from labcloud.compute.api import create_compute_app
from labcloud.compute.clients import CinderClient, GlanceClient, NeutronClient
from labcloud.compute.conductor.manager import ConductorManager, service_context
from labcloud.compute.conductor.rpcapi import ConductorAPI
from labcloud.compute.frontend import DEFAULT_QUOTAS, ComputeFrontend
from labcloud.compute.instances import Instances
from labcloud.compute.manager import ComputeManager
from labcloud.compute.models import Base
from labcloud.compute.rpcapi import ComputeAPI
from labcloud.compute.scheduler.manager import SchedulerManager
from labcloud.compute.scheduler.rpcapi import SchedulerAPI
from labcloud.compute.servicegroup import ServiceGroup
from labcloud.compute.virt import get_driver
from labcloud.conf.options import ServiceConf
from labcloud.messaging import Target
from labcloud.rest.auth import require_token
from labcloud.rest.client import ServiceClient


def _servicegroup(conf: ServiceConf) -> ServiceGroup:
    return ServiceGroup(conf.DEFAULT.service_down_time)


def _clients(binary: Binary) -> dict[str, Any]:
    """glance, neutron and cinder at the catalog's URLs (waits for keystone)."""
    urls = binary.catalog()

    def http(kind: str, target: str) -> ServiceClient:
        client = ServiceClient(
            urls[kind], source=binary.name, target=target, bus=binary.bus, origin=binary.origin
        )
        binary.release(client.close)
        return client

    return {
        "glance": GlanceClient(http("image", "glance-api")),
        "neutron": NeutronClient(http("network", "neutron-server")),
        "cinder": CinderClient(http("volumev3", "cinder-api")),
    }


def _plugging(conf: ServiceConf) -> dict[str, Any]:
    """With the linuxbridge datapath the hypervisor plugs its guests into this host's
    namespace of the fabric (``[linux_bridge] fabric_tag``), where the L2 agent finds them."""
    options = conf.linux_bridge
    if options.datapath == "linuxbridge" and options.fabric_tag:
        return {"datapath_tag": options.fabric_tag}
    return {}


def nova_api(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    """nova-api: /v2.1, which casts builds to the conductor."""
    binary = Binary("nova-api", conf, shared=shared)
    frontend = ComputeFrontend(
        Instances(binary.database(Base.metadata), binary.bus, binary.name),
        ConductorAPI(binary.transport, service=binary.name),
        ComputeAPI(binary.transport, service=binary.name),
        servicegroup=_servicegroup(conf),
        **_clients(binary),
    )
    binary.manager = frontend
    binary.http(create_compute_app(frontend, require_token(binary.validator())))
    return binary


class BuildCheck:
    """The conductor's periodic build check (``instance_build_timeout``). While a stepper
    holds the cloud, every service's thread may be paused, the computes' reports too: the
    check waits, and gives the hosts one ``service_down_time`` after the hold to report."""

    def __init__(
        self, conductor: ConductorManager, conf: ServiceConf, held: Callable[[], bool]
    ) -> None:
        self.conductor = conductor
        self.timeout = conf.DEFAULT.instance_build_timeout
        self.down_time = conf.DEFAULT.service_down_time
        self.held = held
        self._grace_until = 0.0

    def __call__(self) -> None:
        if self.held():
            self._grace_until = time.monotonic() + self.down_time
            return
        if time.monotonic() >= self._grace_until:
            self.conductor.check_builds(self.timeout)


def nova_conductor(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    """nova-conductor: builds scheduled and handed to computes; stuck builds end in ERROR."""
    binary = Binary("nova-conductor", conf, shared=shared)
    token = binary.service_token()

    conductor = ConductorManager(
        Instances(binary.database(Base.metadata), binary.bus, binary.name),
        SchedulerAPI(binary.transport),
        ComputeAPI(binary.transport, service=binary.name),
        _servicegroup(conf),
        host=conf.DEFAULT.host,
        quota_defaults=lambda: DEFAULT_QUOTAS,  # nova-api's: labcloud's [quota] defaults
        neutron=_clients(binary)["neutron"],
        service_context=lambda: service_context(conf.username, token.get()),
    )
    binary.manager = conductor
    binary.rpc(Target("nova", "conductor", server=conf.DEFAULT.host), conductor)
    check = BuildCheck(conductor, conf, binary.held)
    binary.periodic("check-builds", conf.DEFAULT.report_interval, check)
    return binary


def nova_scheduler(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    """nova-scheduler: filters and weighs the hosts nova-compute reports."""
    binary = Binary("nova-scheduler", conf, shared=shared)
    scheduler = SchedulerManager(
        binary.database(Base.metadata),
        servicegroup=_servicegroup(conf),
        bus=binary.bus,
        ram_weight_multiplier=conf.scheduler.ram_weight_multiplier,
    )
    binary.manager = scheduler
    binary.part(lambda: scheduler.refresh(None), lambda: None)
    binary.rpc(Target("nova", "scheduler", server=conf.DEFAULT.host), scheduler)
    return binary


def nova_compute(conf: ServiceConf, *, shared: Shared | None = None) -> Binary:
    """nova-compute on ``[DEFAULT] host``: its hypervisor driver, and ``compute.<host>``
    (shared: the driver's options and the host's availability zone are the cloud's)."""
    binary = Binary("nova-compute", conf, shared=shared)
    host = conf.DEFAULT.host
    options = shared.driver_options.get(host, {}) if shared is not None else _plugging(conf)
    zone = shared.availability_zones.get(host, "nova") if shared is not None else "nova"
    manager = ComputeManager(
        host,
        get_driver(conf.DEFAULT.compute_driver, host, **options),
        ConductorAPI(binary.transport, service=binary.name),
        compute=ComputeAPI(binary.transport, service=binary.name),
        bus=binary.bus,
        vif_plugging_timeout=conf.DEFAULT.vif_plugging_timeout,
        vif_plugging_is_fatal=conf.DEFAULT.vif_plugging_is_fatal,
        availability_zone=zone,
        **_clients(binary),
    )
    binary.manager = manager
    binary.part(lambda: None, manager.cleanup_host)  # stopped after its RPC server is
    binary.rpc(Target("nova", "compute", server=host), manager)
    binary.part(manager.init_host, lambda: None)  # after its queue is consumed, as nova's
    binary.periodic(f"report-{host}", conf.DEFAULT.report_interval, manager.report_state)
    return binary
