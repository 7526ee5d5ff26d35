"""Life after the boot: reboot, stop, start, suspend, resume and resize through the REST API.

Each action is checked the way a user sees it (status, vm_state, task_state, power_state in
GET /servers/{id}) and where it really happened (the hypervisor's power state, the host's
resource usage).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from labcloud.cloud import LabCloud
from labcloud.compute.states import PowerState
from labcloud.spec import CloudSpec, HostSpec
from labcloud.trace.events import StateEvent
from tests.integration.cloud.test_boot_flow import Client


class Server:
    """One instance, its actions, and its state changes in order (from the trace bus)."""

    def __init__(self, cloud: LabCloud, client: Client, uuid: str) -> None:
        self.cloud, self.client, self.uuid = cloud, client, uuid
        self.states = cloud.bus.collect(where=lambda e: isinstance(e, StateEvent) and e.id == uuid)
        self._seen = 0

    def action(self, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{self.client.nova}/servers/{self.uuid}/action",
            json=body,
            headers=self.client.headers(),
            timeout=30,
        )

    def do(self, body: dict[str, Any], then: str) -> dict[str, Any]:
        """Run an action, wait until the instance reaches status ``then``, return the server."""
        answer = self.action(body)
        assert answer.status_code == 202, answer.text
        self.wait(then)
        return self.client.server(self.uuid)

    def wait(self, status: str) -> StateEvent:
        """The next state change to ``status`` after the ones already waited for."""
        start = self._seen
        event: StateEvent = self.states.wait_for(
            lambda e: self.states.index(e) >= start and e.status == status, timeout=30
        )
        self._seen = self.states.index(event) + 1
        return event

    def host(self) -> str:
        return str(self.client.server(self.uuid)["OS-EXT-SRV-ATTR:host"])

    def power_on_hypervisor(self, host: str) -> PowerState:
        return self.cloud.compute_driver(host).get_info({"uuid": self.uuid}).state

    def close(self) -> None:
        self.states.close()


def states(server: dict[str, Any]) -> tuple[Any, ...]:
    return (
        server["status"],
        server["OS-EXT-STS:vm_state"],
        server["OS-EXT-STS:task_state"],
        server["OS-EXT-STS:power_state"],
    )


def action_events(server: Server) -> dict[str, list[str]]:
    """Each instance action of the server (as an admin sees them): its events' names."""
    headers = {"X-Auth-Token": server.cloud.login("admin")}
    base = f"{server.client.nova}/servers/{server.uuid}/os-instance-actions"
    events: dict[str, list[str]] = {}
    for action in httpx.get(base, headers=headers).json()["instanceActions"]:
        shown = httpx.get(f"{base}/{action['request_id']}", headers=headers).json()
        events[action["action"]] = [e["event"] for e in shown["instanceAction"]["events"]]
    return events


def used(cloud: LabCloud, host: str) -> dict[str, int]:
    return dict(cloud.compute.computes[host].resources.used)


@pytest.fixture
def cloud() -> Iterator[LabCloud]:
    with LabCloud(CloudSpec.demo()) as c:
        yield c


@pytest.fixture
def server(cloud: LabCloud) -> Iterator[Server]:
    client = Client(cloud)
    srv = Server(cloud, client, client.boot(flavor="1"))
    srv.wait("ACTIVE")
    yield srv
    srv.close()


def test_stop_start_reboot_suspend_resume(server: Server) -> None:
    host = server.host()
    after_stop = server.do({"os-stop": None}, then="SHUTOFF")
    assert states(after_stop) == ("SHUTOFF", "stopped", None, 4)
    assert server.power_on_hypervisor(host) is PowerState.SHUTDOWN

    assert states(server.do({"os-start": None}, then="ACTIVE")) == ("ACTIVE", "active", None, 1)
    assert server.power_on_hypervisor(host) is PowerState.RUNNING

    answer = server.action({"reboot": {"type": "HARD"}})
    assert answer.status_code == 202, answer.text
    assert server.wait("HARD_REBOOT").task_state == "rebooting_hard"
    server.wait("ACTIVE")
    assert server.do({"reboot": {"type": "SOFT"}}, then="ACTIVE")["status"] == "ACTIVE"

    after_suspend = server.do({"suspend": None}, then="SUSPENDED")
    assert states(after_suspend) == ("SUSPENDED", "suspended", None, 7)
    assert server.power_on_hypervisor(host) is PowerState.SUSPENDED
    assert states(server.do({"resume": None}, then="ACTIVE")) == ("ACTIVE", "active", None, 1)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"os-start": None}, 409),  # already running
        ({"resume": None}, 409),  # not suspended
        ({"confirmResize": None}, 409),  # not resized
        ({"revertResize": None}, 409),
        ({"reboot": {"type": "GENTLY"}}, 400),
        ({"resize": {}}, 400),
        ({"resize": {"flavorRef": "1"}}, 400),  # the flavor it has
        ({"resize": {"flavorRef": "no-such-flavor"}}, 400),
        ({"fly": None}, 400),
        ({"os-stop": None, "os-start": None}, 400),
    ],
)
def test_actions_in_the_wrong_state_or_malformed_are_refused(
    server: Server, body: dict[str, Any], code: int
) -> None:
    answer = server.action(body)
    assert answer.status_code == code, answer.text
    key = "conflictingRequest" if code == 409 else "badRequest"
    assert answer.json()[key]["code"] == code
    assert answer.json()[key]["message"]
    assert states(server.client.server(server.uuid)) == ("ACTIVE", "active", None, 1)


