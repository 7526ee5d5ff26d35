"""What nova-api does for a request on one server (nova's compute/api.py ``API``): check the
instance is not locked and is in a state that allows it, record the action, set the task
state, and cast to the instance's compute host (or to the conductor, for a resize). Deleting
is one of them; an instance whose host is gone is deleted by nova-api itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from labcloud.compute import locks_tags
from labcloud.compute.clients import connector, release_ports
from labcloud.compute.locks_tags import check_instance_lock
from labcloud.compute.states import TaskState, VmState
from labcloud.context import RequestContext
from labcloud.exceptions import Conflict, Invalid, LabCloudError, NotFound

if TYPE_CHECKING:
    from labcloud.compute.frontend import ComputeFrontend

LOG = logging.getLogger(__name__)


class InstanceInvalidState(Conflict):
    msg_fmt = "Cannot '%(action)s' instance %(uuid)s while it is in %(attr)s %(state)s"


# action -> (allowed vm_states, task_state while it runs, compute method)
ACTIONS: dict[str, tuple[tuple[VmState, ...], TaskState, str]] = {
    "stop": ((VmState.ACTIVE,), TaskState.POWERING_OFF, "stop_instance"),
    "start": ((VmState.STOPPED,), TaskState.POWERING_ON, "start_instance"),
    "suspend": ((VmState.ACTIVE,), TaskState.SUSPENDING, "suspend_instance"),
    "resume": ((VmState.SUSPENDED,), TaskState.RESUMING, "resume_instance"),
}


def action(front: ComputeFrontend, ctxt: RequestContext, uuid: str, action: str) -> None:
    inst = front.get(ctxt, uuid)
    allowed, task, method = ACTIONS[action]
    check_state(ctxt, inst, action, allowed)
    front.instances.start_action(ctxt, uuid, action)
    inst = front.instances.update(uuid, {"task_state": task})
    front.compute.power_action(ctxt, inst["host"], inst, method)


def lock(front: ComputeFrontend, ctxt: RequestContext, uuid: str, *, locked: bool) -> None:
    """nova's ``lock`` / ``unlock`` actions (locks_tags.py)."""
    inst = front.get(ctxt, uuid)
    (locks_tags.lock if locked else locks_tags.unlock)(front.instances, ctxt, inst)


def console_output(
    front: ComputeFrontend, ctxt: RequestContext, uuid: str, length: int | None
) -> str:
    """nova's os-getConsoleOutput: asked of the nova-compute that runs the instance."""
    inst = front.get(ctxt, uuid)
    if not inst["host"]:
        raise Conflict(f"Instance {uuid} is not ready: it has no host yet.")
    return front.compute.get_console_output(ctxt, inst["host"], inst, length)


def reboot(front: ComputeFrontend, ctxt: RequestContext, uuid: str, reboot_type: str) -> None:
    inst = front.get(ctxt, uuid)
    check_state(ctxt, inst, "reboot", (VmState.ACTIVE, VmState.STOPPED))
    front.instances.start_action(ctxt, uuid, "reboot")
    task = TaskState.REBOOTING_HARD if reboot_type == "HARD" else TaskState.REBOOTING
    inst = front.instances.update(uuid, {"task_state": task})
    front.compute.reboot_instance(ctxt, inst["host"], inst, reboot_type)


def resize(front: ComputeFrontend, ctxt: RequestContext, uuid: str, flavor_ref: str) -> None:
    inst = front.get(ctxt, uuid)
    check_state(ctxt, inst, "resize", (VmState.ACTIVE, VmState.STOPPED))
    try:
        flavor = front.flavor(flavor_ref)
    except NotFound:
        raise Invalid(f"Unable to find flavor {flavor_ref}.") from None
    if flavor["id"] == inst["flavor"]["id"]:
        raise Invalid("When resizing, instances must change flavor!")
    front.instances.start_action(ctxt, uuid, "resize")
    front.instances.update(uuid, {"task_state": TaskState.RESIZE_PREP})
    front.conductor.migrate_server(ctxt, uuid, flavor)


