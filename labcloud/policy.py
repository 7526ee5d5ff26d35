"""One policy layer for every API, with OpenStack's default rules where a student meets them.

Each OpenStack service asks oslo.policy ``authorize(action, target, creds)`` before it acts;
the action names below are the real ones (``os_compute_api:servers:index:get_all_tenants``,
``create_network:shared``, ``publicize_image``, ``identity:create_user``...), so a student
who later opens a deployment's policy.yaml recognises them. A rule is built from three
checks, printed in oslo.policy's check-string syntax (``role:admin or
project_id:%(project_id)s``) by ``labcloud policy list``:

* ``role(name)``: the caller holds the role;
* ``OWNER``: the caller's project is the target's ``project_id`` (or ``tenant_id``);
* ``SELF``: the caller is the target's ``user_id`` (keystone's own-user rules);
* ``ANY``: everybody with a valid token.

Rules combine with ``|`` and ``&``. Unknown actions are refused (a typo must never open a
door). The reader role is not modelled separately: ``member`` and ``reader`` read alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labcloud.context import RequestContext
from labcloud.exceptions import Forbidden


class PolicyNotAuthorized(Forbidden):
    msg_fmt = "Policy doesn't allow %(action)s to be performed."


@dataclass(frozen=True)
class Check:
    """A predicate over (context, target) with its oslo.policy check string."""

    text: str
    test: Callable[[RequestContext, Mapping[str, Any]], bool]

    def __call__(self, ctxt: RequestContext, target: Mapping[str, Any]) -> bool:
        return self.test(ctxt, target)

    def __or__(self, other: Check) -> Check:
        return Check(f"{self.text} or {other.text}", lambda c, t: self(c, t) or other(c, t))

    def __and__(self, other: Check) -> Check:
        return Check(f"{self.text} and {other.text}", lambda c, t: self(c, t) and other(c, t))


def role(name: str) -> Check:
    return Check(f"role:{name}", lambda c, _t: name in c.roles or (name == "admin" and c.is_admin))


def _owns(ctxt: RequestContext, target: Mapping[str, Any]) -> bool:
    owner = target.get("project_id", target.get("tenant_id"))
    return owner is not None and owner == ctxt.project_id


ANY = Check("@", lambda _c, _t: True)
ADMIN = role("admin")
OWNER = Check("project_id:%(project_id)s", _owns)
ADMIN_OR_OWNER = ADMIN | OWNER
SERVICE = role("service")
SELF = Check(
    "user_id:%(user_id)s", lambda c, t: t.get("user_id") is not None and t["user_id"] == c.user_id
)


@dataclass(frozen=True)
class Rule:
    name: str
    check: Check
    description: str


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.name: r for r in rules}


# OpenStack's defaults for the actions labcloud's APIs serve. Projects add theirs here, next
# to their neighbours, so one file answers "who may do what".
RULES: dict[str, Rule] = _rules(
    # nova
    Rule("os_compute_api:servers:index:get_all_tenants", ADMIN, "list every project's servers"),
    Rule("os_compute_api:servers:show:host_status", ADMIN, "see a server's host_status (2.16)"),
    Rule("os_compute_api:os-lock-server:unlock:unlock_override", ADMIN, "lift an admin's lock"),
    Rule("os_compute_api:os-instance-actions:events", ADMIN, "see an action's events (< 2.51)"),
    Rule("os_compute_api:os-keypairs:index", ADMIN | SELF, "list a user's key pairs (2.10)"),
    Rule("os_compute_api:os-keypairs:show", ADMIN | SELF, "show a user's key pair (2.10)"),
    Rule("os_compute_api:os-keypairs:create", ADMIN | SELF, "make a key pair for a user (2.10)"),
    Rule("os_compute_api:os-keypairs:delete", ADMIN | SELF, "delete a user's key pair (2.10)"),
    Rule("os_compute_api:os-extended-server-attributes", ADMIN, "see OS-EXT-SRV-ATTR:*"),
    Rule("os_compute_api:servers:create:forced_host", ADMIN, "boot on a chosen host"),
    Rule("os_compute_api:os-hypervisors:list", ADMIN, "list hypervisors"),
    Rule("os_compute_api:os-availability-zone:detail", ADMIN, "list zones with their hosts"),
    Rule("os_compute_api:os-services:list", ADMIN, "list compute services"),
    Rule("os_compute_api:os-quota-sets:update", ADMIN, "change a project's quotas"),
    Rule("os_compute_api:os-flavor-manage:create", ADMIN, "create flavors"),
    Rule("os_compute_api:os-flavor-manage:delete", ADMIN, "delete flavors"),
    Rule(
        "os_compute_api:os-server-external-events:create",
        ADMIN | SERVICE,
        "tell nova of events about its servers (neutron's network-vif-plugged)",
    ),
    # neutron
    Rule("create_network:shared", ADMIN, "create a network shared with every project"),
    Rule("create_network:router:external", ADMIN, "create an external network"),
    Rule("create_network:provider:network_type", ADMIN, "choose a network's segment type"),
    Rule("create_network:provider:physical_network", ADMIN, "choose a physical network"),
    Rule("create_network:provider:segmentation_id", ADMIN, "choose a VLAN or VNI"),
    Rule("update_network:shared", ADMIN, "share a network"),
    Rule("update_network:router:external", ADMIN, "make a network external"),
    Rule("get_agent", ADMIN, "list neutron's agents"),
    Rule("delete_agent", ADMIN, "delete a neutron agent's record"),
    Rule("create_router:external_gateway_info:enable_snat", ADMIN, "choose a router's SNAT"),
    Rule("create_router:external_gateway_info:external_fixed_ips", ADMIN, "pick a gateway IP"),
    Rule("update_router:external_gateway_info:enable_snat", ADMIN, "change a router's SNAT"),
    Rule("update_router:external_gateway_info:external_fixed_ips", ADMIN, "pick a gateway IP"),
    Rule("create_floatingip:floating_ip_address", ADMIN, "pick a floating IP's address"),
    Rule("get_quota", ADMIN_OR_OWNER, "show a project's network quotas"),
    Rule("update_quota", ADMIN, "change a project's network quotas"),
    Rule("delete_quota", ADMIN, "reset a project's network quotas"),
    # cinder
    Rule("volume_extension:quotas:show", ADMIN_OR_OWNER, "show a project's volume quotas"),
    Rule("volume_extension:quotas:update", ADMIN, "change a project's volume quotas"),
    # glance
    Rule("publicize_image", ADMIN, "make an image public"),
    # keystone
    Rule("identity:validate_token", ADMIN | SERVICE, "validate another user's token"),
    Rule("identity:list_users", ADMIN, "list users"),
    Rule("identity:get_user", ADMIN | SELF, "show a user (oneself too)"),
    Rule("identity:create_user", ADMIN, "create users"),
    Rule("identity:update_user", ADMIN, "change users"),
    Rule("identity:delete_user", ADMIN, "delete users"),
    Rule("identity:list_user_projects", ADMIN | SELF, "list a user's projects (one's own too)"),
    Rule("identity:list_projects", ADMIN, "list every project"),
    Rule("identity:get_project", ADMIN | OWNER, "show a project (one's own too)"),
    Rule("identity:create_project", ADMIN, "create projects"),
    Rule("identity:update_project", ADMIN, "change projects"),
    Rule("identity:delete_project", ADMIN, "delete projects"),
    Rule("identity:list_roles", ADMIN, "list roles"),
    Rule("identity:get_role", ADMIN, "show a role"),
    Rule("identity:create_role", ADMIN, "create roles"),
    Rule("identity:list_grants", ADMIN, "list a user's roles on a project"),
    Rule("identity:check_grant", ADMIN, "check a user's role on a project"),
    Rule("identity:create_grant", ADMIN, "give a user a role on a project"),
    Rule("identity:revoke_grant", ADMIN, "take a role away"),
    Rule("identity:list_role_assignments", ADMIN, "list role assignments"),
    Rule("identity:list_services", ADMIN, "list the catalog's services"),
    Rule("identity:get_service", ADMIN, "show a service"),
    Rule("identity:create_service", ADMIN, "register services"),
    Rule("identity:list_endpoints", ADMIN, "list the catalog's endpoints"),
    Rule("identity:get_endpoint", ADMIN, "show an endpoint"),
    Rule("identity:create_endpoint", ADMIN, "register endpoints"),
    # every project: a resource of another project is neither read nor changed
    Rule("owner", ADMIN_OR_OWNER, "read or change a resource of one's own project"),
    Rule("cross_project", ADMIN, "create a resource in another project (a body's project_id)"),
)


def authorize(
    ctxt: RequestContext,
    action: str,
    target: Mapping[str, Any] | None = None,
    *,
    fatal: bool = True,
) -> bool:
    """Is ``ctxt`` allowed ``action`` on ``target``? Raises PolicyNotAuthorized (403) when
    not and ``fatal``; an action with no rule is refused."""
    rule = RULES.get(action)
    allowed = rule is not None and rule.check(
        ctxt, {"project_id": ctxt.project_id} if target is None else target
    )
    if not allowed and fatal:
        raise PolicyNotAuthorized(action=action)
    return allowed


def may_target_project(ctxt: RequestContext, project_id: str | None) -> None:
    """A body naming ``project_id``/``tenant_id``: only an admin may name another project."""
    if project_id is not None and project_id != ctxt.project_id:
        authorize(ctxt, "cross_project")


def describe() -> list[tuple[str, str, str]]:
    """(action, check string, description) of every rule, for ``labcloud policy list``."""
    return [(r.name, r.check.text, r.description) for r in RULES.values()]
