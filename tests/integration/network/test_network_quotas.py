"""neutron's /v2.0/quotas: shown in neutron's shape (default, details with usage), changed
and reset by an admin only, enforced on create with neutron's 409 OverQuota."""

from __future__ import annotations

from tests.integration.network.harness import Neutron


def project(neutron: Neutron) -> str:
    return str(neutron.keystone.project_id("demo"))


def test_show_default_and_details(neutron: Neutron) -> None:
    demo = project(neutron)
    shown = neutron.call("GET", f"/quotas/{demo}")
    assert shown.status_code == 200, shown.text
    assert set(shown.json()["quota"]) == {
        "network", "subnet", "port", "router", "floatingip", "security_group",
        "security_group_rule", "subnetpool", "rbac_policy",
    }  # fmt: skip
    neutron.network()
    details = neutron.call("GET", f"/quotas/{demo}/details").json()["quota"]
    assert details["network"] == {"used": 1, "limit": -1, "reserved": 0}
    assert details["subnet"]["used"] == 1
    default = neutron.call("GET", f"/quotas/{demo}/default").json()["quota"]
    assert default["router"] == -1


def test_only_an_admin_changes_resets_and_lists(neutron: Neutron) -> None:
    demo = project(neutron)
    assert neutron.call("PUT", f"/quotas/{demo}", {"quota": {"network": 3}}).status_code == 403
    assert neutron.call("DELETE", f"/quotas/{demo}").status_code == 403
    assert neutron.call("GET", "/quotas").status_code == 403
    eve_reads = neutron.call("GET", f"/quotas/{demo}", token=neutron.eve)
    assert eve_reads.status_code == 403
    changed = neutron.call("PUT", f"/quotas/{demo}", {"quota": {"network": "3"}}, neutron.other)
    assert changed.status_code == 200, changed.text
    assert changed.json()["quota"]["network"] == 3
    listed = neutron.call("GET", "/quotas", token=neutron.other).json()["quotas"]
    assert [(q["project_id"], q["network"]) for q in listed] == [(demo, 3)]
    assert neutron.call("DELETE", f"/quotas/{demo}", token=neutron.other).status_code == 204
    assert neutron.call("GET", f"/quotas/{demo}").json()["quota"]["network"] == -1


def test_bad_quota_bodies_are_400(neutron: Neutron) -> None:
    demo = project(neutron)
    for bad in ({"network": -2}, {"network": 2**40}, {"network": "x"}, {"network": True},
                {"nonsense": 1}):  # fmt: skip
        answer = neutron.call("PUT", f"/quotas/{demo}", {"quota": bad}, neutron.other)
        assert answer.status_code == 400, (bad, answer.text)
        assert "NeutronError" in answer.json()


def test_every_counted_resource_is_enforced(neutron: Neutron) -> None:
    demo = project(neutron)
    neutron.external()
    net_id, subnet_id = neutron.network()
    group = neutron.make("security_group", {"name": "g"})
    limits = {"network": 1, "subnet": 1, "port": 0, "router": 0, "floatingip": 0,
              "security_group": 2, "security_group_rule": 0}  # fmt: skip
    neutron.call("PUT", f"/quotas/{demo}", {"quota": limits}, neutron.other)
    attempts = {
        "network": {"name": "n2"},
        "subnet": {"network_id": net_id, "cidr": "10.9.1.0/29", "ip_version": 4},
        "port": {"network_id": net_id},
        "router": {"name": "r"},
        "floatingip": {"floating_network_id": neutron.call("GET", "/networks?name=public")
                       .json()["networks"][0]["id"]},
        "security_group": {"name": "g2"},
        "security_group_rule": {"security_group_id": group["id"], "direction": "ingress"},
    }  # fmt: skip
    for kind, body in attempts.items():
        path = "/" + kind.replace("_", "-") + "s"
        answer = neutron.call("POST", path, {kind: body})
        assert answer.status_code == 409, (kind, answer.text)
        assert answer.json() == {
            "NeutronError": {
                "type": "OverQuota",
                "message": f"Quota exceeded for resources: ['{kind}'].",
                "detail": "",
            }
        }
    assert subnet_id  # the first subnet was made before the limits


def test_a_bulk_create_counts_every_item(neutron: Neutron) -> None:
    demo = project(neutron)
    neutron.call("PUT", f"/quotas/{demo}", {"quota": {"network": 2}}, neutron.other)
    bulk = neutron.call("POST", "/networks", {"networks": [{"name": str(i)} for i in range(3)]})
    assert bulk.status_code == 409
    assert neutron.call("GET", "/networks").json()["networks"] == []
    two = neutron.call("POST", "/networks", {"networks": [{"name": "a"}, {"name": "b"}]})
    assert two.status_code == 201


def test_check_limit_refuses_a_limit_below_usage(neutron: Neutron) -> None:
    demo = project(neutron)
    neutron.network()
    body = {"quota": {"network": 0, "check_limit": True}}
    refused = neutron.call("PUT", f"/quotas/{demo}", body, neutron.other)
    assert refused.status_code == 409
    assert refused.json()["NeutronError"]["type"] == "InvalidQuotaValue"
    body = {"quota": {"network": 0, "check_limit": False}}
    assert neutron.call("PUT", f"/quotas/{demo}", body, neutron.other).status_code == 200