def test_an_action_on_an_unknown_server_is_404(cloud: LabCloud) -> None:
    client = Client(cloud)
    answer = httpx.post(
        f"{client.nova}/servers/00000000-0000-0000-0000-000000000000/action",
        json={"os-stop": None},
        headers=client.headers(),
    )
    assert answer.status_code == 404
    assert "itemNotFound" in answer.json()


def test_resize_then_confirm_keeps_the_new_flavor_and_frees_the_old(server: Server) -> None:
    cloud = server.cloud
    source = server.host()
    before = used(cloud, source)
    answer = server.action({"resize": {"flavorRef": "2"}})
    assert answer.status_code == 202, answer.text
    assert server.wait("RESIZE").task_state == "resize_prep"
    server.wait("VERIFY_RESIZE")
    resized = server.client.server(server.uuid)
    assert states(resized) == ("VERIFY_RESIZE", "resized", None, 1)
    assert resized["flavor"]["id"] == "2"  # m1.small
    dest = server.host()
    assert server.power_on_hypervisor(dest) is PowerState.RUNNING

    confirmed = server.do({"confirmResize": None}, then="ACTIVE")
    assert states(confirmed) == ("ACTIVE", "active", None, 1)
    assert confirmed["flavor"]["id"] == "2"  # m1.small
    small = {"vcpus": 1, "memory_mb": 2048, "local_gb": 20}
    if dest == source:
        assert used(cloud, dest) | {"running_vms": 0} == small | {"running_vms": 0}
    else:
        assert used(cloud, source) == {"vcpus": 0, "memory_mb": 0, "local_gb": 0, "running_vms": 0}
        assert used(cloud, dest) == small | {"running_vms": 1}
    assert before == {"vcpus": 1, "memory_mb": 512, "local_gb": 1, "running_vms": 1}
    events = action_events(server)  # each nova-compute step reports its event, as nova's
    assert events["resize"] == [
        "conductor_migrate_server",
        "compute_prep_resize",
        "compute_resize_instance",
        "compute_finish_resize",
    ]
    assert events["confirmResize"] == ["compute_confirm_resize"]


def test_resize_to_another_host_then_revert_brings_it_back() -> None:
    """compute2 is the only host with room for m1.large, so the move is across hosts."""
    spec = CloudSpec.demo().but(
        hosts=(HostSpec("compute1", ram_mb=4096), HostSpec("compute2", ram_mb=32768))
    )
    with LabCloud(spec) as cloud:
        client = Client(cloud, "admin")  # only an admin may choose the host
        srv = Server(cloud, client, client.boot(flavor="1", availability_zone="nova:compute1"))
        srv.wait("ACTIVE")
        assert srv.host() == "compute1"
        port = httpx.get(
            cloud.urls["network"] + "/v2.0/ports",
            params={"device_id": srv.uuid},
            headers=client.headers(),
        ).json()["ports"][0]
        assert port["binding:host_id"] == "compute1"

        resized = srv.do({"resize": {"flavorRef": "4"}}, then="VERIFY_RESIZE")
        assert resized["OS-EXT-SRV-ATTR:host"] == "compute2"
        assert resized["flavor"]["id"] == "4"  # m1.large
        assert srv.power_on_hypervisor("compute2") is PowerState.RUNNING
        assert srv.uuid not in cloud.compute_driver("compute1").list_instances()
        moved = httpx.get(
            f"{cloud.urls['network']}/v2.0/ports/{port['id']}", headers=client.headers()
        ).json()["port"]
        assert moved["binding:host_id"] == "compute2"
        assert moved["fixed_ips"] == port["fixed_ips"]  # same address after the move

        answer = srv.action({"revertResize": None})
        assert answer.status_code == 202, answer.text
        assert srv.wait("REVERT_RESIZE").task_state == "resize_reverting"
        srv.wait("ACTIVE")
        back = client.server(srv.uuid)
        assert states(back) == ("ACTIVE", "active", None, 1)
        assert back["OS-EXT-SRV-ATTR:host"] == "compute1"
        assert back["flavor"]["id"] == "1"  # m1.tiny
        assert srv.power_on_hypervisor("compute1") is PowerState.RUNNING
        assert srv.uuid not in cloud.compute_driver("compute2").list_instances()
        assert used(cloud, "compute2") == {
            "vcpus": 0,
            "memory_mb": 0,
            "local_gb": 0,
            "running_vms": 0,
        }
        assert used(cloud, "compute1")["memory_mb"] == 512
        port_back = httpx.get(
            f"{cloud.urls['network']}/v2.0/ports/{port['id']}", headers=client.headers()
        ).json()["port"]
        assert port_back["binding:host_id"] == "compute1"
        srv.close()


