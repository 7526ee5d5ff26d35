"""nova-compute's manager: the RPC endpoint behind ``compute.<host>``, one per host.

``build_and_run_instance`` is the second half of the seed's flow (steps 13–28): steps 13–18
(the conductor's copy of the instance) are taken here, on the RPC worker; the build itself
(glance, neutron, cinder, the driver's spawn: steps 19–28) runs in a pool of its own, in
build.py. Resizes are resize.py's. nova-compute never touches the database; the conductor
does. Each method that works on an instance reports its event (``compute_<method>``,
compute/events.py) through the conductor, as nova's ``wrap_instance_event`` does.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from labcloud.compute import events
from labcloud.compute.build import InstanceBuilder
from labcloud.compute.clients import (
    CinderClient,
    GlanceClient,
    NeutronClient,
    connector,
    release_ports,
)
from labcloud.compute.conductor.rpcapi import ConductorAPI
from labcloud.compute.console import ConsoleWatch
from labcloud.compute.events import wrap_instance_event
from labcloud.compute.instance_events import (
    NETWORK_CHANGED,
    VIF_DELETED,
    VIF_PLUGGING_TIMEOUT,
    InstanceEvents,
)
from labcloud.compute.resize import Resizer
from labcloud.compute.resources import ResourceTracker
from labcloud.compute.rpcapi import ComputeAPI
from labcloud.compute.states import PowerState, TaskState, VmState
from labcloud.compute.virt.driver import ComputeDriver
from labcloud.context import RequestContext, get_admin_context
from labcloud.exceptions import LabCloudError
from labcloud.trace.bus import TraceBus
from labcloud.trace.flow import flow_step

LOG = logging.getLogger(__name__)
MAX_CONCURRENT_BUILDS = 10  # nova's [DEFAULT] max_concurrent_builds


class ComputeManager:
    def __init__(
        self,
        host: str,
        driver: ComputeDriver,
        conductor: ConductorAPI,
        *,
        glance: GlanceClient,
        neutron: NeutronClient,
        cinder: CinderClient,
        compute: ComputeAPI | None = None,
        bus: TraceBus | None = None,
        availability_zone: str = "nova",
        vif_plugging_timeout: float = VIF_PLUGGING_TIMEOUT,
        vif_plugging_is_fatal: bool = True,
    ) -> None:
        """``vif_plugging_timeout``: seconds a build waits for neutron's network-vif-plugged
        (0: it does not wait); ``vif_plugging_is_fatal``: a build that waited in vain fails."""
        self.host = host
        self.driver = driver
        self.conductor = conductor
        self.compute = compute  # to other nova-computes (resize); None: this host only
        self.glance, self.neutron, self.cinder = glance, neutron, cinder
        self.bus = bus
        self.resources = ResourceTracker(host, driver, conductor, availability_zone)
        self.console = ConsoleWatch(driver, bus, host)  # labcloud's, not nova's (console.py)
        self.instance_events = InstanceEvents(bus, host)
        self.vif_plugging = (vif_plugging_timeout, vif_plugging_is_fatal)
        self._builds = self._build_pool()  # its threads start with the first build
        self.builder = InstanceBuilder(self)  # steps 19-28 (build.py)
        self.resizer = Resizer(host, driver, conductor, compute, neutron, self.resources)

    def init_host(self) -> None:
        """At start-up: builds this host was doing when it stopped cannot be finished (the
        work is gone with the process), so they end in ERROR, as nova's ``_init_instance``
        does; then the host reports its usage, which also says it is up."""
        self.driver.init_host()
        ctxt = get_admin_context()
        for instance in self.conductor.instance_get_all_by_host(ctxt, self.host):
            if instance["vm_state"] == VmState.BUILDING:
                self.conductor.instance_fault_create(
                    ctxt,
                    instance["uuid"],
                    500,
                    f"Build of instance {instance['uuid']} was interrupted: nova-compute on "
                    f"{self.host} restarted before it finished",
                )
                self._update(ctxt, instance["uuid"], vm_state=VmState.ERROR, task_state=None)
        self.resources.report(ctxt)

    def cleanup_host(self) -> None:
        """At stop (nova's ``cleanup_host``): the builds under way finish, the console
        watches end; guests keep running."""
        builds, self._builds = self._builds, self._build_pool()  # for a start after this
        builds.shutdown(wait=True)
        self.console.stop()

    def _build_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(
            MAX_CONCURRENT_BUILDS, thread_name_prefix=f"nova-compute-build-{self.host}"
        )

    def report_state(self) -> None:
        """The periodic report (nova's ``report_interval``): usage, and a sign of life."""
        self.resources.report(get_admin_context())

    def _step(self, step: int, ctxt: RequestContext, uuid: str) -> None:
        flow_step(self.bus, step, ctxt, instance_uuid=uuid, host=self.host)

    def _update(self, ctxt: RequestContext, uuid: str, **updates: Any) -> dict[str, Any]:
        return self.conductor.instance_update(ctxt, uuid, **updates)

    # -- the build ----------------------------------------------------------------------
    def build_and_run_instance(
        self,
        ctxt: RequestContext,
        instance: dict[str, Any],
        request_spec: dict[str, Any],
        attempt: int,
    ) -> None:
        uuid = instance["uuid"]
        self._step(13, ctxt, uuid)
        self._step(14, ctxt, uuid)
        instance = self.conductor.instance_get(ctxt, uuid)
        self._step(18, ctxt, uuid)
        if instance["task_state"] == TaskState.DELETING or instance["deleted"]:
            return  # deleted while it was being scheduled
        if instance["vm_state"] != VmState.BUILDING or instance["host"] != self.host:
            # a message that waited in this host's queue while the host was down: the
            # build was given up (ERROR) or went elsewhere meanwhile
            LOG.warning(
                "not building %s on %s: it is %s on %s now",
                uuid,
                self.host,
                instance["vm_state"],
                instance["host"],
            )
            return
        # as nova's spawn_n under max_concurrent_builds: the build runs in a pool of its
        # own and this RPC worker is free at once, so the network-vif-plugged events the
        # builds wait for are never queued behind them
        self._builds.submit(
            self._do_build_and_run_instance, ctxt, instance, request_spec, attempt
        ).add_done_callback(self._build_done)

    def _build_done(self, future: Future[None]) -> None:
        exc = future.exception()
        if exc is not None:
            LOG.error("a build on %s failed outside its handling", self.host, exc_info=exc)

    @wrap_instance_event("compute")
    def _do_build_and_run_instance(
        self,
        ctxt: RequestContext,
        instance: dict[str, Any],
        request_spec: dict[str, Any],
        attempt: int,
    ) -> None:
        """The build on this host (build.py), its event ``compute__do_build_and_run_instance``;
        a failure is handled there (ERROR with a fault, or a reschedule) and the event ends
        ``Success`` all the same, as nova's does."""
        self.builder.build_and_run(ctxt, instance, request_spec, attempt)

    def connector(self) -> dict[str, Any]:
        return connector(self.host)

    def _cleanup(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        """Undo a build or tear down an instance: domain, ports, volumes. Safe to repeat."""
        self.console.cancel(instance["uuid"])
        try:
            self.driver.destroy(instance)
        except LabCloudError:
            LOG.warning("destroy of %s failed on %s", instance["uuid"], self.host, exc_info=True)
        release_ports(self.neutron, ctxt, instance)
        for device in instance.get("block_devices") or []:
            try:
                self.cinder.detach(ctxt, device["volume_id"], self.connector())
            except LabCloudError:
                LOG.warning("detach of %s failed", device["volume_id"], exc_info=True)

    # -- life after the build -------------------------------------------------------------
    @wrap_instance_event("compute")
    def terminate_instance(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        self.instance_events.clear(instance["uuid"])  # a build waiting for its ports stops
        instance = self.conductor.instance_get(ctxt, instance["uuid"])
        self._cleanup(ctxt, instance)
        self.resources.release(ctxt, instance["flavor"])
        self.conductor.instance_destroy(ctxt, instance["uuid"])

    def external_instance_event(
        self, ctxt: RequestContext, instances: list[dict[str, Any]], events: list[dict[str, Any]]
    ) -> None:
        """What neutron said about instances here, through nova-api: a waiting build takes
        its event; network-vif-deleted drops the port from the instance's network info
        (nova's info cache; nova also detaches it from the guest, labcloud's drivers cannot)."""
        by_uuid = {i["uuid"]: i for i in instances}
        for event in events:
            uuid, name, tag = event["server_uuid"], event["name"], event.get("tag") or ""
            status, sender = event.get("status", "completed"), ctxt.user_name or ""
            if name not in (VIF_DELETED, NETWORK_CHANGED):  # a waiter's, or unexpected
                self.instance_events.deliver(
                    uuid, name, tag, status, sender=sender, request_id=ctxt.request_id
                )
                continue
            if name == VIF_DELETED and uuid in by_uuid:
                self._vif_deleted(ctxt, by_uuid[uuid], tag)
            self.instance_events.trace("received", uuid, name, tag, status, sender, ctxt.request_id)

    def _vif_deleted(self, ctxt: RequestContext, instance: dict[str, Any], port_id: str) -> None:
        """The port leaves the instance's network info in one conductor call (no read of the
        instance first: that read is seed steps 15–17 of a boot, and would race a rebuild's
        new ports)."""
        if instance.get("task_state") == TaskState.DELETING:
            return  # its ports go with it
        self.conductor.instance_remove_vif(ctxt, instance["uuid"], port_id)

    def get_console_output(
        self, ctxt: RequestContext, instance: dict[str, Any], tail_length: int | None = None
    ) -> str:
        """The guest's serial console, its last ``tail_length`` lines (all when None)."""
        output = self.driver.get_console_output(instance)
        if tail_length is None:
            return output
        lines = output.splitlines(keepends=True)
        return "".join(lines[-tail_length:] if tail_length > 0 else [])

    @wrap_instance_event("compute")
    def reboot_instance(
        self, ctxt: RequestContext, instance: dict[str, Any], reboot_type: str
    ) -> None:
        self._power(
            ctxt,
            instance,
            lambda: self.driver.reboot(instance, reboot_type),
            VmState.ACTIVE,
            PowerState.RUNNING,
        )

    @wrap_instance_event("compute")
    def stop_instance(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        self._power(
            ctxt,
            instance,
            lambda: self.driver.power_off(instance),
            VmState.STOPPED,
            PowerState.SHUTDOWN,
        )

    @wrap_instance_event("compute")
    def start_instance(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        self._power(
            ctxt,
            instance,
            lambda: self.driver.power_on(instance),
            VmState.ACTIVE,
            PowerState.RUNNING,
        )

    @wrap_instance_event("compute")
    def suspend_instance(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        self._power(
            ctxt,
            instance,
            lambda: self.driver.suspend(instance),
            VmState.SUSPENDED,
            PowerState.SUSPENDED,
        )

    @wrap_instance_event("compute")
    def resume_instance(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        self._power(
            ctxt, instance, lambda: self.driver.resume(instance), VmState.ACTIVE, PowerState.RUNNING
        )

    def _power(
        self,
        ctxt: RequestContext,
        instance: dict[str, Any],
        action: Any,
        vm_state: VmState,
        power: PowerState,
    ) -> None:
        try:
            action()
        except LabCloudError as exc:
            events.failed(exc)
            self.conductor.instance_fault_create(ctxt, instance["uuid"], 500, str(exc))
            self._update(ctxt, instance["uuid"], task_state=None)
            return
        self._update(
            ctxt, instance["uuid"], vm_state=vm_state, task_state=None, power_state=int(power)
        )

    @wrap_instance_event("compute")
    def attach_volume(
        self, ctxt: RequestContext, instance: dict[str, Any], volume_id: str, device: str
    ) -> dict[str, Any]:
        instance = self.conductor.instance_get(ctxt, instance["uuid"])
        info = self.cinder.attach(ctxt, volume_id, instance["uuid"], device, self.connector())
        self.driver.attach_volume(info, instance, device)
        devices = [
            *instance["block_devices"],
            {"volume_id": volume_id, "device": device, "connection_info": info},
        ]
        self._update(ctxt, instance["uuid"], block_devices=devices)
        return {"volume_id": volume_id, "device": device}

    @wrap_instance_event("compute")
    def detach_volume(self, ctxt: RequestContext, instance: dict[str, Any], volume_id: str) -> None:
        instance = self.conductor.instance_get(ctxt, instance["uuid"])
        devices = instance["block_devices"]
        device = next((d for d in devices if d["volume_id"] == volume_id), None)
        if device is None:
            return
        self.driver.detach_volume(device["connection_info"], instance, device["device"])
        self.cinder.detach(ctxt, volume_id, self.connector())
        self._update(
            ctxt,
            instance["uuid"],
            block_devices=[d for d in devices if d["volume_id"] != volume_id],
        )

    # -- resize (resize.py): the dispatcher finds its RPC methods here, on the endpoint; the
    # work and its events (``compute_prep_resize`` ...) are the Resizer's ----------------
    def prep_resize(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        self.resizer.prep_resize(ctxt, instance)

    def resize_instance(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        self.resizer.resize_instance(ctxt, instance)

    def finish_resize(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        self.resizer.finish_resize(ctxt, instance)

    def confirm_resize(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        self.resizer.confirm_resize(ctxt, instance)

    def revert_resize(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        self.resizer.revert_resize(ctxt, instance)

    def finish_revert_resize(self, ctxt: RequestContext, instance: dict[str, Any]) -> None:
        self.resizer.finish_revert_resize(ctxt, instance)
