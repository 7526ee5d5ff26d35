"""cinder against hostile input and other projects (issue 10): every bad body is a 400 in
cinder's ``badRequest`` shape naming the field, before anything is stored."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.integration.volume.conftest import Cinder


@pytest.mark.parametrize(
    ("volume", "field"),
    [
        ({"size": 2**63}, "size"),
        ({"size": 2**31}, "size"),
        ({"size": 0}, "size"),
        ({"size": -1}, "size"),
        ({"size": True}, "size"),
        ({"size": 1.5}, "size"),
        ({"size": "big"}, "size"),
        ({"size": "9" * 40}, "size"),
        ({"size": None}, "size"),
        ({"size": 1, "name": ["a"]}, "name"),
        ({"size": 1, "name": "x" * 256}, "name"),
        ({"size": 1, "name": "nul\x00"}, "name"),
        ({"size": 1, "description": "d" * 256}, "description"),
        ({"size": 1, "metadata": {"k": 5}}, "metadata"),
        ({"size": 1, "metadata": {"k": "v\x00"}}, "metadata"),
        ({"size": 1, "metadata": "abc"}, "metadata"),
        ({"size": 1, "snapshot_id": "../../etc"}, "snapshot_id"),
        ({"size": 1, "imageRef": "i" * 300}, "imageRef"),
        ({"size": 1, "availability_zone": "mars"}, "Availability zone"),
        ({"size": 1, "multiattach": "yes"}, "multiattach"),
    ],
)
def test_bad_volumes_are_400_and_store_nothing(
    cinder: Cinder, volume: dict[str, Any], field: str
) -> None:
    answer = cinder.call("POST", json={"volume": volume})
    assert answer.status_code == 400, answer.text
    assert answer.json()["badRequest"]["code"] == 400
    assert field in answer.json()["badRequest"]["message"]
    assert cinder.call("GET").json() == {"volumes": []}


def test_size_as_a_string_of_digits_is_cinders_too(cinder: Cinder) -> None:
    vid = cinder.create(size="2")
    assert cinder.wait_status(vid, "available")["size"] == 2


def test_deep_json_and_bad_updates(cinder: Cinder) -> None:
    deep = b"[" * 50_000 + b"]" * 50_000
    headers = {"Content-Type": "application/json"}
    assert cinder.call("POST", content=deep, headers=headers).status_code == 400
    vid = cinder.create(name="v")
    for body in (
        {"volume": {"name": "n" * 256}},
        {"volume": {"name": 5}},
        {"volume": "x"},
        {"nope": {}},
    ):
        answer = cinder.call("PUT", f"/{vid}", json=body)
        assert answer.status_code == 400, (body, answer.text)
    assert (
        cinder.call("PUT", f"/{vid}", json={"volume": {"name": "w"}}).json()["volume"]["name"]
        == "w"
    )
    for body in (
        {"os-reserve": {}, "os-attach": {}},
        {},
        {"os-reserve": 5},
        {"os-attach": {"mountpoint": 5}},
    ):
        answer = cinder.call("POST", f"/{vid}/action", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["badRequest"]["code"] == 400


@pytest.mark.parametrize("volume_id", ["..", "%2E%2E", "a" * 300, "bad%00id"])
def test_bad_volume_ids_name_no_volume(cinder: Cinder, volume_id: str) -> None:
    for method in ("GET", "DELETE"):
        answer = cinder.call(method, f"/{volume_id}")
        assert answer.status_code == 404, answer.text
        assert answer.json()["itemNotFound"]["code"] == 404
    assert cinder.snapshots("GET", f"/{volume_id}").status_code == 404


def test_snapshots_and_volumes_from_them(cinder: Cinder) -> None:
    vid = cinder.create(name="source")
    cinder.wait_status(vid, "available")
    (cinder.data / f"volume-{vid}").write_bytes(b"data before the snapshot")
    made = cinder.snapshots("POST", json={"snapshot": {"volume_id": vid, "name": "s1"}})
    assert made.status_code == 202, made.text
    snap = made.json()["snapshot"]
    assert (snap["status"], snap["size"], snap["volume_id"]) == ("creating", 1, vid)
    cinder.wait_status(snap["id"], "available", kind="snapshot")
    (cinder.data / f"volume-{vid}").write_bytes(b"changed after it")
    listed = cinder.snapshots("GET").json()["snapshots"]
    assert [s["name"] for s in listed] == ["s1"]
    assert [s["id"] for s in cinder.snapshots("GET", "/detail").json()["snapshots"]] == [snap["id"]]
    renamed = cinder.snapshots("PUT", f"/{snap['id']}", json={"snapshot": {"name": "s2"}})
    assert renamed.json()["snapshot"]["name"] == "s2"
    assert cinder.call("DELETE", f"/{vid}").status_code == 400  # it has a snapshot
    copy = cinder.create(snapshot_id=snap["id"], size=None)
    volume = cinder.wait_status(copy, "available")
    assert (volume["snapshot_id"], volume["size"], volume["bootable"]) == (snap["id"], 1, "false")
    assert (cinder.data / f"volume-{copy}").read_bytes().startswith(b"data before the snapshot")
    assert (cinder.data / f"volume-{copy}").stat().st_size == 1 << 30
    bigger = cinder.create(snapshot_id=snap["id"], size=2)
    assert cinder.wait_status(bigger, "available")["size"] == 2
    assert (
        cinder.call("POST", json={"volume": {"snapshot_id": snap["id"], "size": 0}}).status_code
        == 400
    )
    assert (
        cinder.call("POST", json={"volume": {"snapshot_id": str(uuid.uuid4())}}).status_code == 404
    )
    assert cinder.snapshots("DELETE", f"/{snap['id']}").status_code == 202
    cinder.wait_status(snap["id"], "gone", kind="snapshot")
    assert not (cinder.data / f"snapshot-{snap['id']}").exists()
    assert cinder.call("DELETE", f"/{vid}").status_code == 202


def test_bad_snapshots(cinder: Cinder) -> None:
    vid = cinder.create()
    cinder.wait_status(vid, "available")
    for body in (
        {"snapshot": {}},
        {"snapshot": {"volume_id": "x"}},
        {"snapshot": {"volume_id": vid, "name": "n" * 256}},
        {"snapshot": {"volume_id": vid, "force": "yes"}},
        {"volume_id": vid},
    ):
        answer = cinder.snapshots("POST", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["badRequest"]["code"] == 400
    cinder.action(vid, "os-reserve")
    cinder.action(vid, "os-attach", {"instance_uuid": "vm-1"})
    in_use = {"snapshot": {"volume_id": vid}}
    assert cinder.snapshots("POST", json=in_use).status_code == 400  # in-use needs force
    forced = cinder.snapshots("POST", json={"snapshot": {"volume_id": vid, "force": True}})
    assert forced.status_code == 202
    assert cinder.snapshots("GET").json()["snapshots"][0]["volume_id"] == vid


def test_other_projects_volumes_and_snapshots_are_neither_read_nor_changed(
    cinder: Cinder,
) -> None:
    admin_url = cinder.url.replace(cinder.project, cinder.admin_project)
    theirs = cinder.create(token=cinder.admin, url=admin_url, name="admins")
    cinder.wait_status(theirs, "available")
    snap = cinder.snapshots(
        "POST",
        json={"snapshot": {"volume_id": theirs}},
        token=cinder.admin,
        url=admin_url,
    ).json()["snapshot"]
    cinder.wait_status(snap["id"], "available", kind="snapshot")
    for method, path, body in (
        ("GET", f"/{theirs}", None),
        ("PUT", f"/{theirs}", {"volume": {"name": "mine"}}),
        ("DELETE", f"/{theirs}", None),
        ("POST", f"/{theirs}/action", {"os-reserve": {}}),
    ):
        answer = cinder.call(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
    assert cinder.snapshots("GET", f"/{snap['id']}").status_code == 404
    assert cinder.snapshots("DELETE", f"/{snap['id']}").status_code == 404
    assert cinder.snapshots("POST", json={"snapshot": {"volume_id": theirs}}).status_code == 404
    assert cinder.call("POST", json={"volume": {"snapshot_id": snap["id"]}}).status_code == 404
    assert cinder.call("GET", "/detail", params={"all_tenants": 1}).json()["volumes"] == []
    assert cinder.snapshots("GET", params={"all_tenants": 1}).json()["snapshots"] == []
    assert httpx.get(admin_url, headers={"X-Auth-Token": cinder.token}).status_code == 403
    everything = cinder.call("GET", "/detail", token=cinder.admin, params={"all_tenants": 1})
    assert [v["id"] for v in everything.json()["volumes"]] == [theirs]
    assert cinder.call("GET", f"/{theirs}", token=cinder.admin).json()["volume"]["name"] == "admins"


def test_microversions_are_the_ones_served(cinder: Cinder) -> None:
    root = httpx.get(cinder.server.url + "/").json()["versions"][0]
    assert (root["id"], root["min_version"], root["version"]) == ("v3.0", "3.0", "3.0")
    assert httpx.get(cinder.server.url + "/v3").json()["version"]["version"] == "3.0"
    answer = cinder.call("GET", headers={"OpenStack-API-Version": "volume 3.0"})
    assert answer.headers["OpenStack-API-Version"] == "volume 3.0"
    latest = cinder.call("GET", headers={"OpenStack-API-Version": "volume latest"})
    assert latest.headers["OpenStack-API-Version"] == "volume 3.0"
    for asked in ("volume 3.70", "volume 2.0", "volume x"):
        refused = cinder.call("GET", headers={"OpenStack-API-Version": asked})
        assert refused.status_code == 406, (asked, refused.text)


def test_the_openapi_document_shows_each_resource(cinder: Cinder) -> None:
    doc = httpx.get(cinder.server.url + "/openapi.json").json()
    assert set(doc["paths"]) >= {
        "/v3/{project_id}/volumes",
        "/v3/{project_id}/volumes/{volume_id}",
        "/v3/{project_id}/volumes/{volume_id}/action",
        "/v3/{project_id}/snapshots",
        "/v3/{project_id}/snapshots/{snapshot_id}",
    }
    schemas = doc["components"]["schemas"]
    assert schemas["VolumeCreate"]["properties"]["name"]["anyOf"][0]["maxLength"] == 255
    assert "volume_id" in schemas["SnapshotCreate"]["required"]
