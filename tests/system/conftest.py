"""What the datapath's system tests share (test_datapath, test_security_groups, test_l3):
neutron with the linuxbridge datapath on two compute hosts, as root, and guests (network
namespaces, as the fake hypervisor makes them) on its ports. Every namespace, bridge and
dnsmasq they make is gone after each test, passed or failed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labcloud.compute.virt.netns import NamespaceGuests
from labcloud.netns import links, procs
from labcloud.netns.fabric import cleanup, new_tag
from tests.conftest import Keystone, require
from tests.integration.network.harness import NeutronCloud

HOSTS = ["compute1", "compute2"]


@pytest.fixture
def ns() -> Iterator[str]:
    """An empty network namespace of this test's own, deleted after it."""
    require(os.geteuid() == 0, "network namespaces need root")
    name = f"lc-{new_tag()}-scratch"
    links.ensure_namespace(name)
    try:
        yield name
    finally:
        links.delete_namespace(name)


@pytest.fixture
def neutron(keystone: Keystone, tmp_path: Path) -> Iterator[NeutronCloud]:
    require(os.geteuid() == 0, "the datapath needs root (namespaces, bridges, dnsmasq)")
    for tool in ("dnsmasq", "busybox", "ip", "ping", "curl"):
        require(
            shutil.which(tool) is not None, f"{tool} is not installed (`./run test` installs it)"
        )
    cloud = NeutronCloud(
        keystone, HOSTS, datapath="linuxbridge", state_dir=tmp_path, polling_interval=0.2
    )
    fabric = cloud.service.fabric
    assert fabric is not None
    try:
        yield cloud
    finally:
        cloud.stop()
        left = cleanup(fabric.tag)  # what stop() missed, if anything: removed, and a failure
        assert left == [], f"left behind: {left}"


class Guests:
    """Instances on hosts, as nova-compute with the fake driver in namespace mode makes them."""

    def __init__(self, cloud: NeutronCloud, tmp: Path) -> None:
        assert cloud.service.fabric is not None
        self.cloud = cloud
        self.by_host = {h: NamespaceGuests(cloud.service.fabric.tag, h, tmp / h) for h in HOSTS}
        self.where: dict[str, str] = {}

    def boot(
        self,
        name: str,
        host: str,
        net_id: str,
        ip: str | None = None,
        *,
        admin: bool = True,
        paused: bool = False,
        **port_body: Any,
    ) -> dict[str, Any]:
        """``name`` on ``host``, on a new port (nova makes it with admin rights; ``admin``
        False: the project's own, with ``port_body``'s attributes such as security_groups);
        ``paused``: created paused, as nova-compute does while it waits for the port."""
        body: dict[str, Any] = {"network_id": net_id, "device_id": name, "binding:host_id": host}
        if ip:
            body["fixed_ips"] = [{"ip_address": ip}]
        port = self.cloud.make("port", body | port_body, admin=admin)
        vif = {k: port[k] for k in ("network_id", "mac_address", "fixed_ips")} | {
            "port_id": port["id"]
        }
        self.by_host[host].spawn({"uuid": name, "display_name": name}, [vif], paused=paused)
        self.where[name] = host
        self.cloud.wait_port(port["id"], "ACTIVE")
        return port

    def ns(self, name: str) -> str:
        return self.by_host[self.where[name]].ns(name)

    def address(self, name: str) -> str | None:
        return self.by_host[self.where[name]].address(name)

    def pings(self, name: str, ip: str) -> bool:
        return procs.run(self.ns(name), ["ping", "-c", "1", "-W", "1", ip]).returncode == 0

    def page(self, name: str, ip: str) -> str:
        # curl: busybox's wget crashes on this kernel (SIGSEGV), its httpd serves fine
        answer = procs.run(self.ns(name), ["curl", "-s", "-m", "2", f"http://{ip}/"])
        return answer.stdout.strip()

    def destroy_all(self) -> None:
        for name, host in self.where.items():
            self.by_host[host].destroy({"uuid": name})


@pytest.fixture
def guests(neutron: NeutronCloud, tmp_path: Path) -> Iterator[Guests]:
    made = Guests(neutron, tmp_path)
    try:
        yield made
    finally:
        made.destroy_all()


def ip_of(port: dict[str, Any]) -> str:
    return str(port["fixed_ips"][0]["ip_address"])
