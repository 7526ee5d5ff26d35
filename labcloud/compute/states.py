"""nova's instance states, with the exact strings and codes nova uses.

An instance has a vm_state (where it is), a task_state (what is being done to it, or None)
and a power_state (what the hypervisor says, an integer). The API's ``status`` is derived
from the first two exactly as nova's ``_STATE_MAP`` does.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class VmState(StrEnum):
    ACTIVE = "active"
    BUILDING = "building"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    STOPPED = "stopped"
    RESIZED = "resized"
    SOFT_DELETED = "soft-delete"
    DELETED = "deleted"
    ERROR = "error"


class TaskState(StrEnum):
    SCHEDULING = "scheduling"
    BLOCK_DEVICE_MAPPING = "block_device_mapping"
    NETWORKING = "networking"
    SPAWNING = "spawning"
    REBOOTING = "rebooting"
    REBOOTING_HARD = "rebooting_hard"
    POWERING_OFF = "powering-off"
    POWERING_ON = "powering-on"
    SUSPENDING = "suspending"
    RESUMING = "resuming"
    RESIZE_PREP = "resize_prep"
    RESIZE_MIGRATING = "resize_migrating"
    RESIZE_MIGRATED = "resize_migrated"
    RESIZE_FINISH = "resize_finish"
    RESIZE_REVERTING = "resize_reverting"
    RESIZE_CONFIRMING = "resize_confirming"
    DELETING = "deleting"


class PowerState(IntEnum):
    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7

    @property
    def label(self) -> str:
        """How the dashboard writes it: ``Running``, ``Shutdown``, ``NOSTATE`` ..."""
        return "NOSTATE" if self is PowerState.NOSTATE else self.name.title()


_DEFAULT = "default"
# nova/api/openstack/common.py's _STATE_MAP: vm_state -> {task_state or default -> status}
_STATUS: dict[str, dict[str | None, str]] = {
    VmState.ACTIVE: {
        _DEFAULT: "ACTIVE",
        TaskState.REBOOTING: "REBOOT",
        TaskState.REBOOTING_HARD: "HARD_REBOOT",
        TaskState.RESIZE_PREP: "RESIZE",
        TaskState.RESIZE_MIGRATING: "RESIZE",
        TaskState.RESIZE_MIGRATED: "RESIZE",
        TaskState.RESIZE_FINISH: "RESIZE",
    },
    VmState.BUILDING: {_DEFAULT: "BUILD"},
    VmState.STOPPED: {_DEFAULT: "SHUTOFF", TaskState.RESIZE_PREP: "RESIZE"},
    VmState.RESIZED: {_DEFAULT: "VERIFY_RESIZE", TaskState.RESIZE_REVERTING: "REVERT_RESIZE"},
    VmState.PAUSED: {_DEFAULT: "PAUSED"},
    VmState.SUSPENDED: {_DEFAULT: "SUSPENDED"},
    VmState.ERROR: {_DEFAULT: "ERROR"},
    VmState.DELETED: {_DEFAULT: "DELETED"},
    VmState.SOFT_DELETED: {_DEFAULT: "SOFT_DELETED"},
}


def status(vm_state: str, task_state: str | None) -> str:
    """The API status of an instance, e.g. ``status("building", "scheduling") == "BUILD"``.

    >>> status("active", None), status("active", "rebooting"), status("stopped", None)
    ('ACTIVE', 'REBOOT', 'SHUTOFF')
    """
    by_task = _STATUS.get(vm_state, {_DEFAULT: "UNKNOWN"})
    if task_state == TaskState.DELETING:
        return by_task.get(_DEFAULT, "UNKNOWN")
    return by_task.get(task_state, by_task[_DEFAULT])
