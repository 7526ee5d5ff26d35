"""nova-api as clients call it: bad input refused at the edge (400 badRequest naming the
field, nothing written), what openstacksdk and the CLI send (ports, fixed IPs, key pairs,
``networks: []``), filters, metadata, quotas, zones, hypervisors, instance actions, and
nova's default policy (admin-only attributes and calls, no other project's servers)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import sqlalchemy

from labcloud.cloud import LabCloud
from labcloud.spec import CloudSpec, UserSpec
from labcloud.trace.events import PauseEvent, StateEvent
from labcloud.trace.flow import FlowRecorder


class Api:
    """One user's calls to nova-api (and neutron, glance where a test needs them)."""

    def __init__(self, cloud: LabCloud, user: str) -> None:
        self.cloud = cloud
        self.http = httpx.Client(headers={"X-Auth-Token": cloud.login(user)}, timeout=60)
        self.nova = cloud.urls["compute"] + "/v2.1"

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, self.nova + path, **kwargs)

    def image(self) -> str:
        images = self.http.get(self.cloud.urls["image"] + "/v2/images").json()["images"]
        return str(images[0]["id"])

    def network(self, name: str = "private") -> str:
        nets = self.http.get(self.cloud.urls["network"] + "/v2.0/networks").json()["networks"]
        return str(next(n["id"] for n in nets if n["name"] == name))

    def port(self, port_id: str) -> dict[str, Any]:
        answer = self.http.get(f"{self.cloud.urls['network']}/v2.0/ports/{port_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["port"])

    def boot(self, name: str, version: str = "2.1", **server: Any) -> str:
        body = {"server": {"name": name, "flavorRef": "1", "imageRef": self.image()} | server}
        headers = {"OpenStack-API-Version": f"compute {version}"}
        answer = self("POST", "/servers", json=body, headers=headers)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["server"]["id"])

    def wait(self, uuid: str, status: str = "ACTIVE") -> dict[str, Any]:
        flow = FlowRecorder(self.cloud.bus)
        try:
            server = self("GET", f"/servers/{uuid}").json()["server"]
            if server["status"] != status:
                flow.wait_for_state(uuid, status)
                server = self("GET", f"/servers/{uuid}").json()["server"]
        finally:
            flow.close()
        assert server["status"] == status, server
        return dict(server)


@pytest.fixture
def cloud() -> Iterator[LabCloud]:
    demo = CloudSpec.demo(hosts=1)
    spec = demo.but(
        projects=(*demo.projects, "other"),
        users=(*demo.users, UserSpec("bob", project="other", roles=("member",))),
    )
    with LabCloud(spec) as c:
        yield c


@pytest.fixture
def demo(cloud: LabCloud) -> Iterator[Api]:
    api = Api(cloud, "demo")
    yield api
    api.http.close()


@pytest.fixture
def admin(cloud: LabCloud) -> Iterator[Api]:
    api = Api(cloud, "admin")
    yield api
    api.http.close()


@pytest.fixture
def bob(cloud: LabCloud) -> Iterator[Api]:
    api = Api(cloud, "bob")
    yield api
    api.http.close()


BAD_SERVERS = [
    ("imageRef", {"imageRef": "../../v2/images"}),
    ("imageRef", {"imageRef": "6b2f1a7e-0000-4000-8000-000000000000?x=1"}),
    ("imageRef", {"imageRef": "http://glance/v2/images/../../secret"}),
    ("name", {"name": "x" * 256}),
    ("name", {"name": "nul\x00byte"}),
    ("name", {"name": " padded "}),
    ("min_count", {"min_count": 0}),
    ("min_count", {"min_count": "two"}),
    ("min_count", {"min_count": 2**70}),
    ("max_count", {"max_count": True}),
    ("server", {"min_count": 3, "max_count": 2}),
    ("metadata", {"metadata": {"k": "v" * 256}}),
    ("metadata", {"metadata": {"k": 5}}),
    ("networks", {"networks": "everything"}),
    ("networks", {"networks": [{"fixed_ip": "10.0.0.5"}]}),
    ("uuid", {"networks": [{"uuid": "not-a-uuid"}]}),
    ("fixed_ip", {"networks": [{"uuid": "6b2f1a7e-0000-4000-8000-000000000000", "fixed_ip": "x"}]}),
    ("flavorRef", {"flavorRef": "../1"}),
    ("key_name", {"key_name": "a\x00b"}),
]


