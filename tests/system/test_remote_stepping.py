"""Watch and step a cloud in another process over RabbitMQ, from Python and from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labcloud.notebook.remote import RemoteCloud

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]
PAUSE = threading.Event()  # never set: .wait(t) paces a bounded poll of another process


class Up:
    def __init__(self, state: Path, broker_url: str) -> None:
        self.state, self.broker_url = state, broker_url

    def labcloud(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "labcloud.cli", "--state-dir", str(self.state), *args],
            capture_output=True,
            text=True,
            env=os.environ | {"LABCLOUD_STATE_DIR": str(self.state)},
            timeout=120,
        )

    def start(self) -> None:
        started = self.labcloud("up", "--transport-url", self.broker_url)
        assert started.returncode == 0, started.stdout + started.stderr

    def stop(self) -> None:
        stopped = self.labcloud("down")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr

    @property
    def info(self) -> dict[str, Any]:
        return dict(json.loads((self.state / "cloud.json").read_text()))

    @property
    def urls(self) -> dict[str, str]:
        return dict(self.info["urls"])

    @property
    def transport_url(self) -> str:
        """The cloud's own: the broker's URL with the cloud's virtual host."""
        return str(self.info["transport_url"])

    def wait_active(self, token: str, uuid: str) -> str:
        for _ in range(200):  # the API in another process: a bounded poll
            if self.server(token, uuid)["status"] == "ACTIVE":
                break
            PAUSE.wait(0.05)
        return str(self.server(token, uuid)["status"])

    def password(self, user: str) -> str:
        """The password `labcloud up` made for ``user`` (0600 in the state directory)."""
        return str(json.loads((self.state / "credentials.json").read_text())[user])

    def token(self) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "demo",
                            "domain": {"id": "default"},
                            "password": self.password("demo"),
                        }
                    },
                },
                "scope": {"project": {"name": "demo", "domain": {"id": "default"}}},
            }
        }
        answer = httpx.post(self.urls["identity"] + "/v3/auth/tokens", json=body)
        return answer.headers["X-Subject-Token"]

    def boot(self, token: str, timeout: float = 10) -> str:
        headers = {"X-Auth-Token": token}
        image = httpx.get(self.urls["image"] + "/v2/images", headers=headers).json()["images"][0]
        body = {"server": {"name": "vm1", "flavorRef": "1", "imageRef": image["id"]}}
        answer = httpx.post(
            self.urls["compute"] + "/v2.1/servers", json=body, headers=headers, timeout=timeout
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["server"]["id"])

    def server(self, token: str, uuid: str) -> dict[str, Any]:
        answer = httpx.get(
            f"{self.urls['compute']}/v2.1/servers/{uuid}", headers={"X-Auth-Token": token}
        )
        return dict(answer.json()["server"])


@pytest.fixture(scope="module")
def broker_url(rabbitmq_url: str) -> str:
    """The session node's URL without a vhost: `labcloud up` gives each cloud its own."""
    return rabbitmq_url.rstrip("/") + "/"


@pytest.fixture(scope="module")
def up(broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    cloud = Up(tmp_path_factory.mktemp("labcloud-remote"), broker_url)
    cloud.start()
    yield cloud
    cloud.stop()


def test_a_notebook_steps_a_cloud_in_another_process(up: Up) -> None:
    with RemoteCloud(up.transport_url) as remote:
        board = remote.watch()
        remote.stepper.break_on(method="select_destinations")
        remote.stepper.wait_for_breakpoint("method select_destinations")
        token = up.token()
        uuid = up.boot(token)
        pause = remote.stepper.wait_paused(timeout=30)
        assert pause.service == "nova-scheduler"
        assert pause.detail["args"]["instance_uuids"] == [uuid]
        assert up.server(token, uuid)["status"] == "BUILD"
        board.flush()
        assert board.stepper.paused[0]["breakpoint"] == "method select_destinations"
        assert board.flow.instance == uuid  # the flow came through labcloud.trace
        assert board.flow.paused.startswith("paused at method select_destinations")

        listed = up.labcloud("debug", "list")
        assert listed.returncode == 0, listed.stderr
        assert "paused" in listed.stdout
        assert "nova-scheduler" in listed.stdout
        assert "method select_destinations" in listed.stdout

        cleared = up.labcloud("debug", "clear")  # no breakpoints, and let go
        assert cleared.returncode == 0, cleared.stdout + cleared.stderr
        assert "nothing paused" in cleared.stdout
        assert up.wait_active(token, uuid) == "ACTIVE"
        board.flush()
        assert board.flow.rows[-1]["status"] == "ACTIVE"
        assert board.stepper.paused == []
        assert any(q.startswith("q:compute.") for q in board.broker.depths)


def test_debug_breaks_and_continues_from_the_cli(up: Up) -> None:
    out = up.labcloud("debug", "break", "method", "build_and_run_instance")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "method build_and_run_instance" in out.stdout
    token = up.token()
    uuid = up.boot(token)
    with RemoteCloud(up.transport_url) as remote:
        pause = remote.stepper.wait_paused(timeout=30)
        assert pause.detail["method"] == "build_and_run_instance"
        cont = up.labcloud("debug", "continue", pause.id)
        assert cont.returncode == 0, cont.stdout + cont.stderr
    up.labcloud("debug", "clear")
    assert up.wait_active(token, uuid) == "ACTIVE"


def test_two_clouds_on_one_rabbitmq_each_get_their_own_vhost(
    up: Up, broker_url: str, tmp_path: Path
) -> None:
    """A second `labcloud up` on the same broker: its own vhost, both clouds boot."""
    other = Up(tmp_path / "other", broker_url)
    other.start()
    try:
        assert other.transport_url != up.transport_url
        assert other.transport_url.startswith(broker_url.rstrip("/") + "/labcloud-")
        tokens = up.token(), other.token()
        servers = up.boot(tokens[0]), other.boot(tokens[1])
        assert up.wait_active(tokens[0], servers[0]) == "ACTIVE"
        assert other.wait_active(tokens[1], servers[1]) == "ACTIVE"
        other.stop()
        other.start()  # the same cloud again: the same vhost, and the same ports
        assert other.transport_url.startswith(broker_url.rstrip("/") + "/labcloud-")
    finally:
        other.stop()


def test_a_vhost_another_cloud_serves_is_refused(up: Up, tmp_path: Path) -> None:
    """A URL naming the first cloud's vhost: the second cloud refuses to start, and says why."""
    intruder = Up(tmp_path / "intruder", up.transport_url)
    out = intruder.labcloud("up", "--transport-url", up.transport_url)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "another cloud's services already consume queue" in out.stderr
    assert not (intruder.state / "cloud.json").exists()


def test_debug_explains_a_memory_cloud() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "labcloud.cli", "debug", "--transport-url", "memory://"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "only its own process can step it" in out.stdout


def test_without_the_management_api_up_says_how_to_make_the_vhost(
    broker_url: str, tmp_path: Path
) -> None:
    cloud = Up(tmp_path / "nomgmt", broker_url)
    out = cloud.labcloud(
        "up", "--transport-url", broker_url, "--management-url", "http://127.0.0.1:1"
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "rabbitmqctl add_vhost labcloud-" in out.stderr
    assert "or give a URL that names a vhost" in out.stderr
