"""keystone, glance, neutron, nova and cinder as the in-kernel cloud runs them: their
binaries, each built by its factory in labcloud.binaries.identity, .network, .compute or
.volume (the ones ``labcloud run`` uses) over what the cloud shares, and what only a cloud in
one process does with them (neutron's: labcloud.binaries.inkernel_neutron).

The cloud's Settings and spec become each project's settings, one ``ServiceConf`` per binary
as a deployer writes nova.conf and cinder.conf on each machine: ``[DEFAULT] host`` is the
compute host for nova-compute and ``controller`` for the others (cinder-volume too, with its
file backend ``controller@file``, and neutron-server with the DHCP and L3 agents), as on
the multi-node cloud; every host runs a linuxbridge agent. The hosts' capacities and
availability zones go to the nova-compute factory, neutron's datapath to its agents', through
:class:`~labcloud.binaries.shared.Shared`. Lab 07's failures act on those binaries:
``stop_host`` stops a host's nova-compute as if its process died, ``start_host`` starts it
again on the same hypervisor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from labcloud.binaries.base import Binary
from labcloud.binaries.compute import nova_api, nova_compute, nova_conductor, nova_scheduler
from labcloud.binaries.content import load_flavors
from labcloud.binaries.identity import glance_api, keystone
from labcloud.binaries.shared import Shared
from labcloud.binaries.volume import cinder_api, cinder_scheduler, cinder_volume
from labcloud.compute.conductor.manager import ConductorManager
from labcloud.compute.frontend import ComputeFrontend
from labcloud.compute.instances import Instances
from labcloud.compute.manager import ComputeManager
from labcloud.compute.models import Base, ComputeNode
from labcloud.compute.scheduler.manager import SchedulerManager
from labcloud.compute.servicegroup import ServiceGroup
from labcloud.compute.virt.driver import ComputeDriver
from labcloud.conf.options import ServiceConf
from labcloud.config import Settings
from labcloud.db import Database
from labcloud.identity.manager import IdentityManager
from labcloud.image.manager import ImageManager
from labcloud.spec import CloudSpec
from labcloud.volume.models import Base as VolumeBase

CONTROLLER = "controller"  # [DEFAULT] host of the controller's binaries, as on the Vagrant VMs


def nova_database(url: str, spec: CloudSpec) -> Database:
    """nova's database, synced, with the spec's flavors (as bootstrap.py loads them)."""
    db = Database(url, Base.metadata)
    db.create_all()
    load_flavors(db, spec)
    return db


def cinder_database(url: str) -> Database:
    db = Database(url, VolumeBase.metadata)
    db.create_all()
    return db


def project_conf(
    project: str,
    settings: Settings,
    *,
    host: str,
    state_dir: Path,
    driver: str,
    keystone: tuple[str, str, str],
) -> ServiceConf:
    """``project``'s conf (nova.conf ...) for a binary on ``host``, from the cloud's Settings;
    ``keystone``: its auth_url, and the project's service user and password."""
    s = settings
    auth_url, user, password = keystone
    return ServiceConf.model_validate(
        {
            "project": project,
            "DEFAULT": {
                "transport_url": s.transport_url,
                "host": host,
                "state_path": state_dir,
                "rpc_response_timeout": s.rpc_response_timeout,
                "report_interval": s.report_interval,
                "service_down_time": s.service_down_time,
                "instance_build_timeout": s.build_timeout,
                "vif_plugging_timeout": s.vif_plugging_timeout,
                "vif_plugging_is_fatal": s.vif_plugging_is_fatal,
                "send_events_interval": s.send_events_interval,
                "compute_driver": driver,
            },
            "database": {"connection": s.database_url_for(project)},
            "keystone_authtoken": {
                "auth_url": auth_url,
                "www_authenticate_uri": auth_url,
                "username": user,
                "password": password,
                "token_cache_time": s.token_cache_time,
            },
        }
    )


class Project:
    """A project's binaries, started in order (the order ``labcloud up`` starts them) and
    stopped in reverse."""

    binaries: list[Binary]

    def start(self) -> None:
        for binary in self.binaries:
            binary.start()

    def stop(self) -> None:
        for binary in reversed(self.binaries):
            binary.stop()


