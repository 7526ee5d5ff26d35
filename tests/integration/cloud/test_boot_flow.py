"""A whole cloud in this process boots instances through the seed's 28 steps."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from labcloud.cloud import LabCloud
from labcloud.context import new_request_id
from labcloud.spec import CloudSpec, HostSpec
from labcloud.trace.flow import FlowRecorder
from tests.conftest import require

# A boot with one volume, as it happens: nova-api checks the image, the network and the
# volume before it writes the instance row, so glance, neutron and cinder validate the token
# then (20, 23, 26: 20 and 26 from their caches, the client having asked them already); when
# nova-compute asks them later (19-27) they all find the token in their caches, and cinder
# validates once for each of the attach flow's three calls. (step, cached) in order:
NOVA_API_CHECKS = [(20, True), (23, False), (26, True)]
FIRST_BOOT = (
    [(n, False) for n in range(1, 6)]
    + NOVA_API_CHECKS
    + [(n, False) for n in range(6, 20)]
    + [(20, True), (21, False), (22, False), (23, True), (24, False), (25, False)]
    + [(26, True)] * 3
    + [(27, False), (28, False)]
)


def in_seed_order(steps: list[int]) -> list[int]:
    """The step numbers less nova-api's checks (validations before step 6), which the seed's
    flow leaves out: what is left follows the seed's order."""
    first_6 = steps.index(6) if 6 in steps else len(steps)
    return [n for i, n in enumerate(steps) if i >= first_6 or n not in (20, 23, 26)]


# The seed's table; its scheduling row lists 3-12, and a real run also shows nova-compute's
# steps 13-21 there, because nothing changes the task state before networking.
SEED_TABLE = [
    ("BUILD", "scheduling", "NOSTATE", [3, 4, 5, 20, 23, 26, *range(6, 22)]),
    ("BUILD", "networking", "NOSTATE", [22, 23, 24]),
    ("BUILD", "block_device_mapping", "NOSTATE", [25, 26, 26, 26, 27]),
    ("BUILD", "spawning", "NOSTATE", [28]),
    ("ACTIVE", None, "Running", []),
]


@pytest.fixture
def cloud() -> Iterator[LabCloud]:
    with LabCloud(CloudSpec.demo()) as c:
        yield c


class Client:
    """What a user's CLI does: a token, then REST calls to the catalog's endpoints. Its login
    and its first POST /servers carry one request id (X-OpenStack-Request-ID), which ties the
    login to that boot; later boots get request ids of their own."""

    def __init__(self, cloud: LabCloud, user: str = "demo") -> None:
        self.cloud = cloud
        self.login_request_id = new_request_id()
        self._request_id = self.login_request_id
        self.token = cloud.login(user, request_id=self.login_request_id)
        self.nova = cloud.urls["compute"] + "/v2.1"
        self._admin_token: str | None = None

    def boot(self, name: str = "vm1", flavor: str = "1", **extra: Any) -> str:
        body = {"server": {"name": name, "flavorRef": flavor, "imageRef": self.image_id()} | extra}
        headers = self.headers() | {"X-OpenStack-Request-ID": self._request_id or new_request_id()}
        self._request_id = ""
        answer = httpx.post(self.nova + "/servers", json=body, headers=headers, timeout=30)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["server"]["id"])

    def image_id(self) -> str:
        images = httpx.get(self.cloud.urls["image"] + "/v2/images", headers=self.headers())
        return str(images.json()["images"][0]["id"])

    def server(self, uuid: str) -> dict[str, Any]:
        """The server as an admin sees it (with its host: OS-EXT-SRV-ATTR:* is admin-only)."""
        if self._admin_token is None:
            self._admin_token = self.cloud.login("admin")
        headers = {"X-Auth-Token": self._admin_token}
        answer = httpx.get(f"{self.nova}/servers/{uuid}", headers=headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["server"])

    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}


def make_volume(cloud: LabCloud, client: Client) -> str:
    url = f"{cloud.urls['volumev3']}/v3/{cloud.project_id('demo')}/volumes"
    vid = str(
        httpx.post(url, json={"volume": {"size": 1}}, headers=client.headers()).json()["volume"][
            "id"
        ]
    )
    pause = threading.Event()
    for _ in range(500):  # cinder keeps status in its database: a bounded poll
        if httpx.get(f"{url}/{vid}", headers=client.headers()).json()["volume"]["status"] == (
            "available"
        ):
            return vid
        pause.wait(0.02)
    raise AssertionError(f"volume {vid} never became available")


