"""nova's four binaries: nova-api, nova-conductor, nova-scheduler and nova-compute.

nova-api, the conductor and the scheduler share nova's database; nova-compute never opens
it (it asks the conductor over RPC, as nova's does). nova-api and nova-compute reach glance,
neutron and cinder at the URLs of keystone's catalog, with the user's token.
"""

from __future__ import annotations

from typing import Any

from labcloud.binaries.base import Binary, catalog, credentials, keystone_client, validator
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
from labcloud.db import Database
from labcloud.messaging import Target
from labcloud.rest.auth import ServiceToken, require_token
from labcloud.rest.client import ServiceClient


def _db(binary: Binary) -> Database:
    db = Database(binary.conf.database_url, Base.metadata)
    binary.part(lambda: None, db.dispose)  # first part: closed last
    return db


def _servicegroup(conf: ServiceConf) -> ServiceGroup:
    return ServiceGroup(conf.DEFAULT.service_down_time)


def _clients(binary: Binary) -> dict[str, Any]:
    """glance, neutron and cinder at the catalog's URLs (waits for keystone)."""
    urls = catalog(binary.conf, binary.name)

    def http(kind: str, target: str) -> ServiceClient:
        client = ServiceClient(
            urls[kind], source=binary.name, target=target, bus=binary.bus, origin=binary.origin
        )
        binary.part(lambda: None, client.close)
        return client

    return {
        "glance": GlanceClient(http("image", "glance-api")),
        "neutron": NeutronClient(http("network", "neutron-server")),
        "cinder": CinderClient(http("volumev3", "cinder-api")),
    }


def nova_api(conf: ServiceConf) -> Binary:
    """nova-api: /v2.1, which casts builds to the conductor."""
    binary = Binary("nova-api", conf)
    frontend = ComputeFrontend(
        Instances(_db(binary), binary.bus, binary.name),
        ConductorAPI(binary.transport, service=binary.name),
        ComputeAPI(binary.transport, service=binary.name),
        servicegroup=_servicegroup(conf),
        **_clients(binary),
    )
    auth = require_token(validator(conf, binary.name, binary.bus))
    binary.http(create_compute_app(frontend, auth))
    return binary


def nova_conductor(conf: ServiceConf) -> Binary:
    """nova-conductor: builds scheduled and handed to computes; stuck builds end in ERROR."""
    binary = Binary("nova-conductor", conf)
    token = ServiceToken(keystone_client(conf, binary.name, binary.bus), credentials(conf))

    conductor = ConductorManager(
        Instances(_db(binary), binary.bus, binary.name),
        SchedulerAPI(binary.transport),
        ComputeAPI(binary.transport, service=binary.name),
        _servicegroup(conf),
        host=conf.DEFAULT.host,
        quota_defaults=lambda: DEFAULT_QUOTAS,  # nova-api's: labcloud's [quota] defaults
        neutron=_clients(binary)["neutron"],
        service_context=lambda: service_context(conf.username, token.get()),
    )
    binary.rpc(Target("nova", "conductor", server=conf.DEFAULT.host), conductor)
    timeout = conf.DEFAULT.instance_build_timeout
    binary.periodic(
        "check-builds", conf.DEFAULT.report_interval, lambda: conductor.check_builds(timeout)
    )
    return binary


def nova_scheduler(conf: ServiceConf) -> Binary:
    """nova-scheduler: filters and weighs the hosts nova-compute reports."""
    binary = Binary("nova-scheduler", conf)
    scheduler = SchedulerManager(
        _db(binary),
        servicegroup=_servicegroup(conf),
        bus=binary.bus,
        ram_weight_multiplier=conf.scheduler.ram_weight_multiplier,
    )
    binary.part(lambda: scheduler.refresh(None), lambda: None)
    binary.rpc(Target("nova", "scheduler", server=conf.DEFAULT.host), scheduler)
    return binary


def nova_compute(conf: ServiceConf) -> Binary:
    """nova-compute on ``[DEFAULT] host``: its hypervisor driver, and ``compute.<host>``."""
    binary = Binary("nova-compute", conf)
    host = conf.DEFAULT.host
    manager = ComputeManager(
        host,
        get_driver(conf.DEFAULT.compute_driver, host),
        ConductorAPI(binary.transport, service=binary.name),
        compute=ComputeAPI(binary.transport, service=binary.name),
        bus=binary.bus,
        vif_plugging_timeout=conf.DEFAULT.vif_plugging_timeout,
        vif_plugging_is_fatal=conf.DEFAULT.vif_plugging_is_fatal,
        **_clients(binary),
    )
    binary.part(lambda: None, manager.cleanup_host)  # stopped after its RPC server is
    binary.rpc(Target("nova", "compute", server=host), manager)
    binary.part(manager.init_host, lambda: None)  # after its queue is consumed, as nova's
    binary.periodic("report", conf.DEFAULT.report_interval, manager.report_state)
    return binary