def confirm_resize(front: ComputeFrontend, ctxt: RequestContext, uuid: str) -> None:
    inst = front.get(ctxt, uuid)
    check_state(ctxt, inst, "confirmResize", (VmState.RESIZED,))
    front.instances.start_action(ctxt, uuid, "confirmResize")
    front.compute.confirm_resize(ctxt, inst["migration"]["source_compute"], inst)


def revert_resize(front: ComputeFrontend, ctxt: RequestContext, uuid: str) -> None:
    inst = front.get(ctxt, uuid)
    check_state(ctxt, inst, "revertResize", (VmState.RESIZED,))
    front.instances.start_action(ctxt, uuid, "revertResize")
    inst = front.instances.update(uuid, {"task_state": TaskState.RESIZE_REVERTING})
    front.compute.revert_resize(ctxt, inst["migration"]["dest_compute"], inst)


def attach_volume(
    front: ComputeFrontend, ctxt: RequestContext, uuid: str, volume_id: str, device: str | None
) -> dict[str, Any]:
    inst = front.get(ctxt, uuid)
    check_state(ctxt, inst, "attach_volume", (VmState.ACTIVE, VmState.STOPPED))
    front.volume(ctxt, volume_id)
    device = device or f"/dev/vd{chr(ord('b') + len(inst['block_devices']))}"
    front.instances.start_action(ctxt, uuid, "attach_volume")
    return front.compute.attach_volume(ctxt, inst["host"], inst, volume_id, device)


def detach_volume(front: ComputeFrontend, ctxt: RequestContext, uuid: str, volume_id: str) -> None:
    inst = front.get(ctxt, uuid)
    check_instance_lock(ctxt, inst)
    if volume_id not in {d["volume_id"] for d in inst["block_devices"]}:
        raise NotFound(f"Volume {volume_id} is not attached to instance {uuid}.")
    front.instances.start_action(ctxt, uuid, "detach_volume")
    front.compute.detach_volume(ctxt, inst["host"], inst, volume_id)


def delete(front: ComputeFrontend, ctxt: RequestContext, uuid: str) -> None:
    inst = front.get(ctxt, uuid)
    check_instance_lock(ctxt, inst)
    if not inst["host"] or not front.hosts.host_is_up(inst["host"]):
        # never reached a host, or its nova-compute is down and would never answer:
        # nova-api deletes it itself (nova's "local delete")
        _local_delete(front, ctxt, inst)
        return
    front.instances.start_action(ctxt, uuid, "delete")
    inst = front.instances.update(uuid, {"task_state": TaskState.DELETING})
    if inst["vm_state"] == VmState.RESIZED and inst["migration"]:  # as nova: confirm first
        front.compute.confirm_resize(ctxt, inst["migration"]["source_compute"], inst, cast=False)
    front.compute.terminate_instance(ctxt, inst["host"], inst)


def _local_delete(front: ComputeFrontend, ctxt: RequestContext, inst: dict[str, Any]) -> None:
    """Give back what the instance holds elsewhere (ports and their addresses, volumes),
    then mark it deleted. The host's hypervisor, if it comes back, still has the domain;
    nova cleans that up at the host's start, labcloud's fake driver keeps nothing."""
    uuid = inst["uuid"]
    release_ports(front.neutron, ctxt, inst)
    for device in inst.get("block_devices") or []:
        try:
            front.cinder.detach(ctxt, device["volume_id"], connector(inst["host"] or ""))
        except LabCloudError:
            LOG.warning("detach of %s failed", device["volume_id"], exc_info=True)
    front.instances.update(uuid, {"vm_state": VmState.DELETED, "task_state": None, "deleted": True})


def check_state(
    ctxt: RequestContext, inst: dict[str, Any], action: str, allowed: tuple[VmState, ...]
) -> None:
    """The instance is not locked and is in a state that allows ``action`` (nova's
    ``check_instance_lock`` and ``check_instance_state``)."""
    check_instance_lock(ctxt, inst)
    if inst["vm_state"] not in allowed:
        raise InstanceInvalidState(
            action=action, uuid=inst["uuid"], attr="vm_state", state=inst["vm_state"]
        )
    if inst["task_state"] is not None:
        raise InstanceInvalidState(
            action=action, uuid=inst["uuid"], attr="task_state", state=inst["task_state"]
        )
