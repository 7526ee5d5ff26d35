"""``labcloud up --processes`` on the suite's own RabbitMQ node and on PostgreSQL: one process
per OpenStack binary, a server booted to ACTIVE through nova-api's REST API, and ``down``
leaving no process, port, queue consumer or database session behind.

PostgreSQL: the machine's server on 127.0.0.1:5432 (LABCLOUD_TEST_POSTGRES_URL names another
superuser URL); the test makes a role of its own with CREATEDB, and drops its databases and
the role afterwards. In CI both requirements fail the test when missing, never skip it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.system import postgres

pytestmark = [pytest.mark.slow, pytest.mark.rabbitmq, pytest.mark.timeout(600)]
PAUSE = threading.Event()  # never set: .wait(t) paces polls of other processes
PROJECTS = ("keystone", "nova", "glance", "neutron", "cinder")


@pytest.fixture(scope="module")
def postgres_role() -> Iterator[str]:
    """A PostgreSQL role of the test's own (CREATEDB), dropped with its databases after."""
    with postgres.machine_role() as role:
        yield role


def labcloud(state: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labcloud.cli", "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Cloud:
    def __init__(self, state: Path, role: str, management_url: str) -> None:
        self.state, self.role, self.management_url = state, role, management_url
        self.status: dict[str, Any] = json.loads((state / "processes.json").read_text())

    def token(self, user: str = "demo") -> str:
        """A token of ``user``, with the password bootstrap made for this cloud."""
        password = json.loads((self.state / "credentials.json").read_text())[user]
        account = {"name": user, "domain": {"id": "default"}, "password": password}
        body = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": account}},
                "scope": {"project": {"name": user, "domain": {"id": "default"}}},
            }
        }
        answer = httpx.post(f"{self.url('keystone')}/v3/auth/tokens", json=body, timeout=30)
        assert answer.status_code == 201, answer.text
        return answer.headers["X-Subject-Token"]

    def url(self, project: str) -> str:
        from labcloud.conf import load

        host, port = load(self.state / "labcloud.conf", project).bind
        return f"http://{host}:{port}"


