"""``/v2.0/security-groups`` and ``/v2.0/security-group-rules`` (a rule is created and
deleted, never updated, as in neutron)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from labcloud.network.api.deps import Ctxt, Envelope, Filters, NeutronPlugin, resource_id
from labcloud.network.schemas.security import (
    SecurityGroupCreate,
    SecurityGroupRuleCreate,
    SecurityGroupRuleView,
    SecurityGroupUpdate,
    SecurityGroupView,
)
from labcloud.network.schemas.types import Body, View
from labcloud.network.secgroups import SecurityGroupNotFound, SecurityGroupRuleNotFound

router = APIRouter(tags=["security groups"])
GroupId = Annotated[str, Depends(resource_id(lambda i: SecurityGroupNotFound(id=i)))]
RuleId = Annotated[str, Depends(resource_id(lambda i: SecurityGroupRuleNotFound(id=i)))]
GROUPS, RULES = "/v2.0/security-groups", "/v2.0/security-group-rules"


class CreateGroup(Envelope):
    security_group: SecurityGroupCreate | None = None


class UpdateGroup(Body):
    security_group: SecurityGroupUpdate


class OneGroup(View):
    security_group: SecurityGroupView


class Groups(View):
    security_groups: list[SecurityGroupView]


class CreateRule(Envelope):
    security_group_rule: SecurityGroupRuleCreate | None = None
    security_group_rules: list[SecurityGroupRuleCreate] | None = None


class OneRule(View):
    security_group_rule: SecurityGroupRuleView


class Rules(View):
    security_group_rules: list[SecurityGroupRuleView]


class GroupFilters(Filters):
    name: str | None = None


class RuleFilters(Filters):
    security_group_id: str | None = None
    direction: str | None = None


@router.post(GROUPS, status_code=201, response_model=OneGroup)
def create_security_group(ctxt: Ctxt, plugin: NeutronPlugin, body: CreateGroup) -> object:
    _, (item,) = body.items()
    plugin.quotas.check(ctxt, "security_group", [item])
    return {"security_group": plugin.groups.create_security_group(ctxt, item)}


@router.get(GROUPS, response_model=Groups)
def list_security_groups(
    ctxt: Ctxt, plugin: NeutronPlugin, query: Annotated[GroupFilters, Query()]
) -> object:
    return {"security_groups": plugin.groups.list_security_groups(ctxt, query.filters())}


@router.get(GROUPS + "/{ident}", response_model=OneGroup)
def show_security_group(ident: GroupId, ctxt: Ctxt, plugin: NeutronPlugin) -> object:
    return {"security_group": plugin.groups.get_security_group(ctxt, ident)}


@router.put(GROUPS + "/{ident}", response_model=OneGroup)
def update_security_group(
    ident: GroupId, ctxt: Ctxt, plugin: NeutronPlugin, body: UpdateGroup
) -> object:
    attrs = body.security_group.attrs()
    return {"security_group": plugin.groups.update_security_group(ctxt, ident, attrs)}


@router.delete(GROUPS + "/{ident}", status_code=204)
def delete_security_group(ident: GroupId, ctxt: Ctxt, plugin: NeutronPlugin) -> None:
    plugin.groups.delete_security_group(ctxt, ident)


@router.post(RULES, status_code=201, response_model=OneRule | Rules)
def create_security_group_rule(ctxt: Ctxt, plugin: NeutronPlugin, body: CreateRule) -> object:
    key, items = body.items()
    plugin.quotas.check(ctxt, "security_group_rule", items)
    made = [plugin.groups.create_security_group_rule(ctxt, item) for item in items]
    return {key: made[0] if key == "security_group_rule" else made}


@router.get(RULES, response_model=Rules)
def list_security_group_rules(
    ctxt: Ctxt, plugin: NeutronPlugin, query: Annotated[RuleFilters, Query()]
) -> object:
    rules = plugin.groups.list_security_group_rules(ctxt, query.filters())
    return {"security_group_rules": rules}


@router.get(RULES + "/{ident}", response_model=OneRule)
def show_security_group_rule(ident: RuleId, ctxt: Ctxt, plugin: NeutronPlugin) -> object:
    return {"security_group_rule": plugin.groups.get_security_group_rule(ctxt, ident)}


@router.delete(RULES + "/{ident}", status_code=204)
def delete_security_group_rule(ident: RuleId, ctxt: Ctxt, plugin: NeutronPlugin) -> None:
    plugin.groups.delete_security_group_rule(ctxt, ident)