class Keystone(Project):
    """keystone, its API on the cloud's identity socket."""

    def __init__(self, shared: Shared, conf: ServiceConf) -> None:
        binary = keystone(conf, shared=shared)
        assert isinstance(binary.manager, IdentityManager)
        self.manager = binary.manager
        self.binaries = [binary]


class Glance(Project):
    """glance-api, its images' data under the cloud's state directory."""

    def __init__(self, shared: Shared, conf: ServiceConf) -> None:
        binary = glance_api(conf, shared=shared)
        assert isinstance(binary.manager, ImageManager)
        self.manager = binary.manager
        self.binaries = [binary]


class Cinder(Project):
    """cinder-api, cinder-scheduler and cinder-volume, as on an all-in-one controller."""

    def __init__(self, shared: Shared, conf: ServiceConf) -> None:
        self.db = shared.dbs["cinder"]
        self.binaries = [
            make(conf, shared=shared) for make in (cinder_api, cinder_scheduler, cinder_volume)
        ]


class Nova(Project):
    """nova-api, nova-conductor, nova-scheduler and one nova-compute per host of ``spec``."""

    def __init__(
        self,
        spec: CloudSpec,
        shared: Shared,
        conf: Callable[[str], ServiceConf],
        controller: str = CONTROLLER,
    ) -> None:
        """``conf(host)``: nova's settings for a binary on ``host``; ``controller``: the host
        of nova-api, the conductor and the scheduler (their queues: ``conductor.controller``)."""
        self.db = shared.dbs["nova"]
        central = conf(controller)
        controllers = [
            make(central, shared=shared) for make in (nova_api, nova_conductor, nova_scheduler)
        ]
        self.hosts = {h.name: nova_compute(conf(h.name), shared=shared) for h in spec.hosts}
        self.binaries = [*controllers, *self.hosts.values()]
        api, conductor, scheduler = (b.manager for b in controllers)
        assert isinstance(api, ComputeFrontend)
        assert isinstance(conductor, ConductorManager)
        assert isinstance(scheduler, SchedulerManager)
        self.frontend, self.conductor, self.scheduler = api, conductor, scheduler
        # nova-api and the conductor read one [quota] section: a lab's frontend.quotas is
        # what the conductor's recheck counts against too
        conductor.quota_defaults = lambda: self.frontend.quotas
        self.servicegroup = ServiceGroup(central.DEFAULT.service_down_time)

    @property
    def instances(self) -> Instances:
        return self.conductor.instances

    @property
    def computes(self) -> Mapping[str, ComputeManager]:
        managers = {host: b.manager for host, b in self.hosts.items()}
        return {h: m for h, m in managers.items() if isinstance(m, ComputeManager)}

    @property
    def drivers(self) -> Mapping[str, ComputeDriver]:
        return {host: manager.driver for host, manager in self.computes.items()}

    def start_host(self, host: str) -> None:
        """Start nova-compute on ``host`` (again): it consumes what waited in its queue,
        fails the builds it had been doing, and reports every ``report_interval``."""
        self._host(host).start()

    def stop_host(self, host: str) -> None:
        """Stop nova-compute on ``host``, as if its process died: no consumer on its queues
        (messages for it wait there), no more reports (after ``service_down_time`` it is
        down). Its instances stay on the hypervisor, which is there for ``start_host``."""
        self._host(host).stop(release=False)

    def _host(self, host: str) -> Binary:
        if host not in self.hosts:
            raise KeyError(f"no compute host {host!r} (hosts: {', '.join(self.hosts)})")
        return self.hosts[host]

    def hosts_up(self) -> dict[str, bool]:
        """Each compute host: up (reported within ``service_down_time``) or not."""
        with self.db.reader() as s:
            last = {n.host: n.updated_at for n in s.scalars(select(ComputeNode))}
        return {h: self.servicegroup.is_up(last.get(h)) for h in self.hosts}


def driver_options(
    spec: CloudSpec, driver: str, common: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Each host's hypervisor driver options: the fake's capacity is the spec host's."""
    return {
        h.name: (
            {"vcpus": h.vcpus, "memory_mb": h.ram_mb, "local_gb": h.disk_gb}
            if driver == "fake"
            else {}
        )
        | dict(common)
        for h in spec.hosts
    }
