"""A compute host goes down: nova sees it (servicegroup), stops scheduling to it, fails the
builds stuck on it instead of leaving them in BUILD, deletes its instances itself, and
takes the host back when nova-compute starts again.

The clock runs fast (reports every 0.2 s, down after 3 s: a loaded CI machine can delay a
heartbeat by more than a second) so each case takes seconds; the
logic is nova's with its 10 s and 60 s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from labcloud.cloud import LabCloud
from labcloud.config import Settings
from labcloud.spec import CloudSpec
from labcloud.trace.events import BrokerEvent, MessageEvent
from tests.integration.cloud.test_boot_flow import Client

DOWN_TIME = 3.0


@pytest.fixture
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabCloud]:
    settings = Settings(
        state_dir=tmp_path_factory.mktemp("hostdown"),
        report_interval=0.2,
        service_down_time=DOWN_TIME,
    )
    with LabCloud(CloudSpec.demo(), settings) as c:
        yield c


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for a condition that depends on the passing of real time (heartbeats)."""
    pause = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        pause.wait(0.05)
    raise AssertionError("condition not reached within the timeout")


def fixed_ips(client: Client, cloud: LabCloud, uuid: str) -> list[str]:
    ports = httpx.get(
        cloud.urls["network"] + "/v2.0/ports",
        params={"device_id": uuid},
        headers=client.headers(),
    ).json()["ports"]
    return [ip["ip_address"] for p in ports for ip in p["fixed_ips"]]


def test_a_stopped_host_goes_down_and_the_scheduler_skips_it(cloud: LabCloud) -> None:
    assert cloud.hosts_up() == {"compute1": True, "compute2": True}
    cloud.stop_compute("compute1")
    eventually(lambda: cloud.hosts_up() == {"compute1": False, "compute2": True})
    client = Client(cloud)
    for name in ("a", "b", "c"):  # without the filter, RAM weighing would spread them
        boot = cloud.boot(name)
        boot.wait("ACTIVE", timeout=30)
        assert client.server(boot.server_id)["OS-EXT-SRV-ATTR:host"] == "compute2"
    cloud.start_compute("compute1")
    assert cloud.hosts_up()["compute1"]


def test_a_build_on_a_dead_host_ends_in_error_and_delete_gives_the_ip_back(
    cloud: LabCloud,
) -> None:
    admin = Client(cloud, "admin")
    # the host dies between the scheduler's choice and the conductor's cast (step 12):
    # the build message then waits in compute.compute2, where nobody takes it
    cloud.stepper.break_on(step=12)
    uuid = admin.boot("doomed", availability_zone="nova:compute2")
    cloud.stepper.wait_paused(timeout=30)
    cloud.stop_compute("compute2")
    cloud.stepper.clear()
    eventually(lambda: admin.server(uuid)["status"] == "ERROR")
    server = admin.server(uuid)
    assert server["OS-EXT-STS:vm_state"] == "error"
    assert server["OS-EXT-STS:task_state"] is None
    assert "compute host compute2 is down" in server["fault"]["message"]
    queued = {q.name: q.messages for q in cloud.transport.snapshot().queues}
    assert queued["compute.compute2"] == 1  # the build message, waiting for a consumer

    answer = httpx.delete(f"{admin.nova}/servers/{uuid}", headers=admin.headers())
    assert answer.status_code == 204
    assert httpx.get(f"{admin.nova}/servers/{uuid}", headers=admin.headers()).status_code == 404

    cloud.start_compute("compute2")  # takes the stale build message, and does nothing with it
    eventually(lambda: cloud.hosts_up()["compute2"])
    eventually(lambda: _depth(cloud, "compute.compute2") == 0)
    assert cloud.compute_driver("compute2").list_instances() == []


def test_deleting_on_a_down_host_is_done_by_nova_api_and_frees_the_ip(cloud: LabCloud) -> None:
    admin = Client(cloud, "admin")
    uuid = admin.boot("stranded", availability_zone="nova:compute1")
    eventually(lambda: admin.server(uuid)["status"] == "ACTIVE")
    (ip,) = fixed_ips(admin, cloud, uuid)
    cloud.stop_compute("compute1")
    eventually(lambda: not cloud.hosts_up()["compute1"])
    sent: list[str] = []
    with cloud.bus.subscribe(
        lambda e: sent.append(e.method),
        types=(MessageEvent,),
        where=lambda e: e.event == "publish" and e.routing_key == "compute.compute1",
    ):
        answer = httpx.delete(f"{admin.nova}/servers/{uuid}", headers=admin.headers())
    assert answer.status_code == 204
    # no terminate_instance for compute1: nova-api did it all. neutron's network-vif-deleted
    # for the port nova-api deleted can reach nova-api before the instance's row is gone;
    # nova then casts it to the instance's host, as nova does, where it waits for the host
    assert set(sent) <= {"external_instance_event"}, sent
    assert httpx.get(f"{admin.nova}/servers/{uuid}", headers=admin.headers()).status_code == 404
    assert ip not in _used_ips(cloud, admin)


