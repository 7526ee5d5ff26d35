"""nova's quotas: per-project limits (os-quota-sets), what a project uses (limits), and the
check before a build. -1 is unlimited, as in nova.

The defaults are nova-api's (``ComputeFrontend.quotas``, nova's ``[quota]`` options); a row of
the ``quotas`` table overrides one resource for one project, as nova's ``quotas`` table does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from labcloud.compute.instances import TABLE, Instances
from labcloud.compute.models import KeyPair, Quota
from labcloud.exceptions import Forbidden
from labcloud.quotas import QuotaTable, exceeds, with_usage

# resources labcloud counts besides instances, cores and ram, with nova's defaults
OTHER_DEFAULTS = {"key_pairs": 100, "metadata_items": 128}
# resources nova-api 2.1 still shows but labcloud does not keep (neutron and others own them)
SHOWN_ONLY = {
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
    "server_groups": 10,
    "server_group_members": 10,
    "fixed_ips": -1,
    "floating_ips": -1,
    "security_groups": -1,
    "security_group_rules": -1,
}


# 2.36 took the network quotas out of os-quota-sets and /limits (neutron keeps them)
NETWORK_QUOTAS = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")
NETWORK_LIMITS = (
    "maxTotalFloatingIps",
    "maxSecurityGroups",
    "maxSecurityGroupRules",
    "totalFloatingIpsUsed",
    "totalSecurityGroupsUsed",
)
Version = tuple[int, int]


class QuotaExceeded(Forbidden):
    msg_fmt = (
        "Quota exceeded for %(resource)s: Requested %(requested)s, but already used "
        "%(used)s of %(allowed)s %(resource)s"
    )


class Quotas:
    def __init__(self, instances: Instances, defaults: Mapping[str, int]) -> None:
        self.instances = instances
        self.db = instances.db
        self.defaults = defaults
        self.table = QuotaTable(self.db, Quota)

    def limits(self, project_id: str) -> dict[str, int]:
        """The project's limit on each resource: its own where set, else the default."""
        others = {k: v for k, v in OTHER_DEFAULTS.items() if k not in self.defaults}
        return self.table.limits(project_id, dict(self.defaults) | others)

    def update(self, project_id: str, values: Mapping[str, int]) -> dict[str, int]:
        self.table.update(project_id, values)
        return self.limits(project_id)

    def usage(self, project_id: str, user_id: str | None = None) -> dict[str, int]:
        """Instances, vCPUs and RAM the project's instances hold (ERROR ones count, as in
        nova), counted by the database in one query (nova's count_usage); with
        ``user_id``, the user's key pairs."""
        flavor = TABLE.c.flavor
        query = select(
            func.count(),
            func.coalesce(func.sum(flavor["vcpus"].as_integer()), 0),
            func.coalesce(func.sum(flavor["memory_mb"].as_integer()), 0),
        ).where(TABLE.c.deleted.is_(False), TABLE.c.project_id == project_id)
        with self.db.reader() as s:
            instances, cores, ram = s.execute(query).one()
            used = {"instances": int(instances), "cores": int(cores), "ram": int(ram)}
            if user_id is not None:
                used["key_pairs"] = (
                    s.scalar(select(func.count()).where(KeyPair.user_id == user_id)) or 0
                )
        return used

    def check(
        self,
        project_id: str,
        flavor: Mapping[str, Any],
        count: int,
        limits: Mapping[str, int] | None = None,
    ) -> None:
        """Instances, vCPUs and RAM the project would use, against its quotas (403); with
        ``count`` 0, whether what it uses now is within them (nova's recheck). ``limits``:
        the project's, when the caller has just read them."""
        limits = self.limits(project_id) if limits is None else limits
        if all(limits[r] < 0 for r in ("instances", "cores", "ram")):
            return  # unlimited (labcloud's default): nothing to count
        used = self.usage(project_id)
        wanted = {
            "instances": count,
            "cores": int(flavor["vcpus"]) * count,
            "ram": int(flavor["memory_mb"]) * count,
        }
        for resource, amount in wanted.items():
            allowed = limits[resource]
            if exceeds(allowed, used[resource], amount):
                raise QuotaExceeded(
                    resource=resource, requested=amount, used=used[resource], allowed=allowed
                )

    def quota_set(self, project_id: str, version: Version = (2, 1)) -> dict[str, Any]:
        shown = {"id": project_id} | SHOWN_ONLY | self.limits(project_id)
        return _without(shown, NETWORK_QUOTAS if version >= (2, 36) else ())

    def detail(self, project_id: str, version: Version = (2, 1)) -> dict[str, Any]:
        """nova's ``os-quota-sets/{id}/detail``: each resource's limit, use and reservation.
        nova counts usage since Pike and reserves nothing any more, so ``reserved`` is 0;
        key pairs are a user's, and nova shows 0 in use for a project."""
        shown = self.quota_set(project_id, version)
        del shown["id"]
        return {"id": project_id} | with_usage(shown, self.usage(project_id))

    def absolute(self, project_id: str, user_id: str, version: Version = (2, 1)) -> dict[str, int]:
        """nova's ``GET /limits`` absolute section (2.1 names; 2.36 drops the network ones)."""
        limits, used = self.limits(project_id), self.usage(project_id, user_id)
        shown = {
            "maxTotalInstances": limits["instances"],
            "maxTotalCores": limits["cores"],
            "maxTotalRAMSize": limits["ram"],
            "maxTotalKeypairs": limits["key_pairs"],
            "maxServerMeta": limits["metadata_items"],
            "maxImageMeta": limits["metadata_items"],
            "maxPersonality": SHOWN_ONLY["injected_files"],
            "maxPersonalitySize": SHOWN_ONLY["injected_file_content_bytes"],
            "maxServerGroups": SHOWN_ONLY["server_groups"],
            "maxServerGroupMembers": SHOWN_ONLY["server_group_members"],
            "maxTotalFloatingIps": SHOWN_ONLY["floating_ips"],
            "maxSecurityGroups": SHOWN_ONLY["security_groups"],
            "maxSecurityGroupRules": SHOWN_ONLY["security_group_rules"],
            "totalInstancesUsed": used["instances"],
            "totalCoresUsed": used["cores"],
            "totalRAMUsed": used["ram"],
            "totalServerGroupsUsed": 0,
            "totalFloatingIpsUsed": 0,
            "totalSecurityGroupsUsed": 0,
        }
        return _without(shown, NETWORK_LIMITS if version >= (2, 36) else ())


def _without(shown: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in shown.items() if k not in names}
