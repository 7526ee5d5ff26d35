"""cinder over real HTTP and memory:// RPC, with tokens from a real identity service."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from labcloud.trace import MessageEvent
from tests.conftest import Keystone
from tests.integration.volume.conftest import BrokenDriver, Cinder


def test_create_attach_detach_delete(cinder: Cinder) -> None:
    log = cinder.transport.bus.collect(
        where=lambda e: isinstance(e, MessageEvent) and e.event == "publish"
    )
    made = cinder.call("POST", json={"volume": {"size": 1, "name": "data"}})
    assert made.status_code == 202
    assert made.json()["volume"]["status"] == "creating"
    vid = made.json()["volume"]["id"]
    volume = cinder.wait_status(vid, "available")
    assert volume["status"] == "available"
    path = cinder.data / f"volume-{vid}"
    assert path.stat().st_size == 1 << 30
    casts = [(e.exchange, e.routing_key, e.method) for e in log]
    assert ("cinder", "cinder-scheduler", "create_volume") in casts
    assert ("cinder", "cinder-volume.volume1@file", "create_volume") in casts
    assert cinder.action(vid, "os-reserve").status_code == 200
    info = cinder.action(vid, "os-initialize_connection", {"connector": {"host": "compute1"}})
    assert info.json()["connection_info"]["data"]["device_path"] == str(path)
    cinder.action(vid, "os-attach", {"instance_uuid": "vm-1", "mountpoint": "/dev/vdb"})
    attached = cinder.call("GET", f"/{vid}").json()["volume"]
    assert attached["status"] == "in-use"
    assert attached["attachments"][0]["server_id"] == "vm-1"
    assert cinder.call("DELETE", f"/{vid}").status_code == 400  # in use
    assert cinder.action(vid, "os-reserve").status_code == 400  # not available
    cinder.action(vid, "os-begin_detaching")
    cinder.action(vid, "os-terminate_connection", {"connector": {"host": "compute1"}})
    cinder.action(vid, "os-detach")
    assert cinder.call("GET", f"/{vid}").json()["volume"]["status"] == "available"
    assert cinder.call("DELETE", f"/{vid}").status_code == 202
    log.close()
    gone = cinder.call("GET", f"/{vid}")
    for _ in range(50):
        if gone.status_code == 404:
            break
        gone = cinder.call("GET", f"/{vid}")
    assert gone.status_code == 404
    assert gone.json()["itemNotFound"]["code"] == 404
    assert not path.exists()


def test_a_driver_failure_ends_in_error(keystone: Keystone, tmp_path: Path) -> None:
    cinder = Cinder(keystone, tmp_path, BrokenDriver(tmp_path))
    try:
        vid = cinder.call("POST", json={"volume": {"size": 1}}).json()["volume"]["id"]
        assert cinder.wait_status(vid, "error")["status"] == "error"
        assert cinder.call("DELETE", f"/{vid}").status_code == 202
    finally:
        cinder.stop()


def test_another_projects_path_is_forbidden(cinder: Cinder, keystone: Keystone) -> None:
    other = f"{cinder.server.url}/v3/{keystone.project_id('admin')}/volumes"
    answer = httpx.get(other, headers={"X-Auth-Token": cinder.token})
    assert answer.status_code == 403
    assert answer.json()["forbidden"]["code"] == 403
    assert httpx.get(cinder.url).status_code == 401


@pytest.mark.parametrize(
    "body",
    [b"{nope", b"[]", b'{"volume": {"size": 0}}', b'{"volume": {"size": "big"}}', b'{"size": 1}'],
)
def test_bad_creates_are_400(cinder: Cinder, body: bytes) -> None:
    answer = cinder.call("POST", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["badRequest"]["code"] == 400


def test_unknown_volume_and_action(cinder: Cinder) -> None:
    assert cinder.call("GET", "/no-such-volume").status_code == 404
    vid = cinder.call("POST", json={"volume": {"size": 1}}).json()["volume"]["id"]
    assert cinder.action(vid, "os-explode").status_code == 400
