"""A fabric wired by several processes at once (a process cloud's agents and nova-computes
each build ``Fabric(tag)``): every host gets links and an underlay address of its own, and
a host asked for by several processes is wired once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from labcloud.netns import links
from labcloud.netns.fabric import Fabric, cleanup, new_tag
from tests.conftest import require

WIRE = "import sys; from labcloud.netns.fabric import Fabric; Fabric(sys.argv[1]).host(sys.argv[2])"


@pytest.fixture
def fabric() -> Iterator[Fabric]:
    require(os.geteuid() == 0, "network namespaces need root")
    made = Fabric(new_tag())
    try:
        yield made
    finally:
        cleanup(made.tag)


def wire_at_once(fabric: Fabric, hosts: list[str]) -> list[int]:
    started = [
        subprocess.Popen([sys.executable, "-c", WIRE, fabric.tag, host], stderr=subprocess.PIPE)
        for host in hosts
    ]
    return [p.wait(timeout=60) for p in started]


def underlay(fabric: Fabric, host: str) -> list[str]:
    with links.iproute(fabric.ns(host)) as ipr:
        return links.addresses(ipr, "data0")


def switch_ports(fabric: Fabric) -> list[str]:
    with links.iproute(fabric.switch) as ipr:
        return [n for n in links.link_names(ipr, "d") if n[1:].isdigit()]  # not "data"


def test_hosts_wired_by_processes_at_once_each_get_their_own_links(fabric: Fabric) -> None:
    hosts = [f"compute{i}" for i in range(1, 5)]
    assert wire_at_once(fabric, hosts) == [0] * 4
    addresses = [underlay(fabric, host) for host in hosts]
    assert all(len(a) == 1 for a in addresses), addresses
    assert len({a[0] for a in addresses}) == 4, addresses
    assert switch_ports(fabric) == ["d1", "d2", "d3", "d4"]


def test_a_host_asked_for_by_processes_at_once_is_wired_once(fabric: Fabric) -> None:
    assert wire_at_once(fabric, ["compute1"] * 3) == [0] * 3
    assert len(underlay(fabric, "compute1")) == 1
    assert switch_ports(fabric) == ["d1"]
