"""neutron in the in-kernel cloud is made of the binaries ``labcloud run`` runs: neutron-server,
a linuxbridge agent per host (the controller's too), the DHCP and L3 agents, each built by its
factory in labcloud.binaries.network over what the cloud shares."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from labcloud.binaries import BINARIES
from labcloud.binaries.network import NeutronServer
from labcloud.cloud import LabCloud
from labcloud.network.agents.l2 import NoopL2
from labcloud.network.agents.linuxbridge import LinuxBridgeAgent
from labcloud.network.rpcapi import EXCHANGE, PLUGIN
from labcloud.spec import CloudSpec


@pytest.fixture
def cloud() -> Iterator[LabCloud]:
    with LabCloud(CloudSpec.demo(), bcrypt_rounds=4) as c:
        yield c


def test_neutrons_binaries_are_the_factories_over_the_clouds_transport(cloud: LabCloud) -> None:
    computes = [h.name for h in cloud.spec.hosts]
    assert computes, "the demo spec has compute hosts"
    built = [(b.name, b.conf.DEFAULT.host) for b in cloud.network.binaries]
    assert built == [
        ("neutron-server", "controller"),
        *[("neutron-linuxbridge-agent", h) for h in ["controller", *computes]],
        ("neutron-dhcp-agent", "controller"),
        ("neutron-l3-agent", "controller"),
    ]
    for binary in cloud.network.binaries:
        assert BINARIES[binary.name].project == "neutron"
        assert BINARIES[binary.name].factory.startswith("network:")
        assert binary.running
        assert binary.shared is not None
        assert binary.transport is cloud.transport  # no broker connection of its own
    server = cloud.network.server
    assert isinstance(server.manager, NeutronServer)  # what only neutron_server() makes
    assert cloud.network.manager is server.manager.manager
    assert server.api is cloud.servers["network"]  # the catalog's URL, bound by the cloud
    assert cloud.network.datapath == "noop"
    assert all(isinstance(a.datapath, NoopL2) for a in cloud.network.l2_agents.values())


def test_the_server_serves_q_plugin_as_controller_and_lists_every_agent(cloud: LabCloud) -> None:
    queues = {q.name for q in cloud.transport.snapshot().queues}
    assert {PLUGIN, f"{PLUGIN}.controller"} <= queues
    assert EXCHANGE in {e.name for e in cloud.transport.snapshot().exchanges}
    token = cloud.login("admin")
    answer = httpx.get(
        cloud.urls["network"] + "/v2.0/agents", headers={"X-Auth-Token": token}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    agents = {(a["binary"], a["host"]): a for a in answer.json()["agents"]}
    expected = {(b.name, b.conf.DEFAULT.host) for b in cloud.network.binaries[1:]}
    assert set(agents) == expected
    assert all(a["alive"] for a in agents.values())
    l2 = agents[("neutron-linuxbridge-agent", "compute1")]["configurations"]
    assert l2["datapath"] == "noop"


def test_an_l2_agent_stopped_is_replaced_by_a_new_binary(cloud: LabCloud) -> None:
    before = cloud.network.l2["compute1"]
    cloud.network.stop_l2_agent("compute1")
    assert not before.running
    assert "compute1" not in cloud.network.l2_agents
    agent = cloud.network.start_l2_agent("compute1")
    after = cloud.network.l2["compute1"]
    assert after is not before
    assert after.running
    assert isinstance(agent, LinuxBridgeAgent)
    assert agent is after.manager
    assert cloud.network.l2_agents["compute1"] is agent
