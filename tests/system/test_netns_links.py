"""Namespaces made in-process, links brought up by ioctl, processes started inside a
namespace without nsenter: each as ``ip`` and ``nsenter`` would leave things."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from labcloud.netns import links, procs
from labcloud.netns.fabric import Fabric, new_tag
from labcloud.netns.internet import Internet


def _ip(ns: str, *argv: str) -> str:
    return subprocess.run(["ip", "-n", ns, *argv], capture_output=True, text=True).stdout


def test_a_namespace_is_seen_by_ip_with_its_loopback_up(ns: str) -> None:
    assert ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "UP" in _ip(ns, "-br", "link", "show", "lo")
    # a namespace of its own, not this process's
    assert "lo" in links.names_in(ns)
    assert os.stat(f"/run/netns/{ns}").st_ino != os.stat("/proc/self/ns/net").st_ino
    links.ensure_namespace(ns)  # safe to repeat


def test_the_calling_thread_is_back_in_its_own_namespace(ns: str) -> None:
    before = os.readlink("/proc/thread-self/ns/net")
    name = f"lc-{new_tag()}-again"
    links.ensure_namespace(name)
    try:
        assert os.readlink("/proc/thread-self/ns/net") == before
        assert links.inside(name, lambda: os.readlink("/proc/thread-self/ns/net")) != before
        assert os.readlink("/proc/thread-self/ns/net") == before
    finally:
        links.delete_namespace(name)
    assert name not in links.namespaces(name)


def test_a_veth_is_made_up_with_its_peers_mac_and_the_peer_brought_up(ns: str) -> None:
    host = f"lc-{new_tag()}-host"
    links.ensure_namespace(host)
    try:
        with links.iproute(host) as ipr:
            links.add_veth(ipr, "tapx", "eth0", ns, up=True, peer_mac="fa:16:3e:00:00:07")
        assert "UP" in _ip(host, "link", "show", "tapx").split(">")[0]
        assert "fa:16:3e:00:00:07" in _ip(ns, "link", "show", "eth0")
        assert ",UP" not in _ip(ns, "link", "show", "eth0").split(">")[0]
        links.set_up_by_name(ns, ["eth0"])
        assert ",UP" in _ip(ns, "link", "show", "eth0").split(">")[0]
        with pytest.raises(links.DatapathError):
            links.set_up_by_name(ns, ["nosuch0"])
    finally:
        links.delete_namespace(host)


def test_processes_run_inside_the_namespace(ns: str) -> None:
    answer = procs.run(ns, ["ip", "-br", "link"])
    assert answer.returncode == 0
    assert [line.split()[0] for line in answer.stdout.splitlines()] == ["lo"]
    sleeper = procs.start(ns, ["sleep", "30"])
    try:
        assert procs.pids_in(ns) == [sleeper.pid]
    finally:
        procs.stop(sleeper)
    assert procs.run(ns, ["false"]).returncode == 1


def test_a_missing_namespace_or_command_fails_as_nsenter_would() -> None:
    assert procs.run(f"lc-{new_tag()}-none", ["true"]).returncode == 1


def test_a_command_that_does_not_answer_is_a_datapath_error(ns: str) -> None:
    assert procs.run(ns, ["no-such-command-here"]).returncode == 127
    with pytest.raises(links.DatapathError):
        procs.run(ns, ["sleep", "5"], timeout=0.2)


def test_no_fabric_link_has_the_index_of_its_peer(ns: str) -> None:
    """A veth whose two ends have the same index (each in its namespace) looks to the kernel's
    linkwatch like a physical NIC: its carrier may then wait up to a second, its bridge port
    disabled meanwhile (the first host's ``d1`` was, dropping the first guests' DHCP
    DISCOVERs on their way to the controller). Every link the fabric wires differs."""
    fabric = Fabric()
    try:
        for host in ("controller", "compute1", "compute2"):
            fabric.host(host)
        Internet(fabric, "203.0.113.1/24", Path(tempfile.mkdtemp())).start().stop()
        for name in [fabric.switch, *(fabric.ns(h) for h in ("controller", "compute1"))]:
            with links.iproute(name) as ipr:
                veths = [
                    (link.get_attr("IFLA_IFNAME"), link["index"], link.get_attr("IFLA_LINK"))
                    for link in ipr.get_links()
                    if link.get_attr("IFLA_LINK") is not None
                ]
            assert veths, name
            for ifname, index, peer in veths:
                assert index != peer, f"{ifname} in {name}: index {index}, its peer's too"
    finally:
        fabric.destroy()
    assert not fabric.namespaces()
