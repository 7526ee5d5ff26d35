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
    def __init__(self, state: Path, transport_url: str) -> None:
        self.state, self.transport_url = state, transport_url

    def labcloud(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "labcloud.cli", "--state-dir", str(self.state), *args],
            capture_output=True,
            text=True,
            env=os.environ | {"LABCLOUD_STATE_DIR": str(self.state)},
            timeout=120,
        )

    @property
    def urls(self) -> dict[str, str]:
        return dict(json.loads((self.state / "cloud.json").read_text())["urls"])

    def token(self) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "demo",
                            "domain": {"id": "default"},
                            "password": "demo-secret",
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
def up(rabbitmq_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    cloud = Up(tmp_path_factory.mktemp("labcloud-remote"), rabbitmq_url)
    started = cloud.labcloud("up", "--transport-url", rabbitmq_url)
    assert started.returncode == 0, started.stdout + started.stderr
    yield cloud
    stopped = cloud.labcloud("down")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


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
        for _ in range(200):  # the API in another process: a bounded poll
            if up.server(token, uuid)["status"] == "ACTIVE":
                break
            PAUSE.wait(0.05)
        assert up.server(token, uuid)["status"] == "ACTIVE"
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
    for _ in range(200):
        if up.server(token, uuid)["status"] == "ACTIVE":
            break
        PAUSE.wait(0.05)
    assert up.server(token, uuid)["status"] == "ACTIVE"


def test_debug_explains_a_memory_cloud() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "labcloud.cli", "debug", "--transport-url", "memory://"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "only its own process can step it" in out.stdout
