"""cinder's limits and os-quota-sets: shown in cinder's shapes, changed by an admin only,
enforced on volume and snapshot creation with cinder's 413 overLimit."""

from __future__ import annotations

from tests.integration.volume.conftest import Cinder


def quota_url(cinder: Cinder, target: str) -> str:
    return cinder.url.removesuffix("/volumes") + f"/os-quota-sets/{target}"


def test_limits_count_volumes_and_gigabytes(cinder: Cinder) -> None:
    limits_url = cinder.url.removesuffix("/volumes") + "/limits"
    before = cinder.call("GET", url=limits_url).json()["limits"]
    assert before["rate"] == []
    assert before["absolute"]["maxTotalVolumes"] == -1
    assert before["absolute"]["totalVolumesUsed"] == 0
    cinder.wait_status(cinder.create(size=2), "available")
    absolute = cinder.call("GET", url=limits_url).json()["limits"]["absolute"]
    assert (absolute["totalVolumesUsed"], absolute["totalGigabytesUsed"]) == (1, 2)


def test_quota_set_show_defaults_and_usage(cinder: Cinder) -> None:
    shown = cinder.call("GET", url=quota_url(cinder, cinder.project)).json()["quota_set"]
    assert shown["id"] == cinder.project
    assert {"volumes", "snapshots", "gigabytes", "backups", "volumes___DEFAULT__"} <= set(shown)
    cinder.create(size=3)
    usage = cinder.call("GET", "?usage=True", url=quota_url(cinder, cinder.project)).json()
    assert usage["quota_set"]["gigabytes"] == {"limit": -1, "in_use": 3, "reserved": 0}
    defaults = cinder.call("GET", "/defaults", url=quota_url(cinder, cinder.project)).json()
    assert defaults["quota_set"]["snapshots"] == -1


def test_only_an_admin_changes_quotas_and_no_one_reads_another_projects(cinder: Cinder) -> None:
    url = quota_url(cinder, cinder.project)
    refused = cinder.call("PUT", url=url, json={"quota_set": {"volumes": 5}})
    assert refused.status_code == 403
    other = cinder.call("GET", url=quota_url(cinder, cinder.admin_project))
    assert other.status_code == 403
    admin_url = f"{cinder.url.split('/v3/')[0]}/v3/{cinder.admin_project}/os-quota-sets/"
    changed = cinder.call(
        "PUT",
        url=admin_url + cinder.project,
        token=cinder.admin,
        json={"quota_set": {"volumes": "5"}},
    )
    assert changed.status_code == 200, changed.text
    assert "id" not in changed.json()["quota_set"]
    assert changed.json()["quota_set"]["volumes"] == 5
    assert cinder.call("GET", url=url).json()["quota_set"]["volumes"] == 5


def test_bad_quota_bodies_are_400(cinder: Cinder) -> None:
    admin_url = f"{cinder.url.split('/v3/')[0]}/v3/{cinder.admin_project}/os-quota-sets/"
    for bad in ({"volumes": -2}, {"volumes": 2**40}, {"volumes": "x"}, {"nonsense": 1}):
        answer = cinder.call(
            "PUT", url=admin_url + cinder.project, token=cinder.admin, json={"quota_set": bad}
        )
        assert answer.status_code == 400, (bad, answer.text)
        assert "badRequest" in answer.json()


def test_volume_count_gigabytes_and_snapshots_are_enforced(cinder: Cinder) -> None:
    admin_url = f"{cinder.url.split('/v3/')[0]}/v3/{cinder.admin_project}/os-quota-sets/"
    limits = {"volumes": 1, "gigabytes": 3, "snapshots": 0}
    cinder.call(
        "PUT", url=admin_url + cinder.project, token=cinder.admin, json={"quota_set": limits}
    )
    too_big = cinder.call("POST", json={"volume": {"size": 4}})
    assert too_big.status_code == 413
    assert too_big.json() == {
        "overLimit": {
            "code": 413,
            "message": "Requested volume or snapshot exceeds allowed gigabytes quota. "
            "Requested 4G, quota is 3G and 0G has been consumed.",
        }
    }
    vid = cinder.create(size=1)
    second = cinder.call("POST", json={"volume": {"size": 1}})
    assert second.status_code == 413
    assert second.json()["overLimit"]["message"] == (
        "Maximum number of volumes allowed (1) exceeded for quota 'volumes'."
    )
    cinder.wait_status(vid, "available")
    snap = cinder.snapshots("POST", json={"snapshot": {"volume_id": vid}})
    assert snap.status_code == 413
    assert "snapshots allowed (0)" in snap.json()["overLimit"]["message"]
    assert len(cinder.call("GET").json()["volumes"]) == 1
