"""glance against hostile input and other projects (issue 10): every bad body or query is a
400 (or 403/404/413) in glance's error shape, before anything is stored or removed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.image.conftest import PATCH, Glance

JSON = {"Content-Type": "application/json"}


def _count(glance: Glance) -> int:
    return len(glance.call("GET", "/images", glance.admin, params={"limit": 1000}).json()["images"])


def _nested(levels: int) -> Any:
    return json.loads("[" * levels + "]" * levels)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ["a", "list"]}, "name"),
        ({"protected": "yes"}, "protected"),
        ({"id": "a" * 300}, "id"),
        ({"id": "bad\x00id"}, ""),
        ({"id": "../../etc"}, "id"),
        ({"name": "x" * 256}, "name"),
        ({"name": "nul\x00byte"}, ""),
        ({"min_ram": 2**31}, "min_ram"),
        ({"min_disk": -1}, "min_disk"),
        ({"tags": ["a", "a"]}, "tags"),
        ({"disk_format": "floppy"}, "disk_format"),
        ({"color": 5}, "color"),
        ({"x" * 256: "long name"}, ""),
        ({"big": "x" * 70_000}, "big"),
        ({"deep": _nested(500)}, ""),
    ],
    ids=[
        "name-list",
        "protected-yes",
        "id-300",
        "id-nul",
        "id-dotdot",
        "name-256",
        "name-nul",
        "min-ram-2-31",
        "min-disk-negative",
        "tags-twice",
        "disk-format",
        "custom-not-string",
        "custom-name-256",
        "custom-70k",
        "deep-500",
    ],
)
def test_bad_image_bodies_are_400_and_store_nothing(
    glance: Glance, body: dict[str, Any], field: str
) -> None:
    before = _count(glance)
    answer = glance.call("POST", "/images", json=body)
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["code"].startswith("400 ")
    assert field in answer.json()["message"]
    assert _count(glance) == before


def test_a_10_mb_property_is_413(glance: Glance) -> None:
    """Over oslo.middleware's body limit (112 KiB): 413 before glance reads it."""
    before = _count(glance)
    answer = glance.call("POST", "/images", json={"big": "x" * (10 << 20)})
    assert answer.status_code == 413
    assert answer.json()["code"].startswith("413 ")
    image = glance.create(name="small")
    ops = [{"op": "add", "path": "/big", "value": "x" * (10 << 20)}]
    assert (
        glance.call("PATCH", f"/images/{image['id']}", json=ops, headers=PATCH).status_code == 413
    )
    assert _count(glance) == before + 1


def test_deeply_nested_json_is_400_not_a_recursion_error(glance: Glance) -> None:
    image = glance.create(name="deep")
    deep = b"[" * 50_000 + b"]" * 50_000  # under the body limit, over Python's recursion limit
    for method, path, headers in (
        ("PATCH", f"/images/{image['id']}", PATCH),
        ("POST", "/images", JSON),
        ("POST", f"/images/{image['id']}/members", JSON),
    ):
        answer = glance.call(method, path, content=deep, headers=headers)
        assert answer.status_code == 400, (method, path, answer.text[:200])
    nested = [{"op": "add", "path": "/x", "value": _nested(200)}]
    answer = glance.call("PATCH", f"/images/{image['id']}", json=nested, headers=PATCH)
    assert answer.status_code == 400


def test_bad_patches(glance: Glance) -> None:
    image = glance.create(name="patched")
    url = f"/images/{image['id']}"
    for ops, status in (
        ([{"op": "replace", "path": "/protected", "value": "yes"}], 400),
        ([{"op": "add", "path": "/big", "value": "x" * 70_000}], 400),
        ([{"op": "replace", "path": "/name", "value": "nul\x00"}], 400),
        ([{"op": "move", "path": "/name"}], 400),
        ([{"op": "add", "path": "/a/b", "value": "x"}], 400),
        ({"op": "add"}, 400),
        ([{"op": "replace", "path": "/id", "value": "x"}], 403),
        ([{"op": "add", "path": f"/p{i}", "value": "v"} for i in range(129)], 413),
    ):
        answer = glance.call("PATCH", url, json=ops, headers=PATCH)
        assert answer.status_code == status, (ops if len(str(ops)) < 200 else "...", answer.text)
        assert answer.json()["code"].startswith(f"{status} ")
    assert glance.call("GET", url).json()["name"] == "patched"


def test_too_many_properties_is_413(glance: Glance) -> None:
    answer = glance.call("POST", "/images", json={f"p{i}": "v" for i in range(129)})
    assert answer.status_code == 413
    assert glance.call("POST", "/images", json={f"p{i}": "v" for i in range(128)}).is_success


@pytest.mark.parametrize("image_id", ["..", "%2E%2E", "a" * 300, "bad%00id", "..%2F..%2Fetc"])
def test_bad_image_ids_name_no_image_and_remove_nothing(glance: Glance, image_id: str) -> None:
    before = _count(glance)
    files = sorted(glance.data.iterdir())
    for method in ("GET", "DELETE", "PATCH"):
        answer = glance.call(method, f"/images/{image_id}", glance.admin, json=[], headers=PATCH)
        assert answer.status_code == 404, (method, answer.text)
        assert answer.json()["code"].startswith("404 ")
    assert glance.call("GET", f"/images/{image_id}/file", glance.admin).status_code == 404
    assert _count(glance) == before
    assert sorted(glance.data.iterdir()) == files