def test_a_bad_server_is_400_naming_the_field_and_writes_nothing(demo: Api) -> None:
    before = demo("GET", "/servers").json()["servers"]
    for field, change in BAD_SERVERS:
        body = {"server": {"name": "bad", "flavorRef": "1", "imageRef": demo.image()} | change}
        answer = demo("POST", "/servers", json=body)
        assert answer.status_code == 400, (change, answer.text)
        assert answer.json()["badRequest"]["code"] == 400
        message = answer.json()["badRequest"]["message"]
        assert field in message, (change, message)
    assert demo("GET", "/servers").json()["servers"] == before


OTHER_BODIES = [
    ("/os-keypairs", {"keypair": {"name": "x" * 256}}, "name"),
    ("/os-keypairs", {"keypair": {"name": "k", "public_key": "ssh-rsa ???"}}, "public key"),
    ("/os-keypairs", {"keypair": {"name": "k", "type": "gpg"}}, "type"),
    ("/servers/{id}/action", {"reboot": {"type": "GENTLE"}}, "reboot.type"),
    ("/servers/{id}/action", {"resize": {}}, "resize.flavorRef"),
    ("/servers/{id}/action", {"os-getConsoleOutput": {"length": -5}}, "length"),
    ("/servers/{id}/metadata", {"metadata": {"": "v"}}, "metadata"),
]


