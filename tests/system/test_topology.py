"""The topology reader and view on real namespaces, as root: what the kernel has is what the
inventory says and the graph draws. The namespaces (``lc-<tag>-``) are made here, and every
one is gone after each test, passed or failed."""

from __future__ import annotations

import html
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labcloud.cloud import LabCloud
from labcloud.netns import links, procs
from labcloud.netns.fabric import Fabric, cleanup, new_tag
from labcloud.netns.inventory import Inventory, Namespace, Reader, read
from labcloud.notebook import watch
from labcloud.notebook.topologygraph import layout, link_id, program_id
from labcloud.spec import CloudSpec
from tests.conftest import require
from tests.integration.network.harness import wait_until


@pytest.fixture
def fabric() -> Iterator[Fabric]:
    require(os.geteuid() == 0, "reading namespaces needs root")
    require(shutil.which("dnsmasq") is not None, "dnsmasq is not installed (dnsmasq-base)")
    made = Fabric(new_tag())
    try:
        yield made
    finally:
        left = cleanup(made.tag)
        assert links.namespaces(made.ns("")) == []
        assert left  # the test made some: cleanup found and removed them


def by_role(inventory: Inventory) -> dict[str, Namespace]:
    return {ns.role: ns for ns in inventory.namespaces}


def test_the_reader_sees_bridges_veths_vxlan_dnsmasq_and_a_router(
    fabric: Fabric, tmp_path: Path
) -> None:
    host = fabric.host("compute1")  # wired: data0 and phy0 into the fabric's bridges
    guest, dhcp, router = (fabric.ns(r) for r in ("i-vm1", "qdhcp-net1", "qrouter-r1"))
    for ns in (guest, dhcp, router):
        links.ensure_namespace(ns)
    with links.iproute(host) as ipr:
        links.ensure_bridge(ipr, "brqnet1")
        links.ensure_vxlan(ipr, "vxlan-5001", 5001, "data0", "239.1.1.1")
        links.set_up(ipr, "vxlan-5001", master="brqnet1")
        for tap, inside, ns in (("tapvm1", "eth0", guest), ("tapdhcp", "ns-dhcp", dhcp)):
            links.add_veth(ipr, tap, inside, ns)
            links.set_up(ipr, tap, master="brqnet1")
        links.add_veth(ipr, "tapqr", "qr-r1", router)  # as neutron's L3 agent plugs a router
        links.set_up(ipr, "tapqr", master="brqnet1")
    with links.iproute(dhcp) as ipr:
        links.set_up(ipr, "ns-dhcp")
        links.add_address(ipr, "ns-dhcp", "10.70.0.2/24")
    with links.iproute(router) as ipr:
        links.set_up(ipr, "qr-r1")
        links.add_address(ipr, "qr-r1", "10.70.0.1/24")
    leases = tmp_path / "leases"
    leases.write_text("4102444800 fa:16:3e:00:00:01 10.70.0.5 host-10-70-0-5 *\n")
    dnsmasq = procs.start(
        dhcp,
        [
            "dnsmasq",
            "--keep-in-foreground",
            "--port=0",
            "--conf-file=/dev/null",
            "--interface=ns-dhcp",
            "--bind-interfaces",
            f"--dhcp-leasefile={leases}",
            f"--pid-file={tmp_path / 'pid'}",
            "--dhcp-range=10.70.0.0,static,255.255.255.0",
        ],
        log=tmp_path / "log",
    )
    try:
        wait_until(lambda: any(p.name == "dnsmasq" for p in read_role(fabric, "qdhcp-net1")))
        inventory = read(fabric.ns(""))
    finally:
        procs.stop(dnsmasq)
    seen = by_role(inventory)
    assert {r: ns.kind for r, ns in seen.items()} == {
        "fabric": "fabric",
        "compute1": "host",
        "i-vm1": "instance",
        "qdhcp-net1": "dhcp",
        "qrouter-r1": "router",
    }
    host_links = {link.name: link for link in seen["compute1"].links}
    assert host_links["brqnet1"].kind == "bridge"
    assert {n for n, link in host_links.items() if link.master == "brqnet1"} == {
        "vxlan-5001",
        "tapvm1",
        "tapdhcp",
        "tapqr",
    }
    assert (host_links["vxlan-5001"].vni, host_links["vxlan-5001"].lower) == (5001, "data0")
    assert host_links["tapvm1"].peer == (guest, "eth0")
    assert host_links["tapqr"].peer == (router, "qr-r1")
    assert host_links["data0"].peer == (fabric.switch, "d1")
    assert host_links["data0"].addresses == ("172.31.255.1/24",)
    assert {link.name: link.peer for link in seen["i-vm1"].links} == {"eth0": (host, "tapvm1")}
    assert [link.addresses for link in seen["qrouter-r1"].links] == [("10.70.0.1/24",)]
    served = [p for p in seen["qdhcp-net1"].processes if p.name == "dnsmasq"]
    assert [(p.interface, p.leases) for p in served] == [("ns-dhcp", ("10.70.0.5",))]

    svg = html.unescape(layout(inventory, {"vm1-uuid": "web"}))
    for ns, link in ((host, "brqnet1"), (host, "vxlan-5001"), (router, "qr-r1"), (guest, "eth0")):
        assert f'id="{link_id(ns, link)}"' in svg, (ns, link)
    assert f'id="{program_id(dhcp, "dnsmasq")}"' in svg
    assert "VXLAN, VNI 5001" in svg
    assert "router · qrouter-r1" in svg
    assert f'id="v:{link_id(host, "tapqr")}|{link_id(router, "qr-r1")}"' in svg  # the veth
    assert f'id="m:{link_id(host, "tapvm1")}"' in svg  # the tap's place in the bridge


