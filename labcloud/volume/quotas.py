"""cinder's quotas: per-project limits (``os-quota-sets``), what a project uses (``limits``)
and the check before a volume or a snapshot is made. -1 is unlimited, as in cinder.

cinder counts volumes, snapshots and gigabytes (the volumes' and the snapshots' sizes
together); a row of the ``quotas`` table overrides one resource for one project. labcloud
has no backups, groups or volume types but shows their quotas as cinder does (the
``___DEFAULT__`` ones are the default volume type's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from labcloud.db import Database
from labcloud.exceptions import LabCloudError
from labcloud.quotas import QuotaTable, exceeds, with_usage
from labcloud.volume.models import Quota, Snapshot, Volume

# cinder's [DEFAULT] quota_volumes, quota_snapshots, quota_gigabytes
CINDER_QUOTAS = {"volumes": 10, "snapshots": 10, "gigabytes": 1000}
# labcloud starts unlimited as its nova does (labs and benchmarks fill the cloud on purpose);
# a lab that teaches quotas sets frontend.quotas or an admin's os-quota-sets
DEFAULT_QUOTAS = {"volumes": -1, "snapshots": -1, "gigabytes": -1}
SHOWN_ONLY = {
    "backups": 10,
    "backup_gigabytes": 1000,
    "groups": 10,
    "per_volume_gigabytes": -1,
    "volumes___DEFAULT__": -1,
    "gigabytes___DEFAULT__": -1,
    "snapshots___DEFAULT__": -1,
}


class OverLimit(LabCloudError):
    """cinder's QuotaError: 413, answered as ``{"overLimit": {...}}``."""

    code = 413


class VolumeLimitExceeded(OverLimit):
    msg_fmt = "Maximum number of volumes allowed (%(allowed)d) exceeded for quota '%(name)s'."


class SnapshotLimitExceeded(OverLimit):
    msg_fmt = "Maximum number of snapshots allowed (%(allowed)d) exceeded"


class VolumeSizeExceedsAvailableQuota(OverLimit):
    msg_fmt = (
        "Requested volume or snapshot exceeds allowed %(name)s quota. Requested "
        "%(requested)sG, quota is %(quota)sG and %(consumed)sG has been consumed."
    )


class VolumeQuotas:
    def __init__(self, db: Database, defaults: Mapping[str, int]) -> None:
        self.db = db
        self.defaults = defaults
        self.table = QuotaTable(db, Quota)

    def limits(self, project_id: str) -> dict[str, int]:
        """The project's limit on each resource: its own where set, else the default."""
        return self.table.limits(project_id, SHOWN_ONLY | dict(self.defaults))

    def update(self, project_id: str, values: Mapping[str, int]) -> None:
        self.table.update(project_id, values)

    def usage(self, project_id: str) -> dict[str, int]:
        with self.db.reader() as s:
            volumes, volume_gb = s.execute(
                select(func.count(), func.coalesce(func.sum(Volume.size), 0)).where(
                    Volume.project_id == project_id
                )
            ).one()
            snapshots, snapshot_gb = s.execute(
                select(func.count(), func.coalesce(func.sum(Snapshot.size), 0)).where(
                    Snapshot.project_id == project_id
                )
            ).one()
        return {
            "volumes": int(volumes),
            "snapshots": int(snapshots),
            "gigabytes": int(volume_gb) + int(snapshot_gb),
        }

    def check(self, project_id: str, kind: str, size: int) -> None:
        """One more volume or snapshot (``kind``) of ``size`` GB, against the project's
        quotas: 413 as cinder's QuotaReserveTask answers."""
        limits = self.limits(project_id)
        if limits[kind] < 0 and limits["gigabytes"] < 0:
            return
        used = self.usage(project_id)
        if exceeds(limits["gigabytes"], used["gigabytes"], size):
            raise VolumeSizeExceedsAvailableQuota(
                name="gigabytes",
                requested=size,
                quota=limits["gigabytes"],
                consumed=used["gigabytes"],
            )
        if exceeds(limits[kind], used[kind], 1):
            error = VolumeLimitExceeded if kind == "volumes" else SnapshotLimitExceeded
            raise error(allowed=limits[kind], name=kind)

    def quota_set(self, project_id: str, usage: bool = False) -> dict[str, Any]:
        """``os-quota-sets`` show: each limit, or with ``usage`` each limit, what is in use
        and what is reserved (labcloud reserves nothing: it counts rows)."""
        limits = self.limits(project_id)
        if not usage:
            return {"id": project_id} | limits
        return {"id": project_id} | with_usage(limits, self.usage(project_id))

    def absolute(self, project_id: str) -> dict[str, int]:
        """cinder's ``GET /limits`` absolute section."""
        limits, used = self.limits(project_id), self.usage(project_id)
        return {
            "maxTotalVolumes": limits["volumes"],
            "maxTotalSnapshots": limits["snapshots"],
            "maxTotalVolumeGigabytes": limits["gigabytes"],
            "maxTotalBackups": limits["backups"],
            "maxTotalBackupGigabytes": limits["backup_gigabytes"],
            "totalVolumesUsed": used["volumes"],
            "totalSnapshotsUsed": used["snapshots"],
            "totalGigabytesUsed": used["gigabytes"],
            "totalBackupsUsed": 0,
            "totalBackupGigabytesUsed": 0,
        }
