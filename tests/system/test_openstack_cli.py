"""The real ``openstack`` CLI against ``labcloud up``: issue 3's scenario, command by command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require

pytestmark = pytest.mark.slow
OPENSTACK = Path(sys.executable).parent / "openstack"  # the client installed beside us


class Cli:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.env = os.environ | {
            "OS_CLIENT_CONFIG_FILE": str(state / "clouds.yaml"),
            "LABCLOUD_STATE_DIR": str(state),
        }
        for key in [k for k in self.env if k.startswith("OS_") and k != "OS_CLIENT_CONFIG_FILE"]:
            del self.env[key]

    def labcloud(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "labcloud.cli", "--state-dir", str(self.state), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )

    def openstack(self, *args: str, cloud: str = "labcloud") -> Any:
        cmd = [str(OPENSTACK), "--os-cloud", cloud, *args]
        done = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=180)
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stderr}\n{done.stdout}"
        out = done.stdout.strip()
        return json.loads(out) if out.startswith(("{", "[")) else out


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    require(OPENSTACK.exists(), "python-openstackclient is not installed (the test extra)")
    cli = Cli(tmp_path_factory.mktemp("labcloud-up"))
    started = cli.labcloud("up")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "clouds.yaml" in started.stdout
    yield cli
    stopped = cli.labcloud("down")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_status_reports_every_api(cli: Cli) -> None:
    out = cli.labcloud("status")
    assert out.returncode == 0, out.stdout
    assert out.stdout.count("answers") == 5


def test_token_catalog_flavors(cli: Cli) -> None:
    token = cli.openstack("token", "issue", "-f", "json")
    assert token["id"]
    assert token["project_id"]
    catalog = cli.openstack("catalog", "list", "-f", "json")
    assert {c["Type"] for c in catalog} >= {"identity", "compute", "image", "network", "volumev3"}
    flavors = cli.openstack("flavor", "list", "-f", "json")
    assert {f["Name"] for f in flavors} >= {"m1.tiny", "m1.small", "m1.xlarge"}


def test_compute_service_list_as_admin(cli: Cli) -> None:
    services = cli.openstack("compute", "service", "list", "-f", "json", cloud="labcloud-admin")
    assert {(s["Binary"], s["Host"], s["Status"], s["State"]) for s in services} == {
        ("nova-compute", "compute1", "enabled", "up"),
        ("nova-compute", "compute2", "enabled", "up"),
    }


def test_images(cli: Cli, tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    made = cli.openstack(
        "image",
        "create",
        "--file",
        str(disk),
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        "mine",
        "-f",
        "json",
    )
    assert made["name"] == "mine"
    names = {i["Name"] for i in cli.openstack("image", "list", "-f", "json")}
    assert names >= {"cirros", "mine"}


def test_network_subnet_port(cli: Cli) -> None:
    net = cli.openstack("network", "create", "lab-net", "-f", "json")
    subnet = cli.openstack(
        "subnet",
        "create",
        "--network",
        "lab-net",
        "--subnet-range",
        "192.168.77.0/24",
        "lab-subnet",
        "-f",
        "json",
    )
    assert subnet["cidr"] == "192.168.77.0/24"
    assert subnet["network_id"] == net["id"]
    port = cli.openstack("port", "create", "--network", "lab-net", "lab-port", "-f", "json")
    assert port["mac_address"].startswith("fa:16:3e:")
    assert {p["Name"] for p in cli.openstack("port", "list", "-f", "json")} >= {"lab-port"}
    assert {n["Name"] for n in cli.openstack("network", "list", "-f", "json")} >= {
        "private",
        "lab-net",
    }
    assert {s["Name"] for s in cli.openstack("subnet", "list", "-f", "json")} >= {"lab-subnet"}


def test_server_lifecycle_with_a_volume(cli: Cli) -> None:
    server = cli.openstack(
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--network",
        "private",
        "--wait",
        "vm1",
        "-f",
        "json",
    )
    assert server["status"] == "ACTIVE"
    shown = cli.openstack("server", "show", "vm1", "-f", "json")
    assert shown["OS-EXT-STS:power_state"] in ("Running", 1)
    listed = {s["Name"]: s for s in cli.openstack("server", "list", "-f", "json")}
    assert listed["vm1"]["Image"] == "cirros"  # names looked up with glance's id=in: filter
    assert listed["vm1"]["Flavor"] == "m1.tiny"
    volume = cli.openstack("volume", "create", "--size", "1", "data1", "-f", "json")
    assert volume["name"] == "data1"
    for _ in range(100):
        listed = {v["Name"]: v for v in cli.openstack("volume", "list", "-f", "json")}
        if listed["data1"]["Status"] == "available":
            break
    assert listed["data1"]["Status"] == "available"
    cli.openstack("server", "add", "volume", "vm1", "data1")
    listed = {v["Name"]: v for v in cli.openstack("volume", "list", "-f", "json")}
    assert listed["data1"]["Status"] == "in-use"
    cli.openstack("server", "resize", "--flavor", "m1.small", "--wait", "vm1")
    assert cli.openstack("server", "show", "vm1", "-f", "json")["status"] == "VERIFY_RESIZE"
    cli.openstack("server", "resize", "confirm", "vm1")
    for _ in range(100):  # confirm is a cast with no --wait: a bounded poll
        shown = cli.openstack("server", "show", "vm1", "-f", "json")
        if shown["status"] == "ACTIVE":
            break
    assert (shown["status"], shown["flavor"].split(" ")[0]) == ("ACTIVE", "m1.small")
    cli.openstack("server", "delete", "--wait", "vm1")
    assert "vm1" not in {s["Name"] for s in cli.openstack("server", "list", "-f", "json")}


def test_volume_from_an_image_and_a_snapshot(cli: Cli) -> None:
    """``volume create --image``: cinder copies glance's cirros into a bootable volume."""
    made = cli.openstack("volume", "create", "--image", "cirros", "--size", "1", "v1", "-f", "json")
    assert made["name"] == "v1"
    for _ in range(100):  # a cast with no --wait: a bounded poll
        shown = cli.openstack("volume", "show", "v1", "-f", "json")
        if shown["status"] != "creating" and shown["status"] != "downloading":
            break
    assert (shown["status"], str(shown["bootable"]).lower()) == ("available", "true")
    assert shown["volume_image_metadata"]["image_name"] == "cirros"
    snap = cli.openstack("volume", "snapshot", "create", "--volume", "v1", "s1", "-f", "json")
    assert snap["name"] == "s1"
    for _ in range(100):
        listed = {s["Name"]: s for s in cli.openstack("volume", "snapshot", "list", "-f", "json")}
        if listed["s1"]["Status"] == "available":
            break
    assert listed["s1"]["Status"] == "available"
    copy = cli.openstack("volume", "create", "--snapshot", "s1", "v2", "-f", "json")
    assert copy["size"] == 1
    cli.openstack("volume", "snapshot", "delete", "s1")


