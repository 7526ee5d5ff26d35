"""Two small things nova keeps on a server: its lock (2.9 shows ``locked``) and its tags
(2.26). nova's ``lock_server.py`` and ``server_tags.py``, over labcloud's instance rows.

A locked server refuses what would change it (delete, reboot, stop, resize, volumes,
metadata) to everyone but admins, as nova's ``check_instance_lock`` does; renaming it is
allowed. The owner's lock is ``owner``'s, an admin's lock on another project's server is
``admin``'s, and only an admin lifts that one (``unlock:unlock_override``).
"""

from __future__ import annotations

from typing import Any

from labcloud.compute.instances import Instances
from labcloud.context import RequestContext
from labcloud.exceptions import Conflict, Invalid, NotFound
from labcloud.policy import authorize

MAX_TAGS = 50  # nova's instance.MAX_TAG_COUNT
MAX_TAG_LENGTH = 60


class InstanceIsLocked(Conflict):
    msg_fmt = "Instance %(instance_uuid)s is locked"


def check_instance_lock(ctxt: RequestContext, inst: dict[str, Any]) -> None:
    if inst["locked_by"] is not None and not ctxt.is_admin:
        raise InstanceIsLocked(instance_uuid=inst["uuid"])


def _locker(ctxt: RequestContext, inst: dict[str, Any]) -> str:
    return "owner" if ctxt.project_id == inst["project_id"] else "admin"


def lock(instances: Instances, ctxt: RequestContext, inst: dict[str, Any]) -> None:
    """nova's ``lock``: a second lock changes nothing."""
    if inst["locked_by"] is None:
        instances.update(inst["uuid"], {"locked_by": _locker(ctxt, inst)})


def unlock(instances: Instances, ctxt: RequestContext, inst: dict[str, Any]) -> None:
    if inst["locked_by"] is not None and inst["locked_by"] != _locker(ctxt, inst):
        authorize(ctxt, "os_compute_api:os-lock-server:unlock:unlock_override")
    instances.update(inst["uuid"], {"locked_by": None})


def check_tag(tag: str) -> str:
    """nova's tag schema: 1 to 60 characters, neither ``/`` nor ``,``."""
    if not 1 <= len(tag) <= MAX_TAG_LENGTH or "/" in tag or "," in tag:
        raise Invalid(
            f"Invalid input for field/attribute tags. Value: {tag[:64]!r}. A tag is 1 to "
            f"{MAX_TAG_LENGTH} characters, without '/' or ','"
        )
    return tag


def set_tags(instances: Instances, inst: dict[str, Any], tags: list[str]) -> list[str]:
    """Replace the server's tags (nova keeps each once, in the order first given)."""
    unique = list(dict.fromkeys(check_tag(t) for t in tags))
    if len(unique) > MAX_TAGS:
        raise Invalid(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    return list(instances.update(inst["uuid"], {"tags": unique})["tags"])


def add_tag(instances: Instances, inst: dict[str, Any], tag: str) -> bool:
    """Add one tag; False if the server had it already (nova answers 204, not 201)."""
    if tag in inst["tags"]:
        return False
    set_tags(instances, inst, [*inst["tags"], tag])
    return True


def delete_tag(instances: Instances, inst: dict[str, Any], tag: str) -> None:
    if tag not in inst["tags"]:
        raise NotFound(f"Tag {tag[:64]!r} could not be found.")
    set_tags(instances, inst, [t for t in inst["tags"] if t != tag])
