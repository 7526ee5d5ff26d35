"""neutron → nova: ``POST /os-server-external-events`` (admin or service only, its body
checked at the edge, 200/207/404 with a code per event as nova answers), and the boot that
waits for network-vif-plugged: the event through the whole cloud, and a build whose port
never comes up ending in ERROR with nova's fault (or ACTIVE, when that is not fatal)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from labcloud.cloud import LabCloud
from labcloud.compute.states import PowerState
from labcloud.compute.virt.driver import ComputeDriver
from labcloud.config import Settings
from labcloud.spec import CloudSpec, HostSpec
from labcloud.trace.events import ExternalEvent, HttpEvent
from labcloud.trace.flow import FlowRecorder

EVENTS = "/v2.1/os-server-external-events"


def plugged(server: str, port: str = "p1") -> dict[str, Any]:
    return {"server_uuid": server, "name": "network-vif-plugged", "tag": port}


class Nova:
    def __init__(self, cloud: LabCloud, token: str) -> None:
        self.cloud = cloud
        self.http = httpx.Client(
            base_url=cloud.urls["compute"], headers={"X-Auth-Token": token}, timeout=60
        )

    def events(self, *events: dict[str, Any], body: Any = None) -> httpx.Response:
        return self.http.post(EVENTS, json={"events": list(events)} if body is None else body)

    def boot(self, name: str, flavor: str = "1") -> str:
        image = httpx.get(
            self.cloud.urls["image"] + "/v2/images", headers=self.http.headers
        ).json()["images"][0]["id"]
        server = {"name": name, "flavorRef": flavor, "imageRef": image}
        answer = self.http.post("/v2.1/servers", json={"server": server})
        assert answer.status_code == 202, answer.text
        return str(answer.json()["server"]["id"])

    def server(self, uuid: str) -> dict[str, Any]:
        return dict(self.http.get(f"/v2.1/servers/{uuid}").json()["server"])


class Spy:
    """What nova-compute asks of a host's driver: ``spawned`` set once a spawn returned."""

    def __init__(self, driver: ComputeDriver) -> None:
        self.driver, self.calls = driver, list[tuple[str, Any]]()
        self.spawned = threading.Event()
        spawn, unpause = driver.spawn, driver.unpause

        def spying_spawn(*args: Any, **kwargs: Any) -> None:
            spawn(*args, **kwargs)
            self.calls.append(("spawn", kwargs.get("paused", False)))
            self.spawned.set()

        def spying_unpause(instance: dict[str, Any]) -> None:
            self.calls.append(("unpause", self.state(instance["uuid"])))
            unpause(instance)

        driver.spawn = spying_spawn  # type: ignore[method-assign]
        driver.unpause = spying_unpause  # type: ignore[method-assign]

    def state(self, uuid: str) -> PowerState:
        return self.driver.get_info({"uuid": uuid}).state


@pytest.fixture
def cloud() -> Iterator[LabCloud]:
    # one small host: m1.small (2048 MB) fits nowhere, so its server stays without a host
    spec = CloudSpec.demo(hosts=1).but(hosts=(HostSpec("compute1", ram_mb=1024),))
    with LabCloud(spec, bcrypt_rounds=4) as c:
        yield c


@pytest.fixture
def service(cloud: LabCloud) -> Iterator[Nova]:
    """nova-api as neutron calls it: with neutron's service user's token."""
    assert cloud.network.nova is not None
    nova = Nova(cloud, cloud.network.nova.nova.token.get())
    yield nova
    nova.http.close()


@pytest.fixture
def demo(cloud: LabCloud) -> Iterator[Nova]:
    nova = Nova(cloud, cloud.login("demo"))
    yield nova
    nova.http.close()


@pytest.fixture
def admin(cloud: LabCloud) -> Iterator[Nova]:
    nova = Nova(cloud, cloud.login("admin"))
    yield nova
    nova.http.close()


def test_only_admin_or_service_may_post_events(
    cloud: LabCloud, demo: Nova, admin: Nova, service: Nova
) -> None:
    server = demo.boot("vm1")
    cloud.wait_for(server)
    refused = demo.events(plugged(server))
    assert refused.status_code == 403, refused.text
    assert "os-server-external-events:create" in refused.json()["forbidden"]["message"]
    for caller in (admin, service):
        answer = caller.events(plugged(server))
        assert answer.status_code == 200, answer.text
        assert answer.json()["events"] == [plugged(server) | {"status": "completed", "code": 200}]