def test_boot_follows_the_28_steps_and_the_state_table(cloud: LabCloud) -> None:
    flow = FlowRecorder(cloud.bus)
    client = Client(cloud)
    volume = make_volume(cloud, client)
    uuid = client.boot(
        block_device_mapping_v2=[
            {"uuid": volume, "source_type": "volume", "destination_type": "volume"}
        ]
    )
    flow.wait_for_state(uuid, "ACTIVE")
    assert [(s.step, s.cached) for s in flow.steps_of(uuid)] == FIRST_BOOT
    assert {s.request_id for s in flow.steps_of(uuid)} == {client.login_request_id}
    table = [(r.status, r.task, r.power, r.steps) for r in flow.table(uuid)]
    assert table == SEED_TABLE
    server = client.server(uuid)
    assert (
        server["status"],
        server["OS-EXT-STS:vm_state"],
        server["OS-EXT-STS:task_state"],
        server["OS-EXT-STS:power_state"],
    ) == ("ACTIVE", "active", None, 1)
    assert server["OS-EXT-SRV-ATTR:host"] in {"compute1", "compute2"}
    (address,) = server["addresses"]["private"]
    assert address["addr"].startswith("10.0.0.")
    assert address["OS-EXT-IPS:type"] == "fixed"
    assert address["OS-EXT-IPS-MAC:mac_addr"].startswith("fa:16:3e:")
    flow.close()


def test_too_little_capacity_ends_in_error_with_no_valid_host(cloud: LabCloud) -> None:
    flow = FlowRecorder(cloud.bus)
    client = Client(cloud)
    uuid = client.boot(flavor="5")  # m1.xlarge fits (16 GB) ...
    flow.wait_for_state(uuid, "ACTIVE")
    big = client.boot(name="too-big", flavor="5", min_count=2)  # ... three more do not
    flow.wait_for_state(big, "ERROR")
    server = client.server(big)
    assert server["status"] == "ERROR"
    assert server["OS-EXT-STS:task_state"] is None
    assert server["fault"]["message"].startswith("No valid host was found.")
    flow.close()


def test_a_failed_spawn_is_rescheduled_on_another_host() -> None:
    """compute1 and compute2 fail once each; compute3 (less RAM, so weighed last) builds it."""
    spec = CloudSpec.demo().but(
        hosts=(HostSpec("compute1"), HostSpec("compute2"), HostSpec("compute3", ram_mb=8192))
    )
    with LabCloud(spec) as cloud:
        flow = FlowRecorder(cloud.bus)
        for host in ("compute1", "compute2"):
            cloud.compute_driver(host).fail_next_spawns(1)  # type: ignore[attr-defined]
        client = Client(cloud)
        uuid = client.boot()
        try:
            flow.wait_for_state(uuid, "ACTIVE")
        except TimeoutError as exc:  # say why (the fault), not only that it did not happen
            raise AssertionError(f"{exc}: {client.server(uuid).get('fault')}") from exc
        spawns = [s.host for s in flow.steps_of(uuid) if s.step == 28]
        assert sorted(spawns[:2]) == ["compute1", "compute2"]  # each attempt names its host
        assert spawns[2:] == ["compute3"]
        server = client.server(uuid)
        assert server["status"] == "ACTIVE"
        assert server["OS-EXT-SRV-ATTR:host"] == "compute3"
        flow.close()


def test_an_unexpected_failure_is_rescheduled_not_left_in_build() -> None:
    """Not a labcloud error (a connection reset while nova-compute talks to glance, say): as
    nova's _build_and_run_instance, the build is rescheduled, never left for the timeout."""
    spec = CloudSpec.demo().but(hosts=(HostSpec("compute1"), HostSpec("compute2", ram_mb=8192)))
    with LabCloud(spec) as cloud:
        flow = FlowRecorder(cloud.bus)

        def reset(*args: object, **kwargs: object) -> None:
            raise ConnectionResetError(104, "Connection reset by peer")

        cloud.compute_driver("compute1").spawn = reset  # type: ignore[method-assign]
        client = Client(cloud)
        uuid = client.boot()
        flow.wait_for_state(uuid, "ACTIVE")
        assert client.server(uuid)["OS-EXT-SRV-ATTR:host"] == "compute2"
        assert len([s for s in flow.steps_of(uuid) if s.step == 28]) == 2
        flow.close()