def test_other_bodies_and_queries_are_checked_too(demo: Api) -> None:
    uuid = "6b2f1a7e-0000-4000-8000-000000000000"
    for path, body, field in OTHER_BODIES:
        answer = demo("POST", path.replace("{id}", uuid), json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert field in answer.json()["badRequest"]["message"], (body, answer.text)
    for params in ({"limit": -1}, {"limit": 2**70}, {"name": "("}, {"marker": "nobody"}):
        answer = demo("GET", "/servers/detail", params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert "badRequest" in answer.json()
    # ids in paths: never a valid row, never sent to the database as they are
    for bad in ("x" * 300, "nul%00byte", "..%2F..", "%E2%98%83"):
        for path in (
            f"/servers/{bad}",
            f"/servers/{bad}/metadata",
            f"/servers/{uuid}/os-instance-actions/{bad}",
            f"/os-keypairs/{bad}",
            f"/flavors/{bad}",
        ):
            assert demo("GET", path).status_code == 404, path
        assert demo("GET", f"/os-quota-sets/{bad}").status_code in (400, 403, 404)


def test_a_server_with_a_port_a_fixed_ip_and_a_keypair(demo: Api) -> None:
    neutron = demo.cloud.urls["network"] + "/v2.0/ports"
    made = demo.http.post(neutron, json={"port": {"network_id": demo.network(), "name": "mine"}})
    assert made.status_code == 201, made.text
    port = made.json()["port"]
    key = demo("POST", "/os-keypairs", json={"keypair": {"name": "lab-key"}})
    assert key.status_code == 200, key.text
    assert key.json()["keypair"]["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY")
    uuid = demo.boot(
        "with-port",
        key_name="lab-key",
        networks=[{"port": port["id"]}, {"uuid": demo.network(), "fixed_ip": "10.0.0.77"}],
    )
    server = demo.wait(uuid)
    assert server["key_name"] == "lab-key"
    addresses = {a["addr"] for a in server["addresses"]["private"]}
    assert addresses == {port["fixed_ips"][0]["ip_address"], "10.0.0.77"}
    assert demo.port(port["id"])["device_id"] == uuid
    row = demo.cloud.compute.frontend.instances.get(uuid)
    assert row["key_data"] == key.json()["keypair"]["public_key"]
    # the port is the user's: in use by one server, then kept (unbound) when it is deleted
    again = demo("POST", "/servers", json={"server": {"name": "x", "flavorRef": "1",
                 "imageRef": demo.image(), "networks": [{"port": port["id"]}]}})  # fmt: skip
    assert again.status_code == 409, again.text
    assert demo("DELETE", f"/servers/{uuid}").status_code == 204
    _wait_deleted(demo, uuid)
    assert demo.port(port["id"])["device_id"] == ""


def _wait_deleted(api: Api, uuid: str) -> None:
    flow = FlowRecorder(api.cloud.bus)
    try:
        if api("GET", f"/servers/{uuid}").status_code != 404:
            flow.wait_for_state(uuid, "DELETED")
    finally:
        flow.close()
    assert api("GET", f"/servers/{uuid}").status_code == 404


def test_no_networks_or_an_empty_list_at_2_1_gets_a_port_on_the_projects_network(
    demo: Api,
) -> None:
    for networks in ({}, {"networks": []}):
        uuid = demo.boot("auto-net", **networks)
        server = demo.wait(uuid)
        assert [a["addr"].startswith("10.0.0.") for a in server["addresses"]["private"]] == [True]
        assert demo("DELETE", f"/servers/{uuid}").status_code == 204
        _wait_deleted(demo, uuid)


def test_from_2_37_networks_is_required_and_may_be_auto_or_none(demo: Api) -> None:
    body = {"server": {"name": "v", "flavorRef": "1", "imageRef": demo.image()}}
    at_2_37 = {"OpenStack-API-Version": "compute 2.37"}
    missing = demo("POST", "/servers", json=body, headers=at_2_37)
    assert missing.status_code == 400
    assert "'networks' is a required property" in missing.json()["badRequest"]["message"]
    assert missing.headers["OpenStack-API-Version"] == "compute 2.37"
    for word in ("auto", "none"):  # strings are 2.37's: below, networks is a list
        below = {"server": body["server"] | {"networks": word}}
        refused = demo(
            "POST", "/servers", json=below, headers={"X-OpenStack-Nova-API-Version": "2.36"}
        )
        assert refused.status_code == 400, refused.text
        assert "is not of type 'array'" in refused.json()["badRequest"]["message"]
    uuid = demo.boot("no-net", version="2.37", networks="none")
    assert demo.wait(uuid)["addresses"] == {}
    ports = demo.http.get(f"{demo.cloud.urls['network']}/v2.0/ports?device_id={uuid}").json()
    assert ports["ports"] == []
    demo("DELETE", f"/servers/{uuid}")
    _wait_deleted(demo, uuid)
    uuid = demo.boot("auto-net", version="2.37", networks="auto")
    addresses = demo.wait(uuid)["addresses"]
    assert [a["addr"].startswith("10.0.0.") for a in addresses["private"]] == [True]
    demo("DELETE", f"/servers/{uuid}")
    _wait_deleted(demo, uuid)


def test_a_microversion_outside_2_1_to_2_37_is_406(demo: Api) -> None:
    for asked in ("compute 2.38", "compute 3.0"):
        answer = demo("GET", "/servers", headers={"OpenStack-API-Version": asked})
        assert answer.status_code == 406
        assert "maximum is 2.37" in answer.json()["computeFault"]["message"]
    latest = demo("GET", "/servers", headers={"OpenStack-API-Version": "compute latest"})
    assert latest.headers["OpenStack-API-Version"] == "compute 2.37"
    plain = demo("GET", "/servers")
    assert plain.headers["OpenStack-API-Version"] == "compute 2.1"
    assert (
        demo("GET", "/servers", headers={"OpenStack-API-Version": "compute 2.x"}).status_code == 400
    )


def test_filters_rename_metadata_and_instance_actions(demo: Api, admin: Api) -> None:
    first = demo.boot("web-1", metadata={"role": "web"})
    second = demo.boot("db-1")
    demo.wait(first), demo.wait(second)

    def names(**q: Any) -> list[str]:
        return [s["name"] for s in demo("GET", "/servers/detail", params=q).json()["servers"]]

    assert names(name="^web") == ["web-1"]
    assert set(names(status="ACTIVE")) >= {"web-1", "db-1"}
    newest = names(limit=1)
    assert len(newest) == 1
    after = demo("GET", "/servers", params={"marker": second}).json()["servers"]
    assert second not in [s["id"] for s in after]
    assert names(**{"changes-since": "2999-01-01T00:00:00Z"}) == []
    renamed = demo("PUT", f"/servers/{first}", json={"server": {"name": "web-2"}})
    assert renamed.json()["server"]["name"] == "web-2"
    assert demo("POST", f"/servers/{first}/metadata", json={"metadata": {"tier": "1"}}).json() == {
        "metadata": {"role": "web", "tier": "1"}
    }
    assert demo("DELETE", f"/servers/{first}/metadata/role").status_code == 204
    assert demo("GET", f"/servers/{first}/metadata").json() == {"metadata": {"tier": "1"}}
    assert demo("GET", f"/servers/{first}/metadata/role").status_code == 404
    actions = demo("GET", f"/servers/{first}/os-instance-actions").json()["instanceActions"]
    assert [a["action"] for a in actions] == ["create"]
    shown = demo("GET", f"/servers/{first}/os-instance-actions/{actions[0]['request_id']}")
    assert "events" not in shown.json()["instanceAction"]  # admins' below 2.51, as in nova
    as_admin = admin("GET", f"/servers/{first}/os-instance-actions/{actions[0]['request_id']}")
    events = as_admin.json()["instanceAction"]["events"]  # its result: test_nova_microversions
    assert [e["event"] for e in events] == ["compute__do_build_and_run_instance"]
    for uuid in (first, second):
        demo("DELETE", f"/servers/{uuid}")
        _wait_deleted(demo, uuid)


def test_keypairs_limits_and_quotas(demo: Api, admin: Api) -> None:
    public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZ3hEqc5E4Lqf7QFqm5f5l6w8T3n5lQm0bCq4Hq0Q8e x"
    imported = demo("POST", "/os-keypairs", json={"keypair": {"name": "imp", "public_key": public}})
    assert imported.status_code == 200, imported.text
    assert "private_key" not in imported.json()["keypair"]
    assert imported.json()["keypair"]["fingerprint"].count(":") == 15
    listed = demo("GET", "/os-keypairs").json()["keypairs"]
    assert "imp" in [k["keypair"]["name"] for k in listed]
    assert demo("GET", "/os-keypairs/imp").json()["keypair"]["public_key"] == public
    duplicate = demo(
        "POST", "/os-keypairs", json={"keypair": {"name": "imp", "public_key": public}}
    )
    assert duplicate.status_code == 409
    assert demo("DELETE", "/os-keypairs/imp").status_code == 202
    assert demo("GET", "/os-keypairs/imp").status_code == 404

    project = demo.cloud.project_id("demo")
    absolute = demo("GET", "/limits").json()["limits"]["absolute"]
    assert absolute["maxTotalInstances"] == -1
    assert demo("GET", f"/os-quota-sets/{project}").json()["quota_set"]["id"] == project
    body = {"quota_set": {"instances": 0}}
    assert demo("PUT", f"/os-quota-sets/{project}", json=body).status_code == 403
    bad = {"quota_set": {"cores": "x"}}
    assert admin("PUT", f"/os-quota-sets/{project}", json=bad).status_code == 400
    changed = admin("PUT", f"/os-quota-sets/{project}", json=body)
    assert changed.json()["quota_set"]["instances"] == 0
    try:
        refused = demo("POST", "/servers", json={"server": {"name": "over", "flavorRef": "1",
                       "imageRef": demo.image()}})  # fmt: skip
        assert refused.status_code == 403
        assert "Quota exceeded for instances" in refused.json()["forbidden"]["message"]
        assert demo("GET", "/limits").json()["limits"]["absolute"]["maxTotalInstances"] == 0
    finally:
        admin("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": -1}})


