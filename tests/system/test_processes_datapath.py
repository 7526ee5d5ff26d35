"""``labcloud up --processes --datapath linuxbridge`` (as root, on the suite's RabbitMQ node):
neutron's agents, each a process of its own, build one fabric of network namespaces; the
fake hypervisor's guests get their leases from dnsmasq and ping each other; ``down`` leaves
no namespace of the cloud behind. Traffic stays inside the namespaces the cloud made.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labcloud.compute.virt.netns import guests_dir
from labcloud.conf import load
from labcloud.netns import links, procs
from labcloud.netns.fabric import cleanup
from tests.conftest import require
from tests.system.processcloud import ProcessCloud, labcloud, up

pytestmark = [pytest.mark.slow, pytest.mark.rabbitmq, pytest.mark.timeout(600)]
PAUSE = threading.Event()  # never set: .wait(t) paces polls of the kernel


class DatapathCloud(ProcessCloud):
    @property
    def tag(self) -> str:
        return load(self.state / "labcloud.conf", "neutron").linux_bridge.fabric_tag

    def namespaces(self) -> list[str]:
        return links.namespaces(f"lc-{self.tag}-")

    def guest(self, server_id: str) -> str:
        return f"lc-{self.tag}-i-{server_id}"

    def leased(self, server_id: str, timeout: float = 60) -> str | None:
        """The guest's address on eth0 once its DHCP client configured it (None: never)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            address = links.ipv4_of(self.guest(server_id), "eth0")
            if address:
                return address
            PAUSE.wait(0.3)
        return None

    def pings(self, server_id: str, ip: str) -> bool:
        ping = ["ping", "-c", "1", "-W", "1", ip]
        return procs.run(self.guest(server_id), ping).returncode == 0


def up_args(rabbit: Any) -> tuple[str, ...]:
    require(os.geteuid() == 0, "the linuxbridge datapath needs root (namespaces, dnsmasq)")
    for tool in ("dnsmasq", "busybox", "ip", "ping", "iptables-restore"):
        require(shutil.which(tool) is not None, f"{tool} is not installed")
    args = ("--transport-url", rabbit.url.rstrip("/"), "--management-url", rabbit.management_url)
    return (*args, "--datapath", "linuxbridge", "--report-interval", "2", "--timeout", "240")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, rabbit: Any) -> Iterator[DatapathCloud]:
    state = tmp_path_factory.mktemp("procdp")
    args = up_args(rabbit)
    tag = ""
    try:
        with up(state, *args) as made:
            cloud = DatapathCloud(made.state)
            tag = cloud.tag
            yield cloud
    finally:  # up's context ran `down`; what it missed is removed, and a failure
        left = cleanup(tag) if tag else []
        assert left == [], f"left behind: {left}"


def test_every_host_is_wired_before_the_agents_start(cloud: DatapathCloud) -> None:
    names = cloud.namespaces()
    for host in ("fabric", "controller", "compute1", "compute2"):
        assert f"lc-{cloud.tag}-{host}" in names, names
    log = (cloud.state / "supervisor.log").read_text()
    assert f"fabric {cloud.tag}: hosts controller, compute1, compute2 wired in " in log, log


def test_two_instances_get_leases_and_ping_each_other(cloud: DatapathCloud) -> None:
    ids = []
    for name in ("vm1", "vm2"):
        answer = cloud.boot(name)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["server"]["id"])
    servers = [cloud.wait_active(i) for i in ids]
    assert [s["status"] for s in servers] == ["ACTIVE", "ACTIVE"], servers
    ipam = [s["addresses"]["private"][0]["addr"] for s in servers]
    leased = [cloud.leased(i) for i in ids]
    assert [a.split("/")[0] if a else None for a in leased] == ipam  # dnsmasq's = IPAM's
    assert cloud.pings(ids[0], ipam[1]), f"{ipam[0]} cannot ping {ipam[1]}"
    assert cloud.pings(ids[1], ipam[0]), f"{ipam[1]} cannot ping {ipam[0]}"


