"""Reading netlink's answers into an Inventory, for what this kernel cannot make: an 802.1Q
sub-interface (the CI kernel has no 8021q module; tests/system/test_topology.py reads
bridges, veths, VXLAN and dnsmasq from real namespaces)."""

from __future__ import annotations

from typing import Any

from labcloud.netns.inventory import Inventory, Namespace, _link, _plain, kind_of
from labcloud.notebook.topologygraph import link_label


def message(index: int, name: str, **attrs: Any) -> dict[str, Any]:
    """A link as pyroute2 answers it (its messages read like dicts with ``get``)."""
    return {"index": index, "IFLA_IFNAME": name, "IFLA_OPERSTATE": "UP", **attrs}


def test_a_vlan_sub_interface_is_read_with_its_id_and_the_link_it_rides_on() -> None:
    vlan = {"IFLA_INFO_KIND": "vlan", "IFLA_INFO_DATA": {"IFLA_VLAN_ID": 101}}
    raw = [
        _plain(message(3, "phy0", IFLA_LINKINFO={"IFLA_INFO_KIND": "veth"}), {}),
        _plain(message(7, "phy0.101", IFLA_LINK=3, IFLA_MASTER=8, IFLA_LINKINFO=vlan), {}),
        _plain(message(8, "brqnet", IFLA_LINKINFO={"IFLA_INFO_KIND": "bridge"}), {}),
    ]
    by_index = {"lc-x-compute1": {r["index"]: r for r in raw}}
    sub = _link(raw[1], "lc-x-compute1", by_index, {})
    assert (sub.kind, sub.vlan, sub.lower, sub.master) == ("vlan", 101, "phy0", "brqnet")
    assert link_label(sub, {}) == "phy0.101\nVLAN 101 (802.1Q)"


def test_a_veth_whose_other_end_is_in_no_namespace_of_the_cloud_has_no_peer() -> None:
    raw = _plain(
        message(
            4, "tap1", IFLA_LINK=9, IFLA_LINK_NETNSID=2, IFLA_LINKINFO={"IFLA_INFO_KIND": "veth"}
        ),
        {},
    )
    assert _link(raw, "lc-x-compute1", {"lc-x-compute1": {4: raw}}, {}).peer is None


def test_kinds_and_shapes() -> None:
    assert kind_of("qrouter-1234", set()) == "router"
    assert kind_of("compute1", {"data0", "tap1"}) == "host"
    assert kind_of("internet", {"eth0"}) == "other"
    one = Inventory("lc-x-", (Namespace("lc-x-a", "a", "other", ()),))
    assert one.shape() == Inventory("lc-x-", (Namespace("lc-x-a", "a", "other", ()),)).shape()
    assert one.shape() != Inventory("lc-x-").shape()


def test_netlink_works_from_a_thread_whose_asyncio_loop_runs() -> None:
    """A Jupyter kernel runs cells inside its asyncio loop: a cloud started in a cell reads
    and builds its datapath from there (pyroute2 runs a loop of its own to completion)."""
    import asyncio

    from labcloud.netns import links

    async def cell() -> tuple[list[str], bool]:
        with links.iproute() as ipr:
            names = links.link_names(ipr, "lo")
        return names, asyncio.events._get_running_loop() is not None

    assert asyncio.run(cell()) == (["lo"], True)
