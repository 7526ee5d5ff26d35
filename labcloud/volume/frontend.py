"""What cinder-api does for a volume request, behind its REST routes (cinder's
volume/api.py ``API``): check the request against the database and glance, write the row,
cast to cinder-scheduler or the volume's cinder-volume; the attach actions nova drives.

A volume is made blank, from an image (cinder-volume copies glance's data into it; it is
then bootable) or from a snapshot. labcloud has no volume types, no clones
(``source_volid``) and one availability zone, ``nova``, as cinder's default.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select

from labcloud import policy
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import Invalid, NotFound
from labcloud.volume.clients import GlanceClient
from labcloud.volume.manager import SnapshotNotFound, VolumeNotFound, now, set_status
from labcloud.volume.models import Snapshot, Volume
from labcloud.volume.quotas import DEFAULT_QUOTAS, VolumeQuotas
from labcloud.volume.rpcapi import SchedulerAPI, VolumeAPI
from labcloud.volume.schemas import AttachArgs, ConnectionArgs, VolumeCreate, VolumeUpdate

GiB = 1 << 30
AVAILABILITY_ZONE = "nova"  # cinder's storage_availability_zone default
# action -> (statuses it may start from, the status it leaves)
TRANSITIONS = {
    "os-reserve": (("available",), "attaching"),
    "os-unreserve": (("attaching",), "available"),
    "os-attach": (("attaching", "available"), "in-use"),
    "os-begin_detaching": (("in-use",), "detaching"),
    "os-roll_detaching": (("detaching",), "in-use"),
    "os-detach": (("detaching", "in-use"), "available"),
}
BUSY = ("in-use", "attaching", "detaching", "creating", "downloading")


class InvalidVolume(Invalid):
    msg_fmt = "Invalid volume: %(reason)s"


class VolumeFrontend:
    def __init__(
        self,
        db: Database,
        scheduler: SchedulerAPI,
        volumes: VolumeAPI,
        glance: GlanceClient | None = None,
    ) -> None:
        self.db = db
        self.scheduler = scheduler
        self.volumes = volumes
        self.glance = glance
        # the default quotas (cinder's quota_* options); change them to teach a quota hit
        self.quotas = dict(DEFAULT_QUOTAS)

    @property
    def quota(self) -> VolumeQuotas:
        """Per-project limits and usage over the current defaults (``self.quotas``)."""
        return VolumeQuotas(self.db, self.quotas)

    def get(self, ctxt: RequestContext, volume_id: str) -> Volume:
        """Another project's volume is not found (cinder's 404), unless the caller is admin."""
        with self.db.reader() as s:
            vol = s.get(Volume, volume_id)
        if vol is None or not policy.authorize(
            ctxt, "owner", {"project_id": vol.project_id}, fatal=False
        ):
            raise VolumeNotFound(volume_id=volume_id)
        return vol

    def list(self, ctxt: RequestContext, all_tenants: bool = False) -> list[Volume]:
        """The project's volumes; an admin's ``all_tenants`` lists every project's."""
        query = select(Volume).order_by(Volume.created_at, Volume.id)
        if not (all_tenants and ctxt.is_admin):
            query = query.where(Volume.project_id == ctxt.project_id)
        with self.db.reader() as s:
            return list(s.scalars(query))

    def create(self, ctxt: RequestContext, spec: VolumeCreate) -> Volume:
        sources = [k for k in ("imageRef", "snapshot_id", "source_volid") if getattr(spec, k)]
        if len(sources) > 1:
            raise Invalid(f"Specify only one source of {' and '.join(sources)}.")
        if spec.source_volid:
            raise Invalid("labcloud cannot clone volumes (source_volid): use a snapshot.")
        if spec.availability_zone not in (None, AVAILABILITY_ZONE):
            raise Invalid(f"Availability zone '{spec.availability_zone}' is invalid.")
        if spec.volume_type not in (None, "__DEFAULT__"):
            raise NotFound(f"Volume type {spec.volume_type} could not be found.")
        cast: dict[str, Any] = {}
        snapshot = self._snapshot(ctxt, spec.snapshot_id) if spec.snapshot_id else None
        size = spec.size if isinstance(spec.size, int) else (snapshot.size if snapshot else None)
        if size is None:
            raise Invalid("Volume size must be specified (an integer of GB).")
        image_meta: dict[str, str] = {}
        if spec.imageRef:
            image_meta = self._image(ctxt, spec.imageRef, size)
            cast = {"image_id": image_meta["image_id"], "disk_format": image_meta["disk_format"]}
        if snapshot is not None:
            if size < snapshot.size:
                raise Invalid(
                    f"Volume size '{size}'GB cannot be smaller than the snapshot "
                    f"size {snapshot.size}GB. They must be >= original snapshot size."
                )
            source = self.get(ctxt, snapshot.volume_id)
            cast = {"snapshot_id": snapshot.id, "host": source.host}
        self.quota.check(ctxt.project_id or "", "volumes", size)
        vol = Volume(
            id=str(uuid.uuid4()),
            name=spec.name or "",
            description=spec.description or "",
            size=size,
            project_id=ctxt.project_id or "",
            user_id=ctxt.user_id or "",
            availability_zone=AVAILABILITY_ZONE,
            attachments=[],
            snapshot_id=spec.snapshot_id,
            image_metadata=image_meta,
            volume_metadata=dict(spec.metadata or {}),
            created_at=now(),
            updated_at=now(),
        )
        with self.db.session() as s:
            s.add(vol)
        self.scheduler.create_volume(ctxt, {"id": vol.id, "size": size} | cast)
        return vol

    def _snapshot(self, ctxt: RequestContext, snapshot_id: str) -> Snapshot:
        with self.db.reader() as s:
            snap = s.get(Snapshot, snapshot_id)
        if snap is None or not policy.authorize(
            ctxt, "owner", {"project_id": snap.project_id}, fatal=False
        ):
            raise SnapshotNotFound(snapshot_id=snapshot_id)
        if snap.status != "available":
            raise Invalid(
                f"Originating snapshot status must be one of 'available' values, not {snap.status}."
            )
        return snap

    def _image(self, ctxt: RequestContext, image_ref: str, size: int) -> dict[str, str]:
        """cinder-api's checks of an image against a volume of ``size`` GB."""
        if self.glance is None:
            raise Invalid("This cinder has no image service to create volumes from.")
        image = self.glance.show(ctxt, image_ref)
        if image.get("status") != "active":
            raise Invalid(f"Image {image_ref} is not active.")
        image_gb = math.ceil((image.get("size") or 0) / GiB)
        if image_gb > size:
            raise Invalid(
                f"Size of specified image {image_gb}GB is larger than volume size {size}GB."
            )
        if (image.get("min_disk") or 0) > size:
            raise Invalid(
                f"Volume size {size}GB cannot be smaller than the image minDisk size "
                f"{image['min_disk']}GB."
            )
        keys = (
            "name",
            "disk_format",
            "container_format",
            "checksum",
            "size",
            "min_disk",
            "min_ram",
        )
        return {"image_id": str(image["id"])} | {
            ("image_name" if k == "name" else k): str(image.get(k)) for k in keys
        }

    def update(self, ctxt: RequestContext, volume_id: str, changes: VolumeUpdate) -> Volume:
        self.get(ctxt, volume_id)
        values: dict[str, Any] = changes.model_dump(exclude_unset=True, exclude_none=True)
        if "metadata" in values:
            values["volume_metadata"] = values.pop("metadata")
        set_status(self.db, volume_id, **values)
        return self.get(ctxt, volume_id)

    def delete(self, ctxt: RequestContext, volume_id: str) -> None:
        vol = self.get(ctxt, volume_id)
        if vol.status in BUSY:
            raise InvalidVolume(
                reason=f"Volume status must be available or error, "
                f"but current status is: {vol.status}."
            )
        with self.db.reader() as s:
            count = s.scalar(select(func.count()).where(Snapshot.volume_id == volume_id)) or 0
        if count:
            raise InvalidVolume(reason=f"Volume still has {count} dependent snapshots.")
        if vol.host is None:  # never reached a backend: nothing to remove there
            with self.db.session() as s:
                row = s.get(Volume, volume_id)
                if row is not None:
                    s.delete(row)
            return
        set_status(self.db, volume_id, status="deleting")
        self.volumes.delete_volume(ctxt, vol.host, volume_id)

    def action(self, ctxt: RequestContext, volume_id: str, name: str, args: Any) -> Any:
        """One of the attach/detach actions nova drives (``{"os-reserve": {}}``...)."""
        vol = self.get(ctxt, volume_id)
        if name not in (*TRANSITIONS, "os-initialize_connection", "os-terminate_connection"):
            raise Invalid(f"There is no such action: {name[:64]}")
        try:
            if name in ("os-initialize_connection", "os-terminate_connection"):
                connector = ConnectionArgs.model_validate(args or {}).connector.model_dump()
                return self._connection(ctxt, vol, name, connector)
            attach = AttachArgs.model_validate(args or {})
        except ValidationError as exc:
            raise Invalid(f"Invalid input for {name}: {exc.errors()[0]['msg']}") from None
        allowed, after = TRANSITIONS[name]
        if vol.status not in allowed:
            raise InvalidVolume(
                reason=f"{name} needs status {' or '.join(allowed)}, not {vol.status}."
            )
        set_status(self.db, volume_id, status=after, **_attach_fields(vol, name, attach))
        return None

    def _connection(
        self, ctxt: RequestContext, vol: Volume, name: str, connector: dict[str, Any]
    ) -> dict[str, Any] | None:
        if name == "os-terminate_connection":
            if vol.host is not None:
                self.volumes.terminate_connection(ctxt, vol.host, vol.id, connector)
            return None
        if vol.host is None or vol.status not in ("attaching", "in-use", "available"):
            raise InvalidVolume(reason=f"volume {vol.id} is {vol.status}.")
        info = self.volumes.initialize_connection(ctxt, vol.host, vol.id, connector)
        return {"connection_info": info}


def _attach_fields(vol: Volume, name: str, args: AttachArgs) -> dict[str, Any]:
    if name == "os-attach":
        attachment = {
            "server_id": args.instance_uuid,
            "attachment_id": str(uuid.uuid4()),
            "device": args.mountpoint,
            "volume_id": vol.id,
            "host_name": args.host_name,
            "id": vol.id,
        }
        return {"attach_status": "attached", "attachments": [attachment]}
    if name == "os-detach":
        return {"attach_status": "detached", "attachments": []}
    return {}
