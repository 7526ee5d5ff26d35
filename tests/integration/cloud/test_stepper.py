"""Stopping the cloud at a step, a method or a route, looking, and going on.

Each test boots an instance with a breakpoint set; the boot request returns at once (202),
so the test thread, like a notebook cell, is never the one that waits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from labcloud.cloud import LabCloud
from labcloud.spec import CloudSpec
from labcloud.trace.events import HttpEvent, PauseEvent, StepEvent
from labcloud.trace.flow import FlowRecorder
from labcloud.trace.stepper import Breakpoint
from tests.integration.cloud.test_boot_flow import Client, in_seed_order, make_volume


@pytest.fixture
def cloud() -> Iterator[LabCloud]:
    with LabCloud(CloudSpec.demo()) as c:
        yield c


def test_a_boot_stops_at_step_9_and_the_rest_of_the_cloud_keeps_answering(
    cloud: LabCloud,
) -> None:
    flow = FlowRecorder(cloud.bus)
    client = Client(cloud)
    cloud.stepper.break_on(step=9)
    uuid = client.boot()
    pause = cloud.stepper.wait_paused()
    assert (pause.event.step, pause.service) == (9, "nova-scheduler")
    assert pause.breakpoint == "step 9"
    assert "scheduler" in pause.what
    server = client.server(uuid)  # nova-api answers while the scheduler is held
    assert (server["status"], server["OS-EXT-STS:task_state"]) == ("BUILD", "scheduling")
    assert flow.steps_of(uuid)[-1].step == 9
    cloud.stepper.resume()
    flow.wait_for_state(uuid, "ACTIVE")
    assert in_seed_order([s.step for s in flow.steps_of(uuid)]) == [*range(1, 25), 28]
    flow.close()


def test_breaking_on_an_rpc_method_shows_the_decoded_message(cloud: LabCloud) -> None:
    client = Client(cloud)
    cloud.stepper.break_on(method="build_and_run_instance")
    uuid = client.boot()
    pause = cloud.stepper.wait_paused()
    assert pause.service == "nova-compute"
    assert pause.detail["method"] == "build_and_run_instance"
    assert pause.detail["args"]["instance"]["uuid"] == uuid
    assert pause.detail["queue"].startswith("compute.")
    cloud.stepper.clear()
    FlowRecorder(cloud.bus).wait_for_state(uuid, "ACTIVE")


def test_step_stops_at_the_next_event_and_run_to_at_a_later_step(cloud: LabCloud) -> None:
    paused = cloud.bus.collect(where=lambda e: isinstance(e, PauseEvent) and e.event == "paused")
    flow = FlowRecorder(cloud.bus)
    client = Client(cloud)
    cloud.stepper.break_on(step=9)
    uuid = client.boot()
    first = cloud.stepper.wait_paused()
    cloud.stepper.step()
    second = paused.wait_for(lambda e: e.pause_id != first.id)
    assert second.breakpoint == "step"
    cloud.stepper.remove(Breakpoint(step=9))
    cloud.stepper.run_to(step=22)
    at_22 = paused.wait_for(lambda e: e.breakpoint.startswith("step 22"))
    assert at_22.detail["step"] == 22
    assert client.server(uuid)["OS-EXT-STS:task_state"] == "networking"
    assert cloud.stepper.breakpoints == []  # run_to's breakpoint is used once
    cloud.stepper.resume()
    flow.wait_for_state(uuid, "ACTIVE")
    paused.close()
    flow.close()


def test_a_route_breakpoint_stops_the_caller_when_the_answer_arrives(cloud: LabCloud) -> None:
    client = Client(cloud)
    cloud.stepper.break_on(route="POST /v2.0/ports")
    uuid = client.boot()
    pause = cloud.stepper.wait_paused()
    assert pause.service == "nova-compute"
    assert (pause.detail["method"], pause.detail["status"]) == ("POST", 201)
    cloud.stepper.resume()
    FlowRecorder(cloud.bus).wait_for_state(uuid, "ACTIVE")


def test_the_notebook_thread_is_never_held(cloud: LabCloud) -> None:
    seen = cloud.bus.collect(where=lambda e: isinstance(e, HttpEvent))
    cloud.stepper.break_on(route="/v3/auth/tokens")
    token = cloud.login("demo")  # this thread emits the matching event: it must not stop
    assert token
    assert any("/v3/auth/tokens" in e.url for e in seen)
    # an API's own login at start, if still on its way, is a service's request: it may stop
    held = [p.thread for p in cloud.stepper.paused]
    assert threading.current_thread().name not in held
    assert all(thread.endswith("-login") for thread in held)
    seen.close()


def test_a_forgotten_pause_lets_go_by_itself(cloud: LabCloud) -> None:
    ended = cloud.bus.collect(where=lambda e: isinstance(e, PauseEvent) and e.event == "timed-out")
    cloud.stepper.pause_timeout = 0.5
    cloud.stepper.break_on(step=9)
    uuid = Client(cloud).boot()
    FlowRecorder(cloud.bus).wait_for_state(uuid, "ACTIVE")
    assert ended[0].breakpoint == "step 9"
    ended.close()


def test_stopping_the_cloud_releases_paused_threads() -> None:
    cloud = LabCloud(CloudSpec.demo()).start()
    try:
        cloud.stepper.break_on(service="nova-conductor")
        Client(cloud).boot()
        cloud.stepper.wait_paused()
    finally:
        cloud.stop()  # would hang if the conductor's thread stayed held
    assert cloud.stepper.paused == []


def test_breakpoints_need_something_to_match() -> None:
    with pytest.raises(ValueError, match="needs a step"):
        Breakpoint()
    assert Breakpoint(step=9).matches(StepEvent(step=9, service="nova-scheduler", what="x"))
    assert not Breakpoint(step=9).matches(StepEvent(step=10, service="nova-scheduler", what="x"))


def test_an_unknown_route_is_not_matched_by_a_plain_get(cloud: LabCloud) -> None:
    cloud.stepper.break_on(route="DELETE /v2/images")
    token = cloud.login("demo")
    answer = httpx.get(cloud.urls["image"] + "/v2/images", headers={"X-Auth-Token": token})
    assert answer.status_code == 200
    assert cloud.stepper.paused == []


def test_a_boot_stops_at_each_of_the_28_steps_and_the_notebook_stays_free() -> None:
    """Every seed step is a place to stop, 1-8 included (keystone and nova-api held while
    they answer): cloud.boot() makes its requests from a thread, so this thread runs on."""
    with LabCloud(CloudSpec.demo()) as cloud:
        volume = make_volume(cloud, Client(cloud))
        for step in range(1, 29):
            detach_all(cloud)
            cloud.stepper.break_on(step=step)
            boot = cloud.boot(f"vm{step}", volumes=(volume,))
            pause = cloud.stepper.wait_paused()
            assert pause.event.step == step, (step, pause.what)
            assert cloud.project_id("demo")  # this thread still works: a database read
            cloud.stepper.clear()
            boot.wait("ACTIVE")
            delete(cloud, boot.server_id)
            boot.close()


def detach_all(cloud: LabCloud) -> None:
    """The volume must be available again before the next boot asks for it."""
    token = cloud.login("admin")
    url = f"{cloud.urls['volumev3']}/v3/{cloud.project_id('demo')}/volumes/detail"
    pause = threading.Event()
    for _ in range(500):  # cinder keeps status in its database: a bounded poll
        volumes = httpx.get(url, headers={"X-Auth-Token": token}).json()["volumes"]
        if all(v["status"] == "available" for v in volumes):
            return
        pause.wait(0.02)
    raise AssertionError(f"volumes still attached: {volumes}")


def delete(cloud: LabCloud, uuid: str) -> None:
    token = cloud.login("demo")
    flow = FlowRecorder(cloud.bus)
    answer = httpx.delete(
        f"{cloud.urls['compute']}/v2.1/servers/{uuid}", headers={"X-Auth-Token": token}
    )
    assert answer.status_code == 204
    flow.wait_for_state(uuid, "DELETED")
    flow.close()
