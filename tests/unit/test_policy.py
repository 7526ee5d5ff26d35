"""The policy layer: OpenStack's default rules, unknown actions refused."""

from __future__ import annotations

import pytest

from labcloud import policy
from labcloud.context import RequestContext

ADMIN = RequestContext(user_id="a", project_id="p-admin", roles=("admin",), is_admin=True)
MEMBER = RequestContext(user_id="m", project_id="p1", roles=("member",))
SERVICE = RequestContext(user_id="nova", project_id="service", roles=("service",))


def test_admin_only_rules_refuse_a_member_with_the_action_named() -> None:
    assert policy.authorize(ADMIN, "create_network:shared")
    with pytest.raises(policy.PolicyNotAuthorized, match="create_network:shared") as err:
        policy.authorize(MEMBER, "create_network:shared")
    assert err.value.code == 403
    assert not policy.authorize(MEMBER, "publicize_image", fatal=False)


def test_owner_is_the_target_project() -> None:
    assert policy.authorize(MEMBER, "owner", {"project_id": "p1"})
    assert policy.authorize(MEMBER, "owner", {"tenant_id": "p1"})
    assert not policy.authorize(MEMBER, "owner", {"project_id": "p2"}, fatal=False)
    assert not policy.authorize(MEMBER, "owner", {}, fatal=False)  # no owner: not "mine"
    assert policy.authorize(ADMIN, "owner", {"project_id": "p2"})


def test_validate_token_is_for_admins_and_services() -> None:
    assert policy.authorize(SERVICE, "identity:validate_token")
    assert not policy.authorize(MEMBER, "identity:validate_token", fatal=False)


def test_naming_another_project_in_a_body_is_admin_only() -> None:
    policy.may_target_project(MEMBER, None)
    policy.may_target_project(MEMBER, "p1")
    policy.may_target_project(ADMIN, "p1")
    with pytest.raises(policy.PolicyNotAuthorized):
        policy.may_target_project(MEMBER, "p2")


def test_an_unknown_action_is_refused_even_for_admins() -> None:
    with pytest.raises(policy.PolicyNotAuthorized):
        policy.authorize(ADMIN, "create_network:shraed")


def test_rules_print_as_oslo_policy_check_strings() -> None:
    rules = {name: check for name, check, _ in policy.describe()}
    assert rules["owner"] == "role:admin or project_id:%(project_id)s"
    assert rules["identity:validate_token"] == "role:admin or role:service"