def absolute(cli: Cli) -> dict[str, Any]:
    shown = cli.openstack("limits", "show", "--absolute", "-f", "json")
    return {x["Name"]: x["Value"] for x in shown}


def quotas(cli: Cli, *args: str) -> dict[str, Any]:
    return {q["Resource"]: q["Limit"] for q in cli.openstack("quota", "show", *args, "-f", "json")}


def test_limits_and_quotas_of_every_service(cli: Cli) -> None:
    """``limits show --absolute`` (nova's and cinder's), a plain ``quota show`` (nova's,
    cinder's and neutron's), ``quota set`` as admin, and a quota enforced."""
    limits = absolute(cli)
    assert {"max_total_instances", "max_total_volumes", "total_gigabytes_used"} <= set(limits)
    shown = quotas(cli)
    assert {"instances", "volumes", "gigabytes", "networks", "ports", "routers"} <= set(shown)
    cli.openstack(
        "quota", "set", "--volumes", "20", "--gigabytes", "30", "--networks", "40", "--ports", "50",
        "demo", cloud="labcloud-admin",
    )  # fmt: skip
    changed = quotas(cli)
    assert [changed[k] for k in ("volumes", "gigabytes", "networks", "ports")] == [20, 30, 40, 50]
    assert quotas(cli, "--default")["volumes"] == -1
    too_big = subprocess.run(
        [str(OPENSTACK), "--os-cloud", "labcloud", "volume", "create", "--size", "31", "big"],
        capture_output=True, text=True, env=cli.env, timeout=180,
    )  # fmt: skip
    assert too_big.returncode != 0
    assert "exceeds allowed gigabytes quota" in too_big.stderr
    limits = absolute(cli)
    assert limits["max_total_volume_gigabytes"] == 30