def test_a_build_failing_everywhere_ends_in_error_after_three_attempts() -> None:
    spec = CloudSpec.demo(hosts=3)
    with LabCloud(spec) as cloud:
        flow = FlowRecorder(cloud.bus)
        for host in ("compute1", "compute2", "compute3"):
            cloud.compute_driver(host).fail_next_spawns(5)  # type: ignore[attr-defined]
        client = Client(cloud)
        uuid = client.boot()
        flow.wait_for_state(uuid, "ERROR")
        server = client.server(uuid)
        assert "Exceeded maximum number of retries" in server["fault"]["message"]
        assert len([s for s in flow.steps_of(uuid) if s.step == 28]) == 3
        ports = httpx.get(
            cloud.urls["network"] + "/v2.0/ports",
            params={"device_id": uuid},
            headers=client.headers(),
        ).json()["ports"]
        assert ports == []  # every failed attempt gave its port back
        flow.close()


def test_delete_returns_the_ip_to_the_pool(cloud: LabCloud) -> None:
    flow = FlowRecorder(cloud.bus)
    client = Client(cloud)
    uuid = client.boot()
    flow.wait_for_state(uuid, "ACTIVE")
    ip = client.server(uuid)["addresses"]["private"][0]["addr"]
    assert (
        httpx.delete(f"{client.nova}/servers/{uuid}", headers=client.headers()).status_code == 204
    )
    flow.wait_for_state(uuid, "DELETED")
    assert httpx.get(f"{client.nova}/servers/{uuid}", headers=client.headers()).status_code == 404
    ports = httpx.get(
        cloud.urls["network"] + "/v2.0/ports", params={"device_id": uuid}, headers=client.headers()
    ).json()["ports"]
    assert ports == []
    network_id = httpx.get(
        cloud.urls["network"] + "/v2.0/networks", headers=client.headers()
    ).json()["networks"][0]["id"]
    reused = httpx.post(
        cloud.urls["network"] + "/v2.0/ports",
        headers=client.headers(),
        json={"port": {"network_id": network_id, "fixed_ips": [{"ip_address": ip}]}},
    )
    assert reused.status_code == 201, reused.text  # the address is free again
    flow.close()


@pytest.mark.parametrize(
    ("body", "status", "fault"),
    [
        (b"{broken", 400, "badRequest"),
        (b'{"server": {"name": "x"}}', 400, "badRequest"),
        (b'{"server": {"name": "x", "flavorRef": "99", "imageRef": "IMG"}}', 400, "badRequest"),
        (
            b'{"server": {"name": "x", "flavorRef": "1", "imageRef": "no-such-image"}}',
            400,
            "badRequest",
        ),
        (
            b'{"server": {"name": "x", "flavorRef": "1", "imageRef": "IMG", '
            b'"networks": [{"uuid": "no-such-net"}]}}',
            400,
            "badRequest",
        ),
    ],
    ids=["malformed", "missing-fields", "unknown-flavor", "unknown-image", "unknown-network"],
)
def test_bad_requests_get_novas_error_bodies(
    cloud: LabCloud, body: bytes, status: int, fault: str
) -> None:
    client = Client(cloud)
    body = body.replace(b"IMG", client.image_id().encode())
    answer = httpx.post(
        client.nova + "/servers",
        content=body,
        headers=client.headers() | {"Content-Type": "application/json"},
    )
    assert answer.status_code == status, answer.text
    assert answer.json()[fault]["code"] == status


def test_the_seeds_curl_commands_work_as_written(cloud: LabCloud) -> None:
    """The seed's two commands, flags and all; only the URLs (lost from the article) are added,
    the first from keystone's address, the second from the catalog the first returns."""
    require(shutil.which("curl") is not None, "curl is not installed")
    creds = json.dumps(
        {
            "auth": {
                "passwordCredentials": {
                    "username": "demo",
                    "password": cloud.credentials("demo")["password"],
                },
                "tenantId": cloud.project_id("demo"),
            }
        }
    )
    out = subprocess.run(
        [
            "curl",
            "-k",
            "-X",
            "POST",
            "-v",
            "-d",
            creds,
            "-H",
            "Content-type: application/json",
            cloud.urls["identity"] + "/v2.0/tokens",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    access = json.loads(out)["access"]
    token = access["token"]["id"]
    nova = next(s for s in access["serviceCatalog"] if s["type"] == "compute")
    url = nova["endpoints"][0]["publicURL"] + "/servers"
    out = subprocess.run(
        [
            "curl",
            "-k",
            "-D",
            "-",
            "-H",
            f"X-Auth-Token: {token}",
            "-X",
            "GET",
            "-v",
            "-H",
            "Content-type: application/json",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    headers, _, body = out.replace("\r\n", "\n").partition("\n\n")
    assert headers.startswith("HTTP/1.1 200")
    assert json.loads(body) == {"servers": []}
    revoked = subprocess.run(
        [
            "curl",
            "-k",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "X-Auth-Token: not-a-token",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert revoked == "401"  # the seed's cue to request a new token
