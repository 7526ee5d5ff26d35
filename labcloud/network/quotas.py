"""neutron's quotas: per-project limits on each kind of resource (``/v2.0/quotas``), what a
project uses, and the check neutron-server makes before it creates (409 OverQuota).

A row of the ``quotas`` table overrides one resource for one project, as neutron's does;
usage is counted from the resources' rows (neutron's counted resources, no reservations).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute

from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import Conflict
from labcloud.network import models
from labcloud.quotas import QuotaTable, exceeds

# neutron's [quotas] defaults
NEUTRON_QUOTAS = {
    "network": 100,
    "subnet": 100,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
}
# labcloud starts unlimited as its nova does (labs and benchmarks fill the cloud on purpose);
# a lab that teaches quotas sets plugin.quotas.defaults or an admin's PUT /v2.0/quotas
DEFAULT_QUOTAS = dict.fromkeys(NEUTRON_QUOTAS, -1)
SHOWN_ONLY = {"subnetpool": -1, "rbac_policy": 10}  # labcloud keeps neither
# each counted resource's owner column
COUNTED: dict[str, InstrumentedAttribute[str]] = {
    "network": models.Network.project_id,
    "subnet": models.Subnet.project_id,
    "port": models.Port.project_id,
    "router": models.Router.project_id,
    "floatingip": models.FloatingIP.project_id,
    "security_group": models.SecurityGroup.project_id,
    "security_group_rule": models.SecurityGroupRule.project_id,
}


class OverQuota(Conflict):
    msg_fmt = "Quota exceeded for resources: %(overs)s."


class InvalidQuotaValue(Conflict):
    msg_fmt = "Change would make usage less than 0 for the following resources: %(unders)s."


class NetworkQuotas:
    def __init__(self, db: Database, defaults: Mapping[str, int] | None = None) -> None:
        self.db = db
        self.defaults = dict(DEFAULT_QUOTAS if defaults is None else defaults)
        self.table = QuotaTable(db, models.Quota)

    def limits(self, project_id: str) -> dict[str, int]:
        """The project's limit on each resource: its own where set, else the default."""
        return self.table.limits(project_id, dict(self.defaults) | SHOWN_ONLY)

    def overridden(self) -> list[str]:
        """The projects with a limit of their own (``GET /v2.0/quotas``)."""
        return self.table.overridden()

    def update(self, project_id: str, values: Mapping[str, int]) -> None:
        self.table.update(project_id, values)

    def check_limits(self, project_id: str, values: Mapping[str, int]) -> None:
        """``check_limit``: no new limit below what the project already uses (409)."""
        used = self.usage(project_id)
        unders = sorted(k for k, v in values.items() if 0 <= v < used.get(k, 0))
        if unders:
            raise InvalidQuotaValue(unders=unders)

    def reset(self, project_id: str) -> None:
        self.table.reset(project_id)

    def usage(self, project_id: str, only: Iterable[str] = COUNTED) -> dict[str, int]:
        """What the project holds of each counted resource (``only``: of these)."""
        with self.db.reader() as s:
            return {
                name: s.scalar(select(func.count()).where(COUNTED[name] == project_id)) or 0
                for name in only
            }

    def details(self, project_id: str) -> dict[str, dict[str, int]]:
        used = self.usage(project_id)
        return {
            k: {"used": used.get(k, 0), "limit": v, "reserved": 0}
            for k, v in self.limits(project_id).items()
        }

    def check(self, ctxt: RequestContext, resource: str, items: Iterable[dict[str, Any]]) -> None:
        """The resources a request would create, by the project each is for, against the
        project's limit: neutron's 409 OverQuota naming the resource."""
        wanted = Counter(
            item.get("project_id") or item.get("tenant_id") or ctxt.project_id or ""
            for item in items
        )
        for project_id, count in wanted.items():
            allowed = self.limits(project_id)[resource]
            if allowed < 0:
                continue  # unlimited: nothing to count
            if exceeds(allowed, self.usage(project_id, [resource])[resource], count):
                raise OverQuota(overs=[resource])