def test_the_agents_report_the_linuxbridge_datapath(cloud: DatapathCloud) -> None:
    """``openstack network agent list --long``: every L2 agent alive, on linuxbridge."""
    answer = cloud.get("neutron", "/v2.0/agents", user="admin")
    assert answer.status_code == 200, answer.text
    l2 = {
        a["host"]: a for a in answer.json()["agents"] if a["binary"] == "neutron-linuxbridge-agent"
    }
    assert set(l2) == {"controller", "compute1", "compute2"}
    for agent in l2.values():
        assert agent["alive"], agent
        assert agent["configurations"]["datapath"] == "linuxbridge", agent
        assert agent["configurations"]["firewall_driver"] == "IptablesFirewall", agent


def test_status_says_which_datapath(cloud: DatapathCloud) -> None:
    status = labcloud(cloud.state, "status")
    assert "datapath linuxbridge, " in status.stdout, status.stdout
    assert f"lc-{cloud.tag}-*" in status.stdout, status.stdout


def test_a_remote_cloud_draws_the_topology(cloud: DatapathCloud) -> None:
    from labcloud.notebook.remote import RemoteCloud

    with RemoteCloud.from_config(cloud.state / "labcloud.conf") as remote:
        view = remote.topology()  # drawn at once, as a cell showing it alone needs
    assert view.error == ""
    kinds = [ns.kind for ns in view.inventory.namespaces]
    assert kinds.count("host") == 3, kinds
    assert kinds.count("instance") >= 2, kinds  # the two of the ping test
    assert kinds.count("dhcp") == 1, kinds
    assert "<svg" in view.svg


def test_a_remote_cloud_on_the_noop_datapath_says_why_nothing_is_drawn(
    cloud: DatapathCloud,
) -> None:
    from labcloud.notebook.remote import RemoteCloud

    url = load(cloud.state / "labcloud.conf", "neutron").DEFAULT.transport_url
    with RemoteCloud(url, datapath=("noop", "")) as remote:
        assert "no-op datapath" in remote.topology().error
    with RemoteCloud(url) as remote:
        assert "from_config" in remote.topology().error


def test_down_removes_what_a_killed_supervisor_left(
    tmp_path_factory: pytest.TempPathFactory, rabbit: Any
) -> None:
    """SIGKILL gives the supervisor no chance to remove the fabric: ``down`` does."""
    import signal

    state = tmp_path_factory.mktemp("killed")
    tag = ""
    try:
        with up(state, *up_args(rabbit), "--hosts", "1") as made:
            killed = DatapathCloud(made.state)
            tag = killed.tag
            supervisor = int(killed.status["supervisor"])
            os.kill(supervisor, signal.SIGKILL)
            while Path(f"/proc/{supervisor}/status").exists() and "Z" not in _state(supervisor):
                PAUSE.wait(0.1)
            assert killed.namespaces() != []  # left behind
            down = labcloud(killed.state, "down", timeout=120)
            assert down.returncode == 0, down.stdout + down.stderr
            assert "network namespaces the supervisor left" in down.stdout, down.stdout
            assert killed.namespaces() == []
    finally:
        left = cleanup(tag) if tag else []
        assert left == [], f"left behind: {left}"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def test_zz_down_leaves_no_namespace(cloud: DatapathCloud) -> None:
    """Last in the module: the supervisor removes the fabric as it stops."""
    tag = cloud.tag
    assert guests_dir(tag).exists()  # the guests of the ping test
    down = labcloud(cloud.state, "down", timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert links.namespaces(f"lc-{tag}-") == []
    assert not guests_dir(tag).exists()  # the fake guests' pages and leases
    assert "network namespaces the supervisor left" not in down.stdout, down.stdout
    log = (cloud.state / "supervisor.log").read_text()
    assert f"fabric {tag}: " in log, log
    assert "namespaces removed" in log, log
    assert not Path(f"/proc/{cloud.status['supervisor']}").exists()
