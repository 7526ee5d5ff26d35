"""The build of an instance on one nova-compute host: seed steps 19–28.

Glance for the image, neutron for a port, cinder for volumes, then the hypervisor driver to
spawn, and a wait for neutron's network-vif-plugged of each port an agent has yet to plug
(instance_events.py) before the instance is ACTIVE: as nova's libvirt driver does, a guest
that is waited for is created paused and resumed once the wait is over, so it boots (and
asks DHCP for its address) with its ports in their bridges. If the host cannot build it (no
room after all, or the driver fails), everything it did is undone and the build goes back to
the conductor to be rescheduled elsewhere; ports that never came up end the build in ERROR,
as nova does not reschedule that either. Every state it writes expects the instance still
building: if the conductor gave the build up meanwhile (its host seemed down, or it did not
move for the build timeout), the host undoes its work instead of bringing it back to life,
as nova's ``instance.save(expected_task_state=...)`` does.

nova keeps all of this in its ComputeManager; labcloud gives it a module of its own, a part
the manager owns (manager.py keeps the RPC method and the pool the builds run in).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from labcloud.compute.instance_events import VifWait, VirtualInterfaceCreateException
from labcloud.compute.states import PowerState, TaskState, VmState
from labcloud.context import RequestContext
from labcloud.exceptions import LabCloudError, UnexpectedVMStateError

if TYPE_CHECKING:
    from labcloud.compute.manager import ComputeManager

LOG = logging.getLogger(__name__)


class BuildAbortedError(LabCloudError):
    """A build failure that another host would not fix (bad image, network refused)."""

    msg_fmt = "Build of instance %(uuid)s aborted: %(reason)s"


class InstanceBuilder:
    """Builds instances on its manager's host. It reads the manager's collaborators (driver,
    clients, console watch ...) when it uses them, so what a lab swaps on the manager the
    build uses too; seed steps go through the manager's ``_step``."""

    def __init__(self, manager: ComputeManager) -> None:
        self.manager = manager

    def build_and_run(
        self,
        ctxt: RequestContext,
        instance: dict[str, Any],
        request_spec: dict[str, Any],
        attempt: int,
    ) -> None:
        """The build on this host; a failure is handled here (ERROR with a fault, or a
        reschedule) and nothing is raised, as nova's returns FAILED or RESCHEDULED."""
        m, uuid = self.manager, instance["uuid"]
        try:
            with m.resources.claim(ctxt, instance["flavor"]):
                self._build(ctxt, instance, request_spec)
        except UnexpectedVMStateError as exc:
            LOG.warning("build of %s on %s given up meanwhile (%s): undone", uuid, m.host, exc)
            m._cleanup(ctxt, instance)
        except BuildAbortedError as exc:
            m._cleanup(ctxt, instance)
            m.conductor.instance_fault_create(ctxt, uuid, 500, str(exc))
            m._update(ctxt, uuid, vm_state=VmState.ERROR, task_state=None)
        except LabCloudError as exc:
            LOG.warning("build of %s failed on %s: %s; rescheduling", uuid, m.host, exc)
            self._reschedule(ctxt, instance, request_spec, attempt, str(exc))
        except Exception as exc:  # nova's _build_and_run_instance: any other failure (an
            # HTTP connection reset by glance, say) is a RescheduledException, never a BUILD
            # left for the build timeout
            LOG.exception("build of %s failed on %s; rescheduling", uuid, m.host)
            self._reschedule(ctxt, instance, request_spec, attempt, f"{type(exc).__name__}: {exc}")

    def _update(self, ctxt: RequestContext, uuid: str, **updates: Any) -> dict[str, Any]:
        """A write of the build: only while the instance is still building."""
        return self.manager.conductor.instance_update(
            ctxt, uuid, expected_vm_state=VmState.BUILDING, **updates
        )

    def _reschedule(
        self,
        ctxt: RequestContext,
        instance: dict[str, Any],
        request_spec: dict[str, Any],
        attempt: int,
        reason: str,
    ) -> None:
        """Undo this host's work and hand the build back to the conductor, without this host."""
        m, uuid = self.manager, instance["uuid"]
        m._cleanup(ctxt, instance)
        self._update(
            ctxt,
            uuid,
            host=None,
            node=None,
            task_state=TaskState.SCHEDULING,
            network_info=[],
            block_devices=[],
        )
        spec = request_spec | {"ignore_hosts": [*request_spec.get("ignore_hosts", []), m.host]}
        m.conductor.build_instances(ctxt, spec, [uuid], attempt + 1, reason)

    def _build(
        self, ctxt: RequestContext, instance: dict[str, Any], request_spec: dict[str, Any]
    ) -> None:
        m, uuid = self.manager, instance["uuid"]
        m._step(19, ctxt, uuid)
        try:
            image = m.glance.show(ctxt, instance["image_ref"])
        except LabCloudError as exc:
            raise BuildAbortedError(uuid=uuid, reason=f"image: {exc}") from exc
        m._step(21, ctxt, uuid)
        self._update(ctxt, uuid, task_state=TaskState.NETWORKING)
        timeout, fatal = m.vif_plugging
        try:  # the waiters exist before any port can be plugged; the wait ends the block
            with m.instance_events.wait_for(uuid, timeout, fatal=fatal) as vifs:
                instance = self._build_and_spawn(ctxt, instance, request_spec, image, vifs)
        except VirtualInterfaceCreateException as exc:  # nova does not reschedule it either
            reason = "Failed to allocate the network(s), not rescheduling."
            raise BuildAbortedError(uuid=uuid, reason=reason) from exc  # the guest is destroyed
        if vifs.waits:  # its ports are plugged (or the wait was not fatal): the guest runs
            m.driver.unpause(instance)
        m.console.watch(instance, ctxt.request_id)  # its boot line, under step 28
        self._update(
            ctxt,
            uuid,
            vm_state=VmState.ACTIVE,
            task_state=None,
            power_state=int(PowerState.RUNNING),
            launched_at="now",
            root_device_name="/dev/vda",  # the image's disk; volumes follow from vdb
        )

    def _build_and_spawn(
        self,
        ctxt: RequestContext,
        instance: dict[str, Any],
        request_spec: dict[str, Any],
        image: dict[str, Any],
        vifs: VifWait,
    ) -> dict[str, Any]:
        """Steps 22-28: ports (each not yet ACTIVE is waited for), volumes, the spawn."""
        m, uuid = self.manager, instance["uuid"]
        m._step(22, ctxt, uuid)
        network_info = self._allocate_network(ctxt, instance, vifs)
        m._step(24, ctxt, uuid)
        self._update(
            ctxt, uuid, task_state=TaskState.BLOCK_DEVICE_MAPPING, network_info=network_info
        )
        requested = request_spec.get("block_devices", [])
        if requested:  # steps 25-27 are cinder's; a boot without volumes never asks it
            m._step(25, ctxt, uuid)
        devices = self._attach_volumes(ctxt, instance, requested)
        if requested:
            m._step(27, ctxt, uuid)
        instance = self._update(ctxt, uuid, task_state=TaskState.SPAWNING, block_devices=devices)
        m._step(28, ctxt, uuid)
        m.driver.spawn(
            instance,
            image,
            network_info,
            {"block_device_mapping": devices},
            download=lambda image_id: m.glance.download(ctxt, image_id),
            paused=vifs.waits,  # no guest code runs before its ports are plugged
        )
        return instance

    def _allocate_network(
        self, ctxt: RequestContext, instance: dict[str, Any], vifs: VifWait
    ) -> list[Any]:
        m = self.manager
        info = []
        for requested in instance["requested_networks"]:
            try:
                if requested.get("port_id"):  # the user's own port: bound, not created
                    port = m.neutron.bind_port(
                        ctxt, requested["port_id"], m.host, device_id=instance["uuid"]
                    )
                else:
                    port = m.neutron.create_port(
                        ctxt,
                        requested["uuid"],
                        instance["uuid"],
                        m.host,
                        fixed_ip=requested.get("fixed_ip"),
                    )
            except LabCloudError as exc:
                raise BuildAbortedError(uuid=instance["uuid"], reason=f"network: {exc}") from exc
            if port.get("status") != "ACTIVE":  # an agent will plug it: neutron will tell
                vifs.expect(port["id"])
            info.append(
                {
                    "port_id": port["id"],
                    "network_id": port["network_id"],
                    "mac_address": port["mac_address"],
                    "fixed_ips": port["fixed_ips"],
                }
            )
        return info

    def _attach_volumes(
        self, ctxt: RequestContext, instance: dict[str, Any], requested: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        m = self.manager
        devices = []
        for i, bdm in enumerate(requested):
            device = bdm.get("device_name") or f"/dev/vd{chr(ord('b') + i)}"
            info = m.cinder.attach(ctxt, bdm["uuid"], instance["uuid"], device, m.connector())
            devices.append({"volume_id": bdm["uuid"], "device": device, "connection_info": info})
        return devices