@pytest.mark.parametrize(
    ("params", "status", "count"),
    [
        ({"limit": 0}, 200, 0),
        ({"limit": 1}, 200, 1),
        ({"limit": 10**30}, 200, None),
        ({"limit": -1}, 400, None),
        ({"limit": "x"}, 400, None),
        ({"marker": "no-such"}, 400, None),
        ({"sort_dir": "sideways"}, 400, None),
        ({"name": "nul\x00"}, 200, 0),
    ],
)
def test_list_queries(glance: Glance, params: dict[str, Any], status: int, count: int) -> None:
    answer = glance.call("GET", "/images", params=params)
    assert answer.status_code == status, answer.text
    if count is not None:
        assert len(answer.json()["images"]) == count
        assert "next" not in answer.json() or count > 0


def test_public_images_are_admin_only(glance: Glance) -> None:
    refused = glance.call("POST", "/images", json={"name": "mine", "visibility": "public"})
    assert refused.status_code == 403
    assert "publicize_image" in refused.json()["message"]
    image = glance.create(name="mine")
    url = f"/images/{image['id']}"
    ops = [{"op": "replace", "path": "/visibility", "value": "public"}]
    assert glance.call("PATCH", url, json=ops, headers=PATCH).status_code == 403
    assert glance.call("GET", url).json()["visibility"] == "shared"
    assert glance.call("PATCH", url, glance.admin, json=ops, headers=PATCH).status_code == 200
    assert glance.create(glance.admin, name="pub", visibility="public")["visibility"] == "public"


def test_owner_of_another_project_is_admin_only(glance: Glance, keystone: Any) -> None:
    admin_project = keystone.project_id("admin")
    refused = glance.call("POST", "/images", json={"owner": admin_project})
    assert refused.status_code == 403
    image = glance.create(name="mine", owner=glance.demo_project)
    ops = [{"op": "replace", "path": "/owner", "value": admin_project}]
    moved = glance.call("PATCH", f"/images/{image['id']}", json=ops, headers=PATCH)
    assert moved.status_code == 403
    given = glance.create(glance.admin, name="for-demo", owner=glance.demo_project)
    assert given["owner"] == glance.demo_project
    assert glance.call("DELETE", f"/images/{given['id']}").status_code == 204


def test_another_projects_private_image_is_neither_read_nor_changed(glance: Glance) -> None:
    secret = glance.create(glance.admin, name="secret", visibility="private")
    url = f"/images/{secret['id']}"
    assert glance.call("GET", url).status_code == 404
    assert glance.call("GET", url + "/file").status_code == 404
    assert glance.call("GET", url + "/members").status_code == 404
    ops = [{"op": "replace", "path": "/name", "value": "mine"}]
    assert glance.call("PATCH", url, json=ops, headers=PATCH).status_code == 404
    assert glance.call("PUT", url + "/file", content=b"x").status_code == 404
    assert glance.call("DELETE", url).status_code == 404
    names = {i["name"] for i in glance.call("GET", "/images").json()["images"]}
    assert "secret" not in names
    assert glance.call("GET", url, glance.admin).json()["name"] == "secret"


def test_members_list_show_and_remove(glance: Glance, keystone: Any) -> None:
    shared = glance.create(glance.admin, name="shared-one", visibility="shared")
    url = f"/images/{shared['id']}/members"
    demo = glance.demo_project
    assert glance.call("GET", url).status_code == 404  # not offered to demo yet
    assert glance.call("POST", url, glance.admin, json={"member": demo}).status_code == 200
    assert glance.call("POST", url, glance.admin, json={"member": demo}).status_code == 409
    other = glance.call("POST", url, glance.admin, json={"member": "another-project"})
    assert other.status_code == 200
    listed = glance.call("GET", url, glance.admin).json()
    assert listed["schema"] == "/v2/schemas/members"
    assert {m["member_id"] for m in listed["members"]} == {demo, "another-project"}
    mine = glance.call("GET", url).json()["members"]  # a member sees itself only
    assert [(m["member_id"], m["status"]) for m in mine] == [(demo, "pending")]
    assert glance.call("GET", f"{url}/{demo}").json()["status"] == "pending"
    assert glance.call("GET", f"{url}/another-project").status_code == 404
    assert glance.call("PUT", f"{url}/{demo}", json={"status": "maybe"}).status_code == 400
    assert glance.call("POST", url, glance.admin, json={"member": ["x"]}).status_code == 400
    assert glance.call("POST", url, glance.admin, json={}).status_code == 400
    assert glance.call("DELETE", f"{url}/{demo}").status_code == 403  # the owner's to remove
    assert glance.call("DELETE", f"{url}/{demo}", glance.admin).status_code == 204
    assert glance.call("GET", f"/images/{shared['id']}").status_code == 404
    private = glance.create(name="private-one", visibility="private")
    assert glance.call("GET", f"/images/{private['id']}/members").status_code == 403


def test_the_openapi_document_shows_the_schemas_checked(glance: Glance) -> None:
    doc = glance.call("GET", "/../openapi.json").json()
    create = doc["paths"]["/v2/images"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["name"]["maxLength"] == 255
    assert schema["additionalProperties"]["type"] == "string"
    patch = doc["paths"]["/v2/images/{image_id}"]["patch"]["requestBody"]["content"]
    assert list(patch) == ["application/openstack-images-v2.1-json-patch"]
    assert set(doc["paths"]) >= {
        "/v2/images/{image_id}/members",
        "/v2/images/{image_id}/members/{member_id}",
        "/v2/images/{image_id}/file",
        "/v2/schemas/{name}",
    }
    served = glance.call("GET", "/schemas/image").json()
    assert served["properties"]["name"] == schema["properties"]["name"]
