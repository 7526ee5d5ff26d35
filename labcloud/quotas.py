"""What nova's, cinder's and neutron's quotas have in common: a ``quotas`` table in the
project's own database whose row overrides one resource's limit for one project, over the
defaults; -1 is unlimited. Each project counts its own resources, raises its own error and
answers in its own API shape (compute/quotas.py, volume/quotas.py, network/quotas.py).

OpenStack shares this through oslo.limit and keystone's unified limits; labcloud keeps each
project's own table, as nova, cinder and neutron did before.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Integer, Select, String, bindparam, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from labcloud.db import Database


class QuotaColumns:
    """A project's limit on one resource, where it differs from the defaults: the columns of
    each project's ``Quota`` model (``class Quota(QuotaColumns, Base)``)."""

    __tablename__ = "quotas"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class QuotaTable:
    """One project's ``quotas`` table: the limits it overrides, set and reset."""

    def __init__(self, db: Database, model: type[QuotaColumns]) -> None:
        self.db = db
        self.model = model

    def limits(self, project_id: str, defaults: Mapping[str, int]) -> dict[str, int]:
        """The project's limit on each resource: its own where set, else ``defaults``."""
        result = dict(defaults)
        with self.db.read() as c:
            for resource, limit in c.execute(_limits(self.model), {"project_id": project_id}):
                result[resource] = limit
        return result

    def update(self, project_id: str, values: Mapping[str, int]) -> None:
        with self.db.session() as s:
            for resource, limit in values.items():
                row = s.get(self.model, (project_id, resource))
                if row is None:
                    row = self.model()
                    row.project_id, row.resource = project_id, resource
                    s.add(row)
                row.hard_limit = limit

    def reset(self, project_id: str) -> None:
        """Back to the defaults: the project's rows deleted."""
        with self.db.session() as s:
            s.execute(delete(self.model).where(self.model.project_id == project_id))

    def overridden(self) -> list[str]:
        """The projects with a limit of their own."""
        with self.db.reader() as s:
            return list(s.scalars(select(self.model.project_id).distinct()))


_LIMITS: dict[type[QuotaColumns], Select[str, int]] = {}


def _limits(model: type[QuotaColumns]) -> Select[str, int]:
    """A project's limits, read before every boot and every port: its columns, not its
    objects, in a statement built once per table (building and hashing it cost more than
    running it; QuotaTables come and go with their requests)."""
    query = _LIMITS.get(model)
    if query is None:
        query = select(model.resource, model.hard_limit).where(
            model.project_id == bindparam("project_id")
        )
        _LIMITS[model] = query
    return query


def exceeds(allowed: int, used: int, wanted: int) -> bool:
    """Would ``wanted`` more go over ``allowed`` (-1: unlimited)?

    >>> exceeds(10, 9, 1), exceeds(10, 9, 2), exceeds(-1, 10**6, 1)
    (False, True, False)
    """
    return 0 <= allowed < used + wanted


def with_usage(limits: Mapping[str, int], used: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """nova's and cinder's detailed quota set: each limit, what is in use, and what is
    reserved (0: labcloud counts rows, it reserves nothing)."""
    return {k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0} for k, v in limits.items()}
