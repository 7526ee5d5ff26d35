"""``[linux_bridge]``: which datapath a process cloud's agents build, the fabric they share,
and nova-compute plugging its guests into it; what ``up --processes --datapath`` writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from labcloud.binaries.compute import _plugging
from labcloud.binaries.fabric import HostFabric, choose, conf_section, describe
from labcloud.binaries.network import datapath
from labcloud.conf import parse, sample
from labcloud.conf.options import ConfigError
from labcloud.netns.fabric import Fabric, new_tag

LINUXBRIDGE = "[linux_bridge]\ndatapath = linuxbridge\nfabric_tag = 3f2a\n"


def test_the_default_is_the_noop_datapath_for_agents_and_computes() -> None:
    conf = parse("", "neutron")
    assert conf.linux_bridge.datapath == "noop"
    drivers = datapath(conf)
    assert drivers.name == "noop"
    assert drivers.l2_configurations("compute1", drivers.firewall("compute1")) == {
        "datapath": "noop",
        "firewall_driver": "NoopFirewall",
    }
    assert _plugging(parse("", "nova")) == {}


def test_linuxbridge_shares_the_fabric_of_the_tag_and_nova_plugs_into_it() -> None:
    pytest.importorskip("pyroute2")
    if not _can_build():
        with pytest.raises(Exception, match="needs root"):
            datapath(parse(LINUXBRIDGE, "neutron"))
    else:
        drivers = datapath(parse(LINUXBRIDGE, "neutron"))
        assert drivers.name == "linuxbridge"
        assert drivers.fabric is not None
        assert drivers.fabric.ns("compute1") == "lc-3f2a-compute1"  # nothing made: not asked
    assert _plugging(parse(LINUXBRIDGE, "nova")) == {"datapath_tag": "3f2a"}


def _can_build() -> bool:
    from labcloud.network.datapath import choose_datapath

    return choose_datapath("auto")[0] == "linuxbridge"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[linux_bridge]\ndatapath = ovs\n", "datapath"),
        ("[linux_bridge]\nfabric_tag = ../x\n", "fabric_tag"),
    ],
)
def test_a_wrong_datapath_or_tag_is_an_error_that_names_it(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse(text, "neutron")


def test_linuxbridge_without_a_tag_is_refused() -> None:
    conf = parse("[linux_bridge]\ndatapath = linuxbridge\n", "neutron")
    with pytest.raises(ConfigError, match="fabric_tag"):
        datapath(conf)


def test_up_writes_the_chosen_datapath_and_a_new_tag(tmp_path: Path) -> None:
    assert conf_section("noop") == {"datapath": "noop"}
    first = conf_section("linuxbridge")
    second = conf_section("linuxbridge")
    assert first["datapath"] == "linuxbridge"
    assert first["fabric_tag"] != second["fabric_tag"]  # each up: a cloud of its own
    path = tmp_path / "labcloud.conf"
    path.write_text(sample(extra={"linux_bridge": first}))
    for project in ("neutron", "nova"):
        assert parse(path.read_text(), project).linux_bridge.fabric_tag == first["fabric_tag"]
    assert describe(path).startswith(f"linuxbridge, 0 namespaces lc-{first['fabric_tag']}-")
    hosts = ("controller", "compute1")
    assert HostFabric.of(path, hosts) == HostFabric(first["fabric_tag"], hosts)
    path.write_text(sample())
    assert describe(path).startswith("noop")
    assert HostFabric.of(path, hosts) is None


def test_up_keeps_noop_unless_asked_and_explains_auto(capsys: pytest.CaptureFixture[str]) -> None:
    assert choose("noop") == "noop"
    chosen = choose("auto")
    assert chosen == ("linuxbridge" if _can_build() else "noop")
    assert "neutron's agents:" in capsys.readouterr().out


def test_securitygroup_enable_ipset_reaches_the_agents_firewall() -> None:
    """neutron's ``[securitygroup] enable_ipset`` (default true), off when the file says so."""
    assert parse("", "neutron").securitygroup.enable_ipset is True
    tag = new_tag()  # its own namespaces, removed at the end
    text = f"[linux_bridge]\ndatapath = linuxbridge\nfabric_tag = {tag}\n"
    conf = parse(text + "[securitygroup]\nenable_ipset = false\n", "neutron")
    assert conf.securitygroup.enable_ipset is False
    assert "#enable_ipset = true" in sample()
    if not _can_build():
        return  # the firewall is built only where the datapath can be (root, tools)
    drivers = datapath(conf)
    try:
        firewall = drivers.firewall("compute1", enable_ipset=conf.securitygroup.enable_ipset)
        assert firewall.enable_ipset is False
        assert drivers.firewall("compute1").enable_ipset is True
    finally:
        assert drivers.fabric is not None
        drivers.fabric.destroy()
    assert not Fabric(tag).namespaces()