def read_role(fabric: Fabric, role: str) -> tuple[object, ...]:
    return next((ns.processes for ns in read(fabric.ns("")).namespaces if ns.role == role), ())


def test_the_shape_changes_when_a_port_comes_or_goes_and_only_then(fabric: Fabric) -> None:
    host = fabric.host("compute1")
    reader = Reader(fabric.ns(""))
    before = reader.read().shape()
    assert reader.read().shape() == before  # read again, nothing changed
    guest = fabric.ns("i-vm2")
    links.ensure_namespace(guest)
    with links.iproute(host) as ipr:
        links.ensure_bridge(ipr, "brqnet2")
        links.add_veth(ipr, "tapvm2", "eth0", guest)
        links.set_up(ipr, "tapvm2", master="brqnet2")
    plugged = reader.read()
    assert plugged.shape() != before
    assert {ns.role for ns in plugged.namespaces} >= {"i-vm2"}
    with links.iproute(host) as ipr:
        links.set_up(ipr, "tapvm2")  # up again: a state, not a change of shape
    assert reader.read().shape() == plugged.shape()
    links.delete_namespace(guest)  # its eth0 goes, and so the tap (the kernel's own time)

    def unplugged() -> bool:
        return "tapvm2" not in {link.name for ns in reader.read().namespaces for link in ns.links}

    wait_until(unplugged, timeout=10)
    gone = reader.read()
    assert "i-vm2" not in {ns.role for ns in gone.namespaces}
    assert gone.shape() not in (before, plugged.shape())  # brqnet2 stays, empty


def let_in_ping(cloud: LabCloud) -> None:
    """``openstack security group rule create --protocol icmp default``, as demo."""
    url, headers = cloud.urls["network"] + "/v2.0", {"X-Auth-Token": cloud.login("demo")}
    groups = httpx.get(f"{url}/security-groups?name=default", headers=headers).json()
    body = {"security_group_id": groups["security_groups"][0]["id"], "direction": "ingress"}
    made = httpx.post(
        f"{url}/security-group-rules",
        json={"security_group_rule": body | {"protocol": "icmp"}},
        headers=headers,
    )
    assert made.status_code == 201, made.text


def test_a_cloud_s_topology_view_follows_its_instances() -> None:
    """The view of a cloud on the linuxbridge datapath: an instance's namespace and its tap in
    its network's bridge appear, it is laid out again only when something came or went, and
    nothing of the cloud is left after it stops."""
    require(os.geteuid() == 0, "the datapath needs root")
    with LabCloud(CloudSpec.demo(), datapath="linuxbridge") as cloud:
        fabric = cloud.network.fabric
        assert fabric is not None
        board = watch(cloud)
        view = board.topology
        assert view is not None
        assert view.error == ""
        let_in_ping(cloud)  # cloud.ping asks from the DHCP server, outside demo's group
        boot = cloud.boot("vm1")
        boot.wait("ACTIVE")
        guest = fabric.ns(f"i-{boot.server_id}")
        port = cloud.network.guests.port(boot.server_id)
        tap = link_id(fabric.ns("compute1"), "tap" + port["id"][:11])
        tap2 = link_id(fabric.ns("compute2"), "tap" + port["id"][:11])

        def drawn() -> bool:
            board.flush()
            view.refresh()
            svg = html.unescape(view.svg)
            return f'id="{link_id(guest, "eth0")}"' in svg and (
                f'id="m:{tap}"' in svg or f'id="m:{tap2}"' in svg
            )

        wait_until(drawn, timeout=30, every=0.2)
        wait_until(lambda: cloud.ping(boot.server_id), timeout=30, every=0.2)

        def leased() -> bool:  # dnsmasq writes its lease file a moment after the ACK
            view.refresh()
            return list(view.labels.values()) == ["1 lease"]

        wait_until(leased, timeout=10, every=0.1)
        settled = view.layouts
        view.refresh()
        assert view.layouts == settled  # nothing came or went: no new layout
        assert "instance · i-" in html.unescape(view.svg)
        assert "(vm1)" in view.svg
        assert view.summary.startswith("6 namespaces (3 hosts, 1 instance, 1 DHCP server, 0 ro")
        tag = fabric.tag
    assert cleanup(tag) == []
