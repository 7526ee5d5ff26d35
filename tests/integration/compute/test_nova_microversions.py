"""nova-api's answers follow the microversion asked for, as nova's do (the table in
labcloud/compute/api/__init__.py): server bodies (2.3, 2.9, 2.16, 2.19, 2.26), key pairs
(2.2, 2.10, 2.35), limits and quotas (2.36, and the usage ``quota show --usage`` reads),
hypervisors (2.28), services (2.11); and instance action events named and timed as nova
records them."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from labcloud.trace.bus import EventLog
from labcloud.trace.events import DbEvent
from tests.integration.compute.test_nova_api import Api, _wait_deleted
from tests.integration.compute.test_nova_api import admin as admin  # the fixtures
from tests.integration.compute.test_nova_api import cloud as cloud
from tests.integration.compute.test_nova_api import demo as demo


def at(version: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {version}"}


def server(api: Api, uuid: str, version: str) -> dict[str, Any]:
    answer = api("GET", f"/servers/{uuid}", headers=at(version))
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["server"])


EC2_ATTRIBUTES = {"reservation_id", "launch_index", "hostname", "kernel_id", "ramdisk_id",
                  "root_device_name", "user_data"}  # fmt: skip


def test_server_bodies_follow_the_microversion(demo: Api, admin: Api) -> None:
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    refused = demo("POST", "/servers", headers=at("2.18"), json={"server": {
        "name": "x", "flavorRef": "1", "imageRef": demo.image(), "description": "d"}})  # fmt: skip
    assert refused.status_code == 400, refused.text
    assert "description" in refused.json()["badRequest"]["message"]
    uuid = demo.boot("Web Server_1", version="2.19", description="the web", user_data=user_data)
    demo.wait(uuid)

    plain = server(demo, uuid, "2.1")
    assert not {"locked", "description", "tags", "host_status"} & set(plain)
    old = server(admin, uuid, "2.2")
    assert not {f"OS-EXT-SRV-ATTR:{a}" for a in EC2_ATTRIBUTES} & set(old)
    assert old["OS-EXT-SRV-ATTR:host"] == "compute1"

    shown = server(admin, uuid, "2.3")
    ec2 = {a: shown[f"OS-EXT-SRV-ATTR:{a}"] for a in EC2_ATTRIBUTES}
    assert ec2["reservation_id"].startswith("r-")
    assert len(ec2["reservation_id"]) == 10
    assert ec2 | {"reservation_id": "r"} == {
        "reservation_id": "r", "launch_index": 0, "hostname": "web-server-1", "kernel_id": "",
        "ramdisk_id": "", "root_device_name": "/dev/vda", "user_data": user_data}  # fmt: skip
    assert "OS-EXT-SRV-ATTR:host" not in server(demo, uuid, "2.3")  # admins' only

    latest = server(demo, uuid, "2.37")
    assert (latest["locked"], latest["description"], latest["tags"]) == (False, "the web", [])
    assert "host_status" not in latest  # admins' only
    assert server(admin, uuid, "2.15").get("host_status") is None
    assert server(admin, uuid, "2.16")["host_status"] == "UP"
    listed = admin("GET", "/servers/detail", params={"all_tenants": 1}, headers=at("2.16"))
    assert {s["id"]: s["host_status"] for s in listed.json()["servers"]} == {uuid: "UP"}

    body = {"server": {"description": "renamed"}}
    assert demo("PUT", f"/servers/{uuid}", json=body, headers=at("2.18")).status_code == 400
    changed = demo("PUT", f"/servers/{uuid}", json=body, headers=at("2.19"))
    assert changed.json()["server"]["description"] == "renamed"
    cleared = demo("PUT", f"/servers/{uuid}", json={"server": {"description": None}},
                   headers=at("2.19"))  # fmt: skip
    assert cleared.json()["server"]["description"] is None
    _lock_and_tags(demo, admin, uuid)


def _lock_and_tags(demo: Api, admin: Api, uuid: str) -> None:
    """2.9's lock and 2.26's tags: a locked server refuses changes to all but admins."""
    assert demo("POST", f"/servers/{uuid}/action", json={"lock": None}).status_code == 202
    assert server(demo, uuid, "2.9")["locked"] is True
    refused = demo("POST", f"/servers/{uuid}/action", json={"os-stop": None})
    assert refused.status_code == 409, refused.text
    assert "is locked" in refused.json()["conflictingRequest"]["message"]
    assert demo("DELETE", f"/servers/{uuid}").status_code == 409
    assert demo("PUT", f"/servers/{uuid}/tags/web", headers=at("2.26")).status_code == 409
    assert demo("POST", f"/servers/{uuid}/action", json={"unlock": None}).status_code == 202
    assert server(demo, uuid, "2.9")["locked"] is False
    # an admin's lock on another project's server: the owner cannot lift it
    assert admin("POST", f"/servers/{uuid}/action", json={"lock": None}).status_code == 202
    assert demo("POST", f"/servers/{uuid}/action", json={"unlock": None}).status_code == 403
    assert admin("POST", f"/servers/{uuid}/action", json={"unlock": None}).status_code == 202

    assert demo("GET", f"/servers/{uuid}/tags", headers=at("2.25")).status_code == 404
    added = demo("PUT", f"/servers/{uuid}/tags/web", headers=at("2.26"))
    assert added.status_code == 201
    assert added.headers["Location"].endswith("/tags/web")
    assert demo("PUT", f"/servers/{uuid}/tags/web", headers=at("2.26")).status_code == 204
    put = demo("PUT", f"/servers/{uuid}/tags", json={"tags": ["a", "b", "a"]}, headers=at("2.26"))
    assert put.json() == {"tags": ["a", "b"]}
    assert demo("GET", f"/servers/{uuid}/tags/a", headers=at("2.26")).status_code == 204
    assert demo("GET", f"/servers/{uuid}/tags/web", headers=at("2.26")).status_code == 404
    assert demo("PUT", f"/servers/{uuid}/tags/a,b", headers=at("2.26")).status_code == 400
    assert demo("DELETE", f"/servers/{uuid}/tags/a", headers=at("2.26")).status_code == 204
    assert server(demo, uuid, "2.26")["tags"] == ["b"]
    assert demo("DELETE", f"/servers/{uuid}/tags", headers=at("2.26")).status_code == 204
    assert server(demo, uuid, "2.26")["tags"] == []


def test_keypairs_follow_the_microversion(demo: Api, admin: Api) -> None:
    made = demo("POST", "/os-keypairs", json={"keypair": {"name": "k1"}})
    assert made.status_code == 200
    assert "type" not in made.json()["keypair"]
    typed = {"keypair": {"name": "k2", "type": "ssh"}}
    assert demo("POST", "/os-keypairs", json=typed).status_code == 400  # 2.2's
    made = demo("POST", "/os-keypairs", json=typed, headers=at("2.2"))
    assert made.status_code == 201
    assert made.json()["keypair"]["type"] == "ssh"
    for name in ("k3", "k4"):
        demo("POST", "/os-keypairs", json={"keypair": {"name": name}}, headers=at("2.2"))
    assert [k["keypair"]["name"] for k in demo("GET", "/os-keypairs").json()["keypairs"]] == [
        "k1", "k2", "k3", "k4"]  # fmt: skip
    assert "type" not in demo("GET", "/os-keypairs/k1").json()["keypair"]
    page = demo("GET", "/os-keypairs", params={"limit": 2, "marker": "k1"}, headers=at("2.35"))
    assert [k["keypair"]["name"] for k in page.json()["keypairs"]] == ["k2", "k3"]
    assert "marker=k3" in page.json()["keypairs_links"][0]["href"]

    demo_user = demo("GET", "/os-keypairs/k1").json()["keypair"]["user_id"]
    theirs = admin("GET", "/os-keypairs", params={"user_id": demo_user}, headers=at("2.10"))
    assert len(theirs.json()["keypairs"]) == 4
    mine = admin("GET", "/os-keypairs", params={"user_id": demo_user}, headers=at("2.9"))
    assert mine.json()["keypairs"] == []  # below 2.10 user_id means nothing
    admin_user = admin("POST", "/os-keypairs", json={"keypair": {"name": "a"}}, headers=at("2.2"))
    other = {"user_id": admin_user.json()["keypair"]["user_id"]}
    assert demo("GET", "/os-keypairs", params=other, headers=at("2.10")).status_code == 403
    on_behalf = {"keypair": {"name": "given", "user_id": demo_user}}
    assert admin("POST", "/os-keypairs", json=on_behalf, headers=at("2.10")).status_code == 201
    assert demo("GET", "/os-keypairs/given").status_code == 200
    assert demo("DELETE", "/os-keypairs/k1").status_code == 202
    assert demo("DELETE", "/os-keypairs/k2", headers=at("2.2")).status_code == 204


NETWORK_LIMITS = {"maxTotalFloatingIps", "maxSecurityGroups", "maxSecurityGroupRules",
                  "totalFloatingIpsUsed", "totalSecurityGroupsUsed"}  # fmt: skip
NETWORK_QUOTAS = {"floating_ips", "fixed_ips", "security_groups", "security_group_rules"}


def test_limits_quotas_hypervisors_and_services_follow_the_microversion(
    demo: Api, admin: Api
) -> None:
    project = demo.cloud.project_id("demo")
    assert set(demo("GET", "/limits").json()["limits"]["absolute"]) >= NETWORK_LIMITS
    later = demo("GET", "/limits", headers=at("2.36")).json()["limits"]["absolute"]
    assert not NETWORK_LIMITS & set(later)
    assert later["maxTotalInstances"] == -1
    assert set(demo("GET", f"/os-quota-sets/{project}").json()["quota_set"]) >= NETWORK_QUOTAS
    shown = demo("GET", f"/os-quota-sets/{project}", headers=at("2.36")).json()["quota_set"]
    assert not NETWORK_QUOTAS & set(shown)

    admin("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": 5}})
    uuid = demo.boot("counted")
    demo.wait(uuid)
    detail = demo("GET", f"/os-quota-sets/{project}/detail").json()["quota_set"]
    assert detail["id"] == project
    assert detail["instances"] == {"limit": 5, "in_use": 1, "reserved": 0}
    assert detail["cores"] == {"limit": -1, "in_use": 1, "reserved": 0}
    assert detail["ram"]["in_use"] == 512
    assert detail["key_pairs"]["in_use"] == 0  # a user's, not counted per project (nova)
    later_detail = demo("GET", f"/os-quota-sets/{project}/detail", headers=at("2.36"))
    assert not NETWORK_QUOTAS & set(later_detail.json()["quota_set"])
    other = demo.cloud.project_id("other")
    assert demo("GET", f"/os-quota-sets/{other}/detail").status_code == 403

    cpu = admin("GET", "/os-hypervisors/detail").json()["hypervisors"][0]["cpu_info"]
    assert isinstance(cpu, str)
    cpu = admin("GET", "/os-hypervisors/1", headers=at("2.28")).json()["hypervisor"]["cpu_info"]
    assert isinstance(cpu, dict)
    assert "forced_down" not in admin("GET", "/os-services").json()["services"][0]
    later_services = admin("GET", "/os-services", headers=at("2.11")).json()["services"]
    assert later_services[0]["forced_down"] is False
    demo("DELETE", f"/servers/{uuid}")
    _wait_deleted(demo, uuid)


def _events(api: Api, uuid: str, version: str = "2.1") -> dict[str, list[dict[str, Any]]]:
    """Each action of the server (by name, newest first) with its events."""
    listed = api("GET", f"/servers/{uuid}/os-instance-actions", headers=at(version))
    assert listed.status_code == 200, listed.text
    result = {}
    for action in listed.json()["instanceActions"]:
        path = f"/servers/{uuid}/os-instance-actions/{action['request_id']}"
        shown = api("GET", path, headers=at(version)).json()["instanceAction"]
        result[action["action"]] = shown["events"]
    return result


def _finished_events(api: Api) -> EventLog:
    """The trace of each event row finished (an UPDATE of instance_actions_events): an
    event ends after the state its method set, so a test waits for it, not for the state."""
    return api.cloud.bus.collect(
        lambda e: e.table == "instance_actions_events" and e.op == "update", types=(DbEvent,)
    )


def _wait_finished(log: EventLog, count: int) -> None:
    log.wait_for(lambda _: len(log) >= count, timeout=30)


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_instance_action_events_are_named_and_timed_as_nova_records_them(
    demo: Api, admin: Api
) -> None:
    finished = _finished_events(admin)
    uuid = demo.boot("evented")
    active = demo.wait(uuid)
    assert demo("POST", f"/servers/{uuid}/action", json={"reboot": {"type": "SOFT"}}).status_code \
        == 202  # fmt: skip
    demo.wait(uuid)
    assert demo("POST", f"/servers/{uuid}/action", json={"os-stop": None}).status_code == 202
    demo.wait(uuid, "SHUTOFF")
    _wait_finished(finished, 3)
    events = _events(admin, uuid)
    names = {action: [e["event"] for e in shown] for action, shown in events.items()}
    assert names == {
        "create": ["compute__do_build_and_run_instance"],
        "reboot": ["compute_reboot_instance"],
        "stop": ["compute_stop_instance"],
    }
    build = events["create"][0]
    assert (build["result"], build["traceback"]) == ("Success", None)
    assert "host" not in build
    assert "details" not in build
    # the build ran between the request and the server's launch: its own times, not the API's
    launched = _when(active["OS-SRV-USG:launched_at"])
    started, ended = _when(build["start_time"]), _when(build["finish_time"])
    assert started <= ended
    assert _when(active["created"].rstrip("Z")) <= started
    assert ended.replace(microsecond=0) >= launched

    demo("DELETE", f"/servers/{uuid}")
    _wait_deleted(demo, uuid)
    _wait_finished(finished, 4)
    finished.close()
    assert admin("GET", f"/servers/{uuid}/os-instance-actions").status_code == 404
    deleted = _events(admin, uuid, "2.21")
    assert [e["event"] for e in deleted["delete"]] == ["compute_terminate_instance"]


def test_a_boot_no_host_can_take_is_the_conductors_error_event(admin: Api) -> None:
    body = {"server": {"name": "nowhere", "flavorRef": "1", "imageRef": admin.image(),
                       "availability_zone": "nova:no-such-host"}}  # fmt: skip
    finished = _finished_events(admin)
    answer = admin("POST", "/servers", json=body)
    assert answer.status_code == 202, answer.text
    uuid = answer.json()["server"]["id"]
    admin.wait(uuid, "ERROR")
    _wait_finished(finished, 1)
    finished.close()
    (event,) = _events(admin, uuid)["create"]
    assert (event["event"], event["result"]) == ("conductor_schedule_and_build_instances", "Error")
    assert "NoValidHost" in event["traceback"]
    action = admin("GET", f"/servers/{uuid}/os-instance-actions").json()["instanceActions"][0]
    assert action["message"] == "Error"
