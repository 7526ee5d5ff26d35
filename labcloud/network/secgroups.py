"""Security groups and rules, as neutron's securitygroups_db keeps them.

Every project has a group named ``default``, made on first use (listing groups, creating a
group or a port) with neutron's default rules: any egress over IPv4 and IPv6, ingress only
from members of the same group. A port gets its project's default group unless it names its
own (a ``network:*`` port, which neutron itself owns, gets none). A rule created or deleted
is told to the agents (``security_groups_rule_updated``), whose firewalls enforce it;
what they are asked for is in secgroups_rpc.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labcloud import policy
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import Conflict, NotFound
from labcloud.network import views
from labcloud.network.driver import NetworkDriver
from labcloud.network.manager import now, owner_of
from labcloud.network.models import (
    DefaultSecurityGroup,
    SecurityGroup,
    SecurityGroupPortBinding,
    SecurityGroupRule,
)

DEFAULT = "default"
RULE_KEYS = (
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
)

DEFAULTS: Table = DefaultSecurityGroup.__table__  # type: ignore[assignment]
GROUPS: Table = SecurityGroup.__table__  # type: ignore[assignment]


class SecurityGroupNotFound(NotFound):
    msg_fmt = "Security group %(id)s does not exist"


class SecurityGroupRuleNotFound(NotFound):
    msg_fmt = "Security group rule %(id)s does not exist"


class SecurityGroupInUse(Conflict):
    msg_fmt = "Security Group %(id)s in use."


class SecurityGroupCannotRemoveDefault(Conflict):
    msg_fmt = "Insufficient rights for removing default security group."


class SecurityGroupRuleExists(Conflict):
    msg_fmt = "Security group rule already exists. Rule id is %(rule_id)s."


class SecurityGroupManager:
    def __init__(self, db: Database, driver: Callable[[], NetworkDriver] | None = None) -> None:
        """``driver``: neutron-server's driver now (it is chosen after the managers exist)."""
        self.db = db
        self._driver = driver
        # Core statements built once: a port asks for its project's default group (or
        # checks the groups it names) each time one is created
        self._default_of = select(DEFAULTS.c.security_group_id).where(
            DEFAULTS.c.project_id == bindparam("project_id")
        )
        self._owners_of = select(GROUPS.c.id, GROUPS.c.project_id).where(
            GROUPS.c.id.in_(bindparam("ids", expanding=True))
        )

    def _rule_updated(self, ctxt: RequestContext, group_id: str) -> None:
        if self._driver is not None:
            self._driver().security_groups_rule_updated(ctxt, [group_id])

    # -- the default group --------------------------------------------------------------
    def default_group(self, project_id: str) -> str:
        """The id of the project's ``default`` group, created with its rules if missing."""
        for _ in range(2):  # a second caller creating it at the same time: read theirs
            with self.db.read() as c:
                found = self._default_id(c, project_id)
            if found is not None:
                return found
            try:
                with self.db.session() as s:
                    return self._create_default(s, project_id)
            except IntegrityError:
                continue
        raise Conflict(f"The default security group of {project_id} could not be created.")

    def _default_id(self, c: Connection, project_id: str) -> str | None:
        """The id of the project's ``default`` group, None if it has none yet."""
        found: str | None = c.scalar(self._default_of, {"project_id": project_id})
        return found

    def _create_default(self, s: Session, project_id: str) -> str:
        group = self._new_group(s, project_id, DEFAULT, "Default security group")
        s.add(DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
        for ethertype in ("IPv4", "IPv6"):
            self._new_rule(s, group, {"direction": "egress", "ethertype": ethertype})
            self._new_rule(
                s,
                group,
                {"direction": "ingress", "ethertype": ethertype, "remote_group_id": group.id},
            )
        s.flush()
        return group.id

    def _new_group(
        self, s: Session, project_id: str, name: str, description: str, stateful: bool = True
    ) -> SecurityGroup:
        group = SecurityGroup(
            id=str(uuid.uuid4()),
            project_id=project_id,
            name=name,
            description=description,
            stateful=stateful,
            created_at=now(),
            updated_at=now(),
        )
        s.add(group)
        s.flush()
        return group

    @staticmethod
    def _new_rule(s: Session, group: SecurityGroup, body: dict[str, Any]) -> SecurityGroupRule:
        rule = SecurityGroupRule(
            id=str(uuid.uuid4()),
            project_id=group.project_id,
            security_group_id=group.id,
            description=str(body.get("description") or ""),
            created_at=now(),
            updated_at=now(),
            **{k: body.get(k) for k in RULE_KEYS},
        )
        s.add(rule)
        return rule

    # -- groups -------------------------------------------------------------------------
    def _group(self, s: Session, ctxt: RequestContext, group_id: str) -> SecurityGroup:
        group = s.get(SecurityGroup, group_id)
        if group is None or not policy.authorize(ctxt, "owner", _target(group), fatal=False):
            raise SecurityGroupNotFound(id=group_id)
        return group

    def _view(self, s: Session, group: SecurityGroup) -> dict[str, Any]:
        rules = s.scalars(
            select(SecurityGroupRule).where(SecurityGroupRule.security_group_id == group.id)
        )
        return views.security_group(group, list(rules))

    def create_security_group(self, ctxt: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        project_id = owner_of(ctxt, body) or ""
        self.default_group(project_id)
        if body.get("name") == DEFAULT:
            raise Conflict("Default security group already exists.")
        with self.db.session() as s:
            group = self._new_group(
                s,
                project_id,
                str(body.get("name") or ""),
                str(body.get("description") or ""),
                bool(body.get("stateful", True)),
            )
            for ethertype in ("IPv4", "IPv6"):  # a new group lets everything out
                self._new_rule(s, group, {"direction": "egress", "ethertype": ethertype})
            s.flush()
            return self._view(s, group)

    def list_security_groups(
        self, ctxt: RequestContext, filters: views.Filters
    ) -> list[dict[str, Any]]:
        if ctxt.project_id:
            self.default_group(ctxt.project_id)
        query = select(SecurityGroup)
        if not ctxt.is_admin:
            query = query.where(SecurityGroup.project_id == ctxt.project_id)
        with self.db.reader() as s:
            rows = [self._view(s, g) for g in s.scalars(query)]
        return views.filtered(rows, filters)

    def get_security_group(self, ctxt: RequestContext, group_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self._view(s, self._group(s, ctxt, group_id))

    def update_security_group(
        self, ctxt: RequestContext, group_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        with self.db.session() as s:
            group = self._group(s, ctxt, group_id)
            if group.name == DEFAULT and body.get("name", DEFAULT) != DEFAULT:
                raise Conflict("Updating default security group not allowed.")
            for key in ("name", "description", "stateful"):
                if key in body:
                    setattr(group, key, body[key])
            group.revision_number += 1
            group.updated_at = now()
            return self._view(s, group)

    def delete_security_group(self, ctxt: RequestContext, group_id: str) -> None:
        with self.db.session() as s:
            group = self._group(s, ctxt, group_id)
            if group.name == DEFAULT and not ctxt.is_admin:
                raise SecurityGroupCannotRemoveDefault()
            used = select(SecurityGroupPortBinding.port_id).where(
                SecurityGroupPortBinding.security_group_id == group_id
            )
            if s.scalar(used.limit(1)):
                raise SecurityGroupInUse(id=group_id)
            s.delete(group)

    # -- rules --------------------------------------------------------------------------
    def create_security_group_rule(
        self, ctxt: RequestContext, body: dict[str, Any]
    ) -> dict[str, Any]:
        policy.may_target_project(ctxt, body.get("project_id") or body.get("tenant_id"))
        body = {"ethertype": "IPv4"} | {k: v for k, v in body.items() if v is not None}
        with self.db.session() as s:
            group = self._group(s, ctxt, str(body["security_group_id"]))
            if body.get("remote_group_id"):
                self._group(s, ctxt, str(body["remote_group_id"]))
            for rule in s.scalars(
                select(SecurityGroupRule).where(SecurityGroupRule.security_group_id == group.id)
            ):
                if all(getattr(rule, k) == body.get(k) for k in RULE_KEYS):
                    raise SecurityGroupRuleExists(rule_id=rule.id)
            rule = self._new_rule(s, group, body)
            s.flush()
            made = views.security_group_rule(rule)
        self._rule_updated(ctxt, made["security_group_id"])
        return made

    def list_security_group_rules(
        self, ctxt: RequestContext, filters: views.Filters
    ) -> list[dict[str, Any]]:
        query = select(SecurityGroupRule)
        if not ctxt.is_admin:
            query = query.where(SecurityGroupRule.project_id == ctxt.project_id)
        with self.db.reader() as s:
            rows = [views.security_group_rule(r) for r in s.scalars(query)]
        return views.filtered(rows, filters)

    def get_security_group_rule(self, ctxt: RequestContext, rule_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return views.security_group_rule(self._rule(s, ctxt, rule_id))

    def _rule(self, s: Session, ctxt: RequestContext, rule_id: str) -> SecurityGroupRule:
        rule = s.get(SecurityGroupRule, rule_id)
        if rule is None or not policy.authorize(ctxt, "owner", _target(rule), fatal=False):
            raise SecurityGroupRuleNotFound(id=rule_id)
        return rule

    def delete_security_group_rule(self, ctxt: RequestContext, rule_id: str) -> None:
        with self.db.session() as s:
            rule = self._rule(s, ctxt, rule_id)
            group_id = rule.security_group_id
            s.delete(rule)
        self._rule_updated(ctxt, group_id)

    # -- ports --------------------------------------------------------------------------
    def groups_for_port(
        self, ctxt: RequestContext, project_id: str, wanted: list[str] | None, owner: str
    ) -> list[str]:
        """The groups a port gets: those named (each the caller's to use), else the
        project's default; none for a port neutron owns (``network:*``)."""
        if wanted is None and owner.startswith("network:"):
            return []
        with self.db.read() as c:
            found = self.read_groups_for_port(c, ctxt, project_id, wanted, owner)
        return [self.default_group(project_id)] if found is None else found

    def read_groups_for_port(
        self,
        c: Connection,
        ctxt: RequestContext,
        project_id: str,
        wanted: list[str] | None,
        owner: str,
    ) -> list[str] | None:
        """``groups_for_port`` in the caller's read transaction ``c``, in one statement;
        None when the project's default group is still to be made (``default_group``
        writes: not in a read transaction)."""
        if wanted is None:
            if owner.startswith("network:"):
                return []
            found = self._default_id(c, project_id)
            return None if found is None else [found]
        if not wanted:
            return []
        owners: dict[str, str] = dict(c.execute(self._owners_of, {"ids": list(wanted)}).all())
        for group_id in wanted:  # in the order named: the first not the caller's is told
            target = {"project_id": owners.get(group_id, "")}
            if group_id not in owners or not policy.authorize(ctxt, "owner", target, fatal=False):
                raise SecurityGroupNotFound(id=group_id)
        return list(dict.fromkeys(wanted))


def _target(row: SecurityGroup | SecurityGroupRule) -> dict[str, str]:
    return {"project_id": row.project_id}