def test_zones_hypervisors_and_admin_only_attributes(demo: Api, admin: Api) -> None:
    zones = demo("GET", "/os-availability-zone").json()["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]
    assert demo("GET", "/os-availability-zone/detail").status_code == 403
    detail = admin("GET", "/os-availability-zone/detail").json()["availabilityZoneInfo"]
    assert list(detail[0]["hosts"]) == ["compute1"]
    assert demo("GET", "/os-hypervisors").status_code == 403
    hypervisors = admin("GET", "/os-hypervisors/detail").json()["hypervisors"]
    assert [h["hypervisor_hostname"] for h in hypervisors] == ["compute1"]
    flavor = demo("GET", "/flavors/1/os-extra_specs")
    assert flavor.json() == {"extra_specs": {}}


def test_policy_no_other_projects_servers(demo: Api, admin: Api, bob: Api) -> None:
    uuid = demo.boot("demo-own")
    server = demo.wait(uuid)
    assert not [k for k in server if k.startswith("OS-EXT-SRV-ATTR:")]
    assert admin("GET", f"/servers/{uuid}").json()["server"]["OS-EXT-SRV-ATTR:host"] == "compute1"
    assert demo("GET", "/servers", params={"all_tenants": "1"}).status_code == 403
    assert uuid not in [s["id"] for s in admin("GET", "/servers").json()["servers"]]
    everyone = admin("GET", "/servers", params={"all_tenants": "1"}).json()["servers"]
    assert uuid in [s["id"] for s in everyone]
    assert uuid not in [s["id"] for s in bob("GET", "/servers/detail").json()["servers"]]
    for method, path, body in (
        ("GET", f"/servers/{uuid}", None),
        ("PUT", f"/servers/{uuid}", {"server": {"name": "stolen"}}),
        ("GET", f"/servers/{uuid}/metadata", None),
        ("POST", f"/servers/{uuid}/metadata", {"metadata": {"a": "b"}}),
        ("POST", f"/servers/{uuid}/action", {"os-stop": None}),
        ("GET", f"/servers/{uuid}/os-instance-actions", None),
        ("GET", f"/servers/{uuid}/os-volume_attachments", None),
        ("DELETE", f"/servers/{uuid}", None),
    ):
        answer = bob(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
    project = demo.cloud.project_id("demo")
    assert bob("GET", f"/os-quota-sets/{project}").status_code == 403
    assert demo("GET", f"/servers/{uuid}").json()["server"]["name"] == "demo-own"
    demo("DELETE", f"/servers/{uuid}")
    _wait_deleted(demo, uuid)


def test_two_boots_racing_past_a_quota_of_one_do_not_both_run(demo: Api, admin: Api) -> None:
    """Both requests pass nova-api's check before either writes its instance (held at step
    6 by the stepper); nova-conductor's recheck counts what is written by then, so at most
    one runs and the other ends in ERROR with the quota's fault (nova's ``recheck_quota``:
    one or both may fail, never both succeed)."""
    project = demo.cloud.project_id("demo")
    admin("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": 1}})
    stepper = demo.cloud.stepper
    stepper.break_on(step=6)
    body = {"server": {"name": "racer", "flavorRef": "1", "imageRef": demo.image()}}
    paused = demo.cloud.bus.collect(lambda e: e.event == "paused", types=(PauseEvent,))
    final = demo.cloud.bus.collect(lambda e: e.status in ("ACTIVE", "ERROR"), types=(StateEvent,))
    with ThreadPoolExecutor(2) as pool:
        answers = [pool.submit(demo, "POST", "/servers", json=body) for _ in range(2)]
        paused.wait_for(lambda _: len(paused) >= 2, timeout=30)  # both at step 6
        paused.close()
        stepper.clear()  # both checked, neither written: let them go
        uuids = [a.result().json()["server"]["id"] for a in answers]
    final.wait_for(lambda _: {e.id for e in final} >= set(uuids), timeout=60)
    final.close()
    servers = [demo("GET", f"/servers/{uuid}").json()["server"] for uuid in uuids]
    statuses = sorted(s["status"] for s in servers)
    assert statuses in (["ACTIVE", "ERROR"], ["ERROR", "ERROR"]), statuses
    for server in servers:
        if server["status"] == "ERROR":
            assert "Quota exceeded for instances" in server["fault"]["message"]
    shown = demo("GET", f"/os-quota-sets/{project}/detail").json()["quota_set"]
    assert shown["instances"] == {"limit": 1, "in_use": 2, "reserved": 0}  # ERROR ones count
    flavor = demo("GET", "/flavors/1").json()["flavor"]  # counted by the database's sums
    assert shown["cores"]["in_use"] == 2 * flavor["vcpus"]
    assert shown["ram"]["in_use"] == 2 * flavor["ram"]
    for uuid in uuids:
        assert demo("DELETE", f"/servers/{uuid}").status_code == 204
        _wait_deleted(demo, uuid)
    alone = demo.boot("alone")  # within the quota again
    demo.wait(alone)


def test_servers_detail_reads_the_pages_faults_in_one_query(demo: Api) -> None:
    """Each server in ERROR shows its latest fault, as GET /servers/{id} does; the page's
    faults are one query, not one per server."""
    uuids = [demo.boot(f"f-{i}") for i in range(3)]
    for uuid in uuids:
        demo.wait(uuid)
    instances = demo.cloud.compute.instances
    for n, uuid in enumerate(uuids[:2]):
        instances.update(uuid, {"vm_state": "error"}, fault=(500, f"first {n}", "x"))
    instances.add_fault(uuids[0], 500, "latest", "y")
    statements: list[str] = []

    def seen(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = instances.db.engine
    sqlalchemy.event.listen(engine, "before_cursor_execute", seen)
    try:
        servers = demo("GET", "/servers/detail").json()["servers"]
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", seen)
    assert sum("instance_faults" in s for s in statements) == 1
    shown = {s["id"]: s for s in servers}
    assert [shown[u].get("fault", {}).get("message") for u in uuids] == ["latest", "first 1", None]
    for uuid in uuids:
        assert shown[uuid] == demo("GET", f"/servers/{uuid}").json()["server"]
        demo("DELETE", f"/servers/{uuid}")
        _wait_deleted(demo, uuid)