BAD_BODIES = [
    {},
    {"events": []},
    {"events": "all"},
    {"events": [{"name": "network-vif-plugged"}]},  # no server_uuid
    {"events": [{"server_uuid": "not-a-uuid", "name": "network-vif-plugged"}]},
    {"events": [{"server_uuid": str(uuid.uuid4()), "name": "volume-extended"}]},  # 2.51
    {"events": [{"server_uuid": str(uuid.uuid4()), "name": "network-vif-plugged", "x": 1}]},
    {"events": [plugged(str(uuid.uuid4())) | {"status": "done"}]},
    {"events": [plugged(str(uuid.uuid4()), "t" * 256)]},
    {"events": [plugged(str(uuid.uuid4()))], "more": 1},
]


def test_a_bad_body_is_400(service: Nova) -> None:
    for body in BAD_BODIES:
        answer = service.events(body=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["badRequest"]["code"] == 400


def test_unknown_servers_are_404_and_a_mixed_answer_207(
    cloud: LabCloud, demo: Nova, service: Nova
) -> None:
    unknown = str(uuid.uuid4())
    answer = service.events(plugged(unknown))
    assert answer.status_code == 404, answer.text
    assert "No instances found for any event" in answer.text

    running = demo.boot("vm1")
    cloud.wait_for(running)
    hostless = demo.boot("too-big", flavor="2")  # NoValidHost: ERROR, no host
    cloud.wait_for(hostless, "ERROR")
    answer = service.events(plugged(running), plugged(unknown), plugged(hostless))
    assert answer.status_code == 207, answer.text
    assert [(e["server_uuid"], e["status"], e["code"]) for e in answer.json()["events"]] == [
        (running, "completed", 200),
        (unknown, "failed", 404),
        (hostless, "failed", 422),
    ]


def test_the_boot_waits_for_neutrons_network_vif_plugged(cloud: LabCloud, demo: Nova) -> None:
    flow = FlowRecorder(cloud.bus)
    posts: list[HttpEvent] = []
    cloud.bus.subscribe(posts.append, where=lambda e: isinstance(e, HttpEvent) and EVENTS in e.url)
    server = demo.boot("vm1")
    cloud.wait_for(server)
    port = demo.server(server)  # its port went ACTIVE through the L2 agent, then nova heard
    ports = httpx.get(
        cloud.urls["network"] + "/v2.0/ports",
        params={"device_id": server},
        headers=demo.http.headers,
    ).json()["ports"]
    assert port["status"] == "ACTIVE"
    assert [p["status"] for p in ports] == ["ACTIVE"]
    got = [e for e in flow.events if isinstance(e, ExternalEvent)]
    assert [(e.event, e.name, e.tag, e.sender, e.host) for e in got] == [
        ("received", "network-vif-plugged", ports[0]["id"], "neutron", "compute1")
    ]
    assert flow.external_events(server) == [
        f"neutron → nova: network-vif-plugged (port {ports[0]['id'][:8]}, received)"
    ]
    # received before the instance went ACTIVE, after the spawn began (step 28)
    order = [e for e in flow.events if e in got or getattr(e, "step", 0) == 28]
    assert [type(e).__name__ for e in order] == ["StepEvent", "ExternalEvent"]
    assert flow.wait_for_state(server, "ACTIVE").time >= got[0].time
    assert {(p.source, p.target, p.method, p.status) for p in posts} == {
        ("neutron-server", "nova-api", "POST", 200)
    }
    flow.close()


def test_the_guest_is_paused_until_network_vif_plugged() -> None:
    """As nova's libvirt driver: the guest is created paused while nova-compute waits, and
    runs once neutron's event came (posted here as neutron would, with no L2 agent)."""
    # a wait shorter than the default 300 s, so that a failing test does not wait it out
    with LabCloud(
        CloudSpec.demo(hosts=1), Settings(vif_plugging_timeout=30), bcrypt_rounds=4
    ) as cloud:
        cloud.network.stop_l2_agent("compute1")
        spy = Spy(cloud.compute_driver("compute1"))
        demo = Nova(cloud, cloud.login("demo"))
        assert cloud.network.nova is not None
        service = Nova(cloud, cloud.network.nova.nova.token.get())
        try:
            server = demo.boot("vm1")
            assert spy.spawned.wait(30)
            assert spy.state(server) is PowerState.PAUSED
            assert demo.server(server)["status"] == "BUILD"
            assert spy.calls == [("spawn", True)]  # not let run before the event
            ports = httpx.get(
                cloud.urls["network"] + "/v2.0/ports",
                params={"device_id": server},
                headers=demo.http.headers,
            ).json()["ports"]
            assert service.events(plugged(server, ports[0]["id"])).status_code == 200
            cloud.wait_for(server)
            assert spy.calls == [("spawn", True), ("unpause", PowerState.PAUSED)]
            assert spy.state(server) is PowerState.RUNNING
            assert demo.server(server)["OS-EXT-STS:power_state"] == PowerState.RUNNING
        finally:
            demo.http.close()
            service.http.close()


def test_a_guest_nothing_is_waited_for_starts_at_once() -> None:
    """vif_plugging_timeout 0: nova-compute does not wait, the guest is not paused."""
    with LabCloud(
        CloudSpec.demo(hosts=1), Settings(vif_plugging_timeout=0), bcrypt_rounds=4
    ) as cloud:
        spy = Spy(cloud.compute_driver("compute1"))
        nova = Nova(cloud, cloud.login("demo"))
        try:
            server = nova.boot("vm1")
            cloud.wait_for(server)
        finally:
            nova.http.close()
        assert spy.calls == [("spawn", False)]
        assert spy.state(server) is PowerState.RUNNING


@pytest.mark.parametrize("fatal", [True, False])
def test_a_port_that_never_comes_up(fatal: bool) -> None:
    """No L2 agent on the host: the port stays DOWN, neutron never says plugged."""
    settings = Settings(vif_plugging_timeout=0.5, vif_plugging_is_fatal=fatal)
    with LabCloud(CloudSpec.demo(hosts=1), settings, bcrypt_rounds=4) as cloud:
        cloud.network.stop_l2_agent("compute1")
        spy = Spy(cloud.compute_driver("compute1"))
        nova = Nova(cloud, cloud.login("demo"))
        try:
            flow = FlowRecorder(cloud.bus)
            server = nova.boot("vm1")
            cloud.wait_for(server, "ERROR" if fatal else "ACTIVE")
            shown = nova.server(server)
            timed_out = [e for e in flow.events if isinstance(e, ExternalEvent)]
            assert [(e.event, e.name) for e in timed_out] == [("timed-out", "network-vif-plugged")]
            flow.close()
        finally:
            nova.http.close()
        if fatal:
            fault = cloud.compute.instances.fault(server)
            assert fault is not None
            assert fault["message"] == (
                f"Build of instance {server} aborted: Failed to allocate the network(s), "
                "not rescheduling."
            )
            assert shown["status"] == "ERROR"
            assert spy.calls == [("spawn", True)]  # never let run: its paused guest is gone
            assert spy.driver.list_instances() == []
        else:
            assert shown["status"] == "ACTIVE"
            assert spy.calls == [("spawn", True), ("unpause", PowerState.PAUSED)]


def test_a_port_deleted_under_a_server_leaves_its_addresses(cloud: LabCloud, demo: Nova) -> None:
    server = demo.boot("vm1")
    cloud.wait_for(server)
    assert demo.server(server)["addresses"]
    heard = threading.Event()
    cloud.bus.subscribe(
        lambda e: heard.set(),
        where=lambda e: isinstance(e, ExternalEvent) and e.name == "network-vif-deleted",
    )
    network = httpx.Client(base_url=cloud.urls["network"], headers=demo.http.headers)
    try:
        (port,) = network.get("/v2.0/ports", params={"device_id": server}).json()["ports"]
        assert network.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    finally:
        network.close()
    assert heard.wait(30)  # neutron → nova-api → nova-compute, which drops it from the server
    assert demo.server(server)["addresses"] == {}