def test_a_resize_with_no_room_anywhere_keeps_the_instance_and_records_a_fault() -> None:
    spec = CloudSpec.demo().but(hosts=(HostSpec("compute1", ram_mb=4096),))
    with LabCloud(spec) as cloud:
        client = Client(cloud)
        server = Server(cloud, client, client.boot(flavor="1"))
        server.wait("ACTIVE")
        answer = server.action({"resize": {"flavorRef": "4"}})  # m1.large: 8 GB > 4 GB x 1.5
        assert answer.status_code == 202, answer.text
        assert server.wait("RESIZE").task_state == "resize_prep"
        server.wait("ACTIVE")
        after = client.server(server.uuid)
        assert states(after) == ("ACTIVE", "active", None, 1)
        assert after["flavor"]["id"] == "1"  # m1.tiny
        assert after["OS-EXT-SRV-ATTR:host"] == "compute1"
        assert cloud.compute.computes["compute1"].resources.used["memory_mb"] == 512
        fault = cloud.compute.instances.fault(server.uuid)
        assert fault is not None
        assert fault["message"].startswith("No valid host was found.")
        server.close()


def test_only_an_admin_may_choose_the_host(cloud: LabCloud) -> None:
    client = Client(cloud)
    body = {
        "server": {
            "name": "pinned",
            "flavorRef": "1",
            "imageRef": client.image_id(),
            "availability_zone": "nova:compute2",
        }
    }
    answer = httpx.post(client.nova + "/servers", json=body, headers=client.headers())
    assert answer.status_code == 403, answer.text
    assert "forced_host" in answer.json()["forbidden"]["message"]


def test_a_stopped_instance_resizes_and_stays_stopped(server: Server) -> None:
    server.do({"os-stop": None}, then="SHUTOFF")
    resized = server.do({"resize": {"flavorRef": "2"}}, then="VERIFY_RESIZE")
    assert states(resized) == ("VERIFY_RESIZE", "resized", None, 4)
    assert states(server.do({"confirmResize": None}, then="SHUTOFF")) == (
        "SHUTOFF",
        "stopped",
        None,
        4,
    )


def test_deleting_a_resized_instance_frees_both_hosts() -> None:
    spec = CloudSpec.demo().but(
        hosts=(HostSpec("compute1", ram_mb=4096), HostSpec("compute2", ram_mb=32768))
    )
    with LabCloud(spec) as cloud:
        client = Client(cloud, "admin")  # only an admin may choose the host
        srv = Server(cloud, client, client.boot(flavor="1", availability_zone="nova:compute1"))
        srv.wait("ACTIVE")
        srv.do({"resize": {"flavorRef": "4"}}, then="VERIFY_RESIZE")
        answer = httpx.delete(f"{client.nova}/servers/{srv.uuid}", headers=client.headers())
        assert answer.status_code == 204
        srv.wait("DELETED")
        zero = {"vcpus": 0, "memory_mb": 0, "local_gb": 0, "running_vms": 0}
        for host in ("compute1", "compute2"):
            assert srv.uuid not in cloud.compute_driver(host).list_instances()
        assert used(cloud, "compute2") == zero
        assert used(cloud, "compute1") == zero  # confirmed (a call) before the delete
        srv.close()


def test_a_quota_hit_is_refused_with_novas_message_and_creates_nothing(cloud: LabCloud) -> None:
    from labcloud.compute.frontend import NOVA_QUOTAS

    client = Client(cloud)
    assert cloud.compute.frontend.quotas == {"instances": -1, "cores": -1, "ram": -1}
    cloud.compute.frontend.quotas.update(NOVA_QUOTAS, instances=2)
    first = Server(cloud, client, client.boot(name="one"))
    first.wait("ACTIVE")
    body = {"server": {"name": "more", "flavorRef": "1", "imageRef": client.image_id()}}
    answer = httpx.post(
        client.nova + "/servers",
        json={"server": body["server"] | {"min_count": 2}},
        headers=client.headers(),
    )
    assert answer.status_code == 403, answer.text
    assert answer.json()["forbidden"]["message"] == (
        "Quota exceeded for instances: Requested 2, but already used 1 of 2 instances"
    )
    listed = httpx.get(client.nova + "/servers", headers=client.headers()).json()["servers"]
    assert [s["name"] for s in listed] == ["one"]
    cloud.compute.frontend.quotas["ram"] = 1024
    answer = httpx.post(
        client.nova + "/servers",
        json={"server": body["server"] | {"flavorRef": "2"}},  # m1.small: 2,048 MB
        headers=client.headers(),
    )
    assert answer.status_code == 403
    assert (
        "Quota exceeded for ram: Requested 2048, but already used 512 of 1024 ram"
        in (answer.json()["forbidden"]["message"])
    )
    first.close()