def test_a_restarted_host_fails_the_builds_it_was_doing(cloud: LabCloud) -> None:
    admin = Client(cloud, "admin")
    uuid = admin.boot("interrupted", availability_zone="nova:compute1")
    eventually(lambda: admin.server(uuid)["status"] == "ACTIVE")
    # what a crash mid-build leaves behind: the row says BUILD on this host
    cloud.compute.instances.update(uuid, {"vm_state": "building", "task_state": "spawning"})
    cloud.stop_compute("compute1")
    cloud.start_compute("compute1")
    server = admin.server(uuid)
    assert server["status"] == "ERROR"
    assert "restarted before it finished" in server["fault"]["message"]


def test_os_services_shows_what_nova_sees(cloud: LabCloud) -> None:
    admin, demo = Client(cloud, "admin"), Client(cloud)
    cloud.stop_compute("compute2")
    eventually(lambda: not cloud.hosts_up()["compute2"])
    answer = httpx.get(f"{admin.nova}/os-services", headers=admin.headers())
    assert answer.status_code == 200
    states = {s["host"]: (s["binary"], s["status"], s["state"]) for s in answer.json()["services"]}
    assert states == {
        "compute1": ("nova-compute", "enabled", "up"),
        "compute2": ("nova-compute", "enabled", "down"),
    }
    refused = httpx.get(f"{demo.nova}/os-services", headers=demo.headers())
    assert refused.status_code == 403
    assert "os-services:list" in refused.json()["forbidden"]["message"]


def test_an_unknown_host_is_a_clear_error(cloud: LabCloud) -> None:
    with pytest.raises(KeyError, match="no compute host 'compute9'"):
        cloud.stop_compute("compute9")


def _depth(cloud: LabCloud, queue: str) -> int:
    return next(
        q.messages + q.unacked for q in cloud.transport.snapshot().queues if q.name == queue
    )


def _used_ips(cloud: LabCloud, client: Client) -> set[str]:
    ports = httpx.get(cloud.urls["network"] + "/v2.0/ports", headers=client.headers()).json()
    return {ip["ip_address"] for p in ports["ports"] for ip in p["fixed_ips"]}


def test_a_build_that_stops_moving_times_out_into_error(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # long enough for a real build on a loaded machine: a build the timeout gives up is
    # undone by its host, not brought back to ACTIVE (it once was, and this test relied on it)
    settings = Settings(
        state_dir=tmp_path_factory.mktemp("timeout"), report_interval=0.2, build_timeout=10
    )
    with LabCloud(CloudSpec.demo(), settings) as cloud:
        client = Client(cloud)
        uuid = client.boot("lost")
        eventually(lambda: client.server(uuid)["status"] == "ACTIVE")
        (ip,) = fixed_ips(client, cloud, uuid)
        # what a build message lost with a broker's queue leaves: BUILD, on a live host
        cloud.compute.instances.update(uuid, {"vm_state": "building", "task_state": "spawning"})
        eventually(lambda: client.server(uuid)["status"] == "ERROR", timeout=60)
        assert client.server(uuid)["fault"]["message"] == (
            "Instance build timed out. Set to error state."
        )
        # the conductor freed its port with the nova service user's token: the IP is back
        eventually(lambda: fixed_ips(client, cloud, uuid) == [])
        assert ip not in _used_ips(cloud, Client(cloud, "admin"))


def test_the_broker_restarts_in_the_middle_of_a_boot(cloud: LabCloud) -> None:
    events = cloud.bus.collect(where=lambda e: isinstance(e, BrokerEvent))
    # step 9: the scheduler has taken (and acknowledged) select_destinations and works on it
    cloud.stepper.break_on(step=9)
    boot = cloud.boot("survivor")
    cloud.stepper.wait_paused(timeout=30)  # the conductor waits for the scheduler's reply
    before = {q.name for q in cloud.transport.snapshot().queues}
    report = cloud.restart_broker()
    assert set(report.queues_dropped) == before
    assert {q.name for q in cloud.transport.snapshot().queues} == before  # declared again
    cloud.stepper.clear()
    assert boot.wait("ACTIVE", timeout=30).status == "ACTIVE"
    (event,) = events
    assert event.queues_dropped == sorted(before)
    assert event.consumers_reconnected == report.consumers_reconnected > 0


def test_a_build_message_lost_in_a_restart_ends_in_error(cloud: LabCloud) -> None:
    admin = Client(cloud, "admin")
    cloud.stepper.break_on(step=12)
    uuid = admin.boot("lost", availability_zone="nova:compute2")
    cloud.stepper.wait_paused(timeout=30)
    cloud.stop_compute("compute2")
    cloud.stepper.clear()
    eventually(lambda: _depth(cloud, "compute.compute2") == 1)
    report = cloud.restart_broker()
    assert report.messages_lost == 1
    assert "compute.compute2" in report.queues_dropped
    cloud.start_compute("compute2")  # declares its queue again: empty
    server = admin.server(uuid)
    assert server["status"] == "ERROR"
    # whichever saw it first: the restarted host, or the conductor's check of down hosts
    message = server["fault"]["message"]
    assert "restarted before it finished" in message or "compute2 is down" in message