@pytest.fixture(scope="module")
def cloud(
    tmp_path_factory: pytest.TempPathFactory, rabbit: Any, postgres_role: str
) -> Iterator[Cloud]:
    state = tmp_path_factory.mktemp("labcloud-processes")
    transport = rabbit.url.rstrip("/")  # no vhost: the cloud gets one of its own
    up = labcloud(
        state,
        "up",
        "--processes",
        "--transport-url",
        transport,
        "--management-url",
        rabbit.management_url,
        "--database-url",
        f"postgresql://{postgres_role}@127.0.0.1:5432/{postgres_role}",
        "--report-interval",
        "2",
        "--service-down-time",
        "10",
        "--timeout",
        "240",
        timeout=400,
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield Cloud(state, postgres_role, rabbit.management_url)
    finally:  # also after a failed up: its supervisor may be running
        labcloud(state, "down", timeout=120)


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def test_ps_shows_one_process_per_binary_with_openstacks_names(cloud: Cloud) -> None:
    programs = cloud.status["programs"]
    seen: dict[str, int] = {}
    for name, program in programs.items():
        title = _cmdline(int(program["pid"]))
        binary = program["binary"]
        assert title.startswith(f"{binary} --config"), (name, title)
        assert Path(f"/proc/{program['pid']}/comm").read_text().strip() == binary[:15]
        seen[binary] = seen.get(binary, 0) + 1
    assert seen.pop("nova-compute") == 2
    assert seen.pop("neutron-linuxbridge-agent") == 3  # the network host and both computes
    assert set(seen.values()) == {1}
    assert len(seen) == 11


def test_a_server_boots_to_active_through_nova_api(cloud: Cloud) -> None:
    token = cloud.token()
    headers = {"X-Auth-Token": token}
    images = httpx.get(
        f"{cloud.url('glance')}/v2/images", params={"name": "cirros"}, headers=headers, timeout=30
    ).json()["images"]
    body = {"server": {"name": "vm1", "flavorRef": "1", "imageRef": images[0]["id"]}}
    nova = f"{cloud.url('nova')}/v2.1"
    answer = httpx.post(f"{nova}/servers", json=body, headers=headers, timeout=60)
    assert answer.status_code == 202, answer.text
    server_id = answer.json()["server"]["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        server = httpx.get(f"{nova}/servers/{server_id}", headers=headers, timeout=30).json()[
            "server"
        ]
        if server["status"] in ("ACTIVE", "ERROR"):
            break
        PAUSE.wait(0.2)
    assert server["status"] == "ACTIVE", server
    assert server["addresses"]["private"][0]["addr"].startswith("10.0.0.")


def test_status_and_compute_service_list_agree(cloud: Cloud) -> None:
    status = labcloud(cloud.state, "status")
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("answers") == 5
    admin = {"X-Auth-Token": cloud.token("admin")}
    services = httpx.get(f"{cloud.url('nova')}/v2.1/os-services", headers=admin, timeout=30).json()[
        "services"
    ]
    computes = {s["host"]: s["state"] for s in services if s["binary"] == "nova-compute"}
    assert computes == {"compute1": "up", "compute2": "up"}


def test_a_notebook_steps_the_boot_across_processes(cloud: Cloud) -> None:
    """Every process forwards its trace to labcloud.trace and obeys labcloud.control: a
    breakpoint on the scheduler's method pauses the nova-scheduler process, not another."""
    from labcloud.conf import load
    from labcloud.notebook.remote import RemoteCloud
    from labcloud.trace.flow import FlowRecorder

    url = load(cloud.state / "labcloud.conf", "nova").DEFAULT.transport_url
    scheduler = int(cloud.status["programs"]["nova-scheduler"]["pid"])
    token = cloud.token()
    headers = {"X-Auth-Token": token}
    with RemoteCloud(url, management_url=cloud.management_url) as remote:
        stepper = remote.stepper
        flow = FlowRecorder(remote.bus)
        stepper.wait_for_processes(len(cloud.status["programs"]), timeout=60)
        services = {state.host for state in stepper.processes.values()}
        assert {"controller", "compute1", "compute2"} <= services
        stepper.break_on(method="select_destinations")
        stepper.wait_for_breakpoint("method select_destinations", timeout=30)
        images = httpx.get(
            f"{cloud.url('glance')}/v2/images", params={"name": "cirros"}, headers=headers
        ).json()["images"]
        body = {"server": {"name": "stepped", "flavorRef": "1", "imageRef": images[0]["id"]}}
        nova = f"{cloud.url('nova')}/v2.1"
        answer = httpx.post(f"{nova}/servers", json=body, headers=headers, timeout=60)
        assert answer.status_code == 202, answer.text
        server_id = answer.json()["server"]["id"]
        pause = stepper.wait_paused(timeout=60)
        assert pause.service == "nova-scheduler", pause
        assert pause.process == f"python:{scheduler}", pause
        PAUSE.wait(1.0)  # held: the boot goes no further while the scheduler is paused
        server = httpx.get(f"{nova}/servers/{server_id}", headers=headers, timeout=30).json()
        assert server["server"]["status"] == "BUILD"
        stepper.clear()
        stepper.resume()
        flow.wait_for_state(server_id, "ACTIVE", timeout=120)  # seen in the forwarded trace
        steps = {(s.service, s.step) for s in flow.steps_of(server_id)}
        flow.close()
    assert {"nova-api", "nova-conductor", "nova-scheduler", "nova-compute"} <= {
        service for service, _ in steps
    }, steps
    server = httpx.get(f"{nova}/servers/{server_id}", headers=headers, timeout=30).json()
    assert server["server"]["status"] == "ACTIVE", server


def test_nova_compute_killed_during_a_boot(cloud: Cloud) -> None:
    """kill -9 of the nova-compute building an instance: the instance never stays in BUILD.
    The supervisor starts the compute again; its init_host finds the interrupted build and
    puts it in ERROR with a fault, as nova's _init_instance does (or, had the build message
    gone back to the queue unacknowledged, it would be built: ACTIVE)."""
    import signal

    from labcloud.conf import load
    from labcloud.notebook.remote import RemoteCloud

    url = load(cloud.state / "labcloud.conf", "nova").DEFAULT.transport_url
    headers = {"X-Auth-Token": cloud.token()}
    nova = f"{cloud.url('nova')}/v2.1"
    with RemoteCloud(url, management_url=cloud.management_url) as remote:
        stepper = remote.stepper
        stepper.wait_for_processes(len(cloud.status["programs"]), timeout=60)
        stepper.break_on(method="build_and_run_instance")
        stepper.wait_for_breakpoint("method build_and_run_instance", timeout=30)
        images = httpx.get(
            f"{cloud.url('glance')}/v2/images", params={"name": "cirros"}, headers=headers
        ).json()["images"]
        body = {"server": {"name": "killed", "flavorRef": "1", "imageRef": images[0]["id"]}}
        answer = httpx.post(f"{nova}/servers", json=body, headers=headers, timeout=60)
        assert answer.status_code == 202, answer.text
        server_id = answer.json()["server"]["id"]
        pause = stepper.wait_paused(timeout=60)
        assert pause.service == "nova-compute", pause
        os.kill(int(pause.process.removeprefix("python:")), signal.SIGKILL)
        stepper.clear()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        server = httpx.get(f"{nova}/servers/{server_id}", headers=headers, timeout=30).json()
        if server["server"]["status"] in ("ACTIVE", "ERROR"):
            break
        PAUSE.wait(0.5)
    assert server["server"]["status"] in ("ACTIVE", "ERROR"), server
    if server["server"]["status"] == "ERROR":
        assert "nova-compute" in server["server"]["fault"]["message"], server


def test_logs_of_a_service(cloud: Cloud) -> None:
    logs = labcloud(cloud.state, "logs", "nova-conductor")
    assert logs.returncode == 0, logs.stderr
    assert "nova-conductor started" in logs.stdout


def test_a_crashed_service_is_restarted_and_shown_in_status(cloud: Cloud) -> None:
    import signal

    before = cloud.status["programs"]["nova-scheduler"]
    os.kill(int(before["pid"]), signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = json.loads((cloud.state / "processes.json").read_text())["programs"]
        if now["nova-scheduler"]["restarts"] == 1 and now["nova-scheduler"]["state"] == "running":
            break
        PAUSE.wait(0.2)
    assert now["nova-scheduler"]["last_exit"] == -signal.SIGKILL
    assert now["nova-scheduler"]["state"] == "running", now["nova-scheduler"]
    status = labcloud(cloud.state, "status")
    assert "restarted 1x" in status.stdout, status.stdout


def merged_clouds() -> dict[str, Any]:
    from labcloud import clientfiles

    path = clientfiles.user_clouds_yaml()
    return dict(yaml.safe_load(path.read_text()).get("clouds") or {}) if path.exists() else {}


def test_up_merged_its_entries_into_the_users_clouds_yaml(cloud: Cloud) -> None:
    clouds = merged_clouds()
    assert clouds["labcloud"]["auth"]["auth_url"] == cloud.url("keystone") + "/v3"
    password = json.loads((cloud.state / "credentials.json").read_text())["demo"]
    assert clouds["labcloud"]["auth"]["password"] == password
    assert clouds["labcloud-admin"]["auth"]["username"] == "admin"


def test_zz_down_leaves_nothing(cloud: Cloud) -> None:
    """Last in the module: after ``down`` no process, port, consumer or session is left."""
    from sqlalchemy import text

    status = json.loads((cloud.state / "processes.json").read_text())
    pids = [int(p["pid"]) for p in status["programs"].values()]
    ports = [int(cloud.url(p).rsplit(":", 1)[1]) for p in PROJECTS]
    down = labcloud(cloud.state, "down", timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not {"labcloud", "labcloud-admin"} & set(merged_clouds())
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
    from tests.conftest import port_open

    assert [port for port in ports if port_open("127.0.0.1", port)] == []
    config = (cloud.state / "labcloud.conf").read_text()
    vhost = next(
        line.split("/")[-1] for line in config.splitlines() if line.startswith("transport_url")
    )
    consumers = httpx.get(
        f"{cloud.management_url}/api/consumers/{vhost}", auth=("guest", "guest"), timeout=10
    ).json()
    assert consumers == []
    server = postgres.engine(os.environ.get("LABCLOUD_TEST_POSTGRES_URL", postgres.SUPERUSER_URL))
    with server.connect() as conn:
        sessions = conn.execute(
            text("select count(*) from pg_stat_activity where usename = :role"),
            {"role": cloud.role},
        ).scalar()
    server.dispose()
    assert sessions == 0
