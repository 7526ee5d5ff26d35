"""glance's API over real HTTP, with tokens from a real identity service."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labcloud.image.store import FileStore
from tests.conftest import Keystone
from tests.integration.image.conftest import PATCH, Glance


def test_upload_and_download_round_trip(glance: Glance) -> None:
    image = glance.create(name="mine")
    assert image["status"] == "queued"
    assert image["owner"] == glance.demo_project
    data = b"labcloud disk " * 5000
    put = glance.call(
        "PUT",
        f"/images/{image['id']}/file",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert put.status_code == 204
    shown = glance.call("GET", f"/images/{image['id']}").json()
    assert shown["status"] == "active"
    assert shown["size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    got = glance.call("GET", f"/images/{image['id']}/file")
    assert got.status_code == 200
    assert got.content == data
    assert glance.call("PUT", f"/images/{image['id']}/file", content=b"x").status_code == 409
    assert (glance.data / image["id"]).exists()
    assert glance.call("DELETE", f"/images/{image['id']}").status_code == 204
    assert not (glance.data / image["id"]).exists()
    assert glance.call("GET", f"/images/{image['id']}").status_code == 404


def test_the_specs_cirros_is_public_and_active(glance: Glance) -> None:
    images = glance.call("GET", "/images", params={"name": "cirros"}).json()["images"]
    assert [(i["name"], i["status"], i["visibility"]) for i in images] == [
        ("cirros", "active", "public")
    ]
    assert glance.call("GET", f"/images/{images[0]['id']}/file").content.startswith(b"QFI\xfb")


def test_paging_and_filters(glance: Glance) -> None:
    for i in range(5):
        glance.create(name=f"img{i}", color="blue" if i % 2 else "red")
    page = glance.call("GET", "/images", params={"limit": 2}).json()
    assert len(page["images"]) == 2
    assert "next" in page
    rest = glance.call("GET", page["next"].removeprefix("/v2")).json()
    assert len(rest["images"]) == 2
    assert {
        i["name"] for i in glance.call("GET", "/images", params={"color": "blue"}).json()["images"]
    } == {"img1", "img3"}
    ids = {i["name"]: i["id"] for i in glance.call("GET", "/images").json()["images"]}
    wanted = f"in:{ids['img0']},{ids['img4']}"  # how openstack server list looks names up
    found = glance.call("GET", "/images", params={"id": wanted}).json()["images"]
    assert {i["name"] for i in found} == {"img0", "img4"}
    assert [
        i["name"]
        for i in glance.call("GET", "/images", params={"name": "eq:img2"}).json()["images"]
    ] == ["img2"]


def test_json_patch(glance: Glance) -> None:
    image = glance.create(name="old")
    ops = [
        {"op": "replace", "path": "/name", "value": "new"},
        {"op": "add", "path": "/os_distro", "value": "cirros"},
        {"op": "add", "path": "/tags", "value": ["lab"]},
    ]
    patched = glance.call("PATCH", f"/images/{image['id']}", json=ops, headers=PATCH).json()
    assert (patched["name"], patched["os_distro"], patched["tags"]) == ("new", "cirros", ["lab"])
    removed = glance.call(
        "PATCH",
        f"/images/{image['id']}",
        headers=PATCH,
        json=[{"op": "remove", "path": "/os_distro"}],
    ).json()
    assert "os_distro" not in removed
    read_only = glance.call(
        "PATCH",
        f"/images/{image['id']}",
        headers=PATCH,
        json=[{"op": "replace", "path": "/status", "value": "active"}],
    )
    assert read_only.status_code == 403
    wrong_type = glance.call("PATCH", f"/images/{image['id']}", json=ops)
    assert wrong_type.status_code == 415


def test_visibility_and_members(glance: Glance, keystone: Keystone) -> None:
    private = glance.create(glance.admin, name="secret", visibility="private")
    shared = glance.create(glance.admin, name="shared-one", visibility="shared")
    names = {i["name"] for i in glance.call("GET", "/images").json()["images"]}
    assert "secret" not in names
    assert "shared-one" not in names
    assert glance.call("GET", f"/images/{private['id']}").status_code == 404
    assert glance.call("GET", f"/images/{shared['id']}").status_code == 404  # not a member
    member = glance.call(
        "POST",
        f"/images/{shared['id']}/members",
        glance.admin,
        json={"member": glance.demo_project},
    )
    assert member.status_code == 200
    assert member.json()["status"] == "pending"
    assert glance.call("GET", f"/images/{shared['id']}").status_code == 200  # shown, not listed
    accept = glance.call(
        "PUT", f"/images/{shared['id']}/members/{glance.demo_project}", json={"status": "accepted"}
    )
    assert accept.json()["status"] == "accepted"
    assert glance.call("GET", f"/images/{shared['id']}").status_code == 200
    assert glance.call("DELETE", f"/images/{shared['id']}").status_code == 403  # not mine


def test_show_answers_the_listed_view_byte_for_byte(glance: Glance) -> None:
    """``show`` renders its JSONResponse itself; ``index`` goes through FastAPI's encoder:
    the same image must come out as the same bytes (non-ASCII and escapes included)."""
    made = glance.create(glance.admin, name="été", visibility="public", note='a "b" \u2028')
    listed = glance.call("GET", "/images", params={"name": made["name"]})
    shown = glance.call("GET", f"/images/{made['id']}")
    (image,) = listed.json()["images"]
    expected = json.dumps(image, ensure_ascii=False, separators=(",", ":")).encode()
    assert (
        listed.content
        == json.dumps(listed.json(), ensure_ascii=False, separators=(",", ":")).encode()
    )  # what FastAPI's own rendering gives
    assert shown.content == expected
    assert shown.headers["content-type"] == listed.headers["content-type"] == "application/json"
    assert shown.headers["content-length"] == str(len(expected))


def test_protected_images_and_auth(glance: Glance) -> None:
    image = glance.create(name="keep", protected=True)
    answer = glance.call("DELETE", f"/images/{image['id']}")
    assert answer.status_code == 403
    assert answer.json()["code"].startswith("403 ")
    assert glance.call("GET", "/images", token="not-a-token").status_code == 401
    assert httpx.get(glance.url + "/images").status_code == 401


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{bad", 400),
        (b"[1]", 400),
        (b'{"visibility": "everyone"}', 400),
        (b'{"status": "active"}', 403),
    ],
    ids=["malformed", "not-an-object", "bad-visibility", "read-only"],
)
def test_bad_creates(glance: Glance, content: bytes, status: int) -> None:
    answer = glance.call(
        "POST", "/images", content=content, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["code"].startswith(f"{status} ")


def test_a_failed_upload_goes_back_to_queued(glance: Glance) -> None:
    image = glance.create(name="broken")

    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        glance.manager.upload(_ctxt(glance), image["id"], chunks())
    assert glance.call("GET", f"/images/{image['id']}").json()["status"] == "queued"
    assert list(glance.data.glob(".upload-*")) == []


def _ctxt(glance: Glance) -> Any:
    from labcloud.context import RequestContext

    return RequestContext(project_id=glance.demo_project)


def test_file_store_contract(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    size, md5, _sha = store.add("x", [b"ab", b"cd"])
    assert (size, md5) == (4, hashlib.md5(b"abcd", usedforsecurity=False).hexdigest())
    assert b"".join(store.get("x")) == b"abcd"
    store.delete("x")
    store.delete("x")
    with pytest.raises(Exception, match="has no data"):
        list(store.get("x"))
