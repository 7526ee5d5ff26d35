"""What real clients ask of nova-api, against ``labcloud up``: the ``openstack`` CLI's
``server create --port``, ``flavor show``, ``keypair create``, ``quota show``, ``availability
zone list``, ``hypervisor list``, ``quota show --usage``, server events, and an openstacksdk
script that boots a server with a port and a keypair (issue 10, point 8)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.system.test_openstack_cli import OPENSTACK, Cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    require(OPENSTACK.exists(), "python-openstackclient is not installed (the test extra)")
    cli = Cli(tmp_path_factory.mktemp("labcloud-up-nova"))
    started = cli.labcloud("up")
    assert started.returncode == 0, started.stdout + started.stderr
    yield cli
    stopped = cli.labcloud("down")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def compute_quotas(cli: Cli) -> dict[str, int]:
    shown = cli.openstack("quota", "show", "--compute", "-f", "json")
    return {q["Resource"]: q["Limit"] for q in shown}


def test_flavor_show_keypair_zones_hypervisors_quotas(cli: Cli) -> None:
    flavor = cli.openstack("flavor", "show", "m1.tiny", "-f", "json")
    assert (flavor["name"], flavor["ram"], flavor["properties"]) == ("m1.tiny", 512, {})
    private = cli.openstack("keypair", "create", "cli-key")
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    shown = cli.openstack("keypair", "show", "cli-key", "-f", "json")
    assert shown["fingerprint"].count(":") == 15
    zones = cli.openstack("availability", "zone", "list", "--compute", "-f", "json")
    assert zones == [{"Zone Name": "nova", "Zone Status": "available"}]
    hypervisors = cli.openstack("hypervisor", "list", "-f", "json", cloud="labcloud-admin")
    assert {h["Hypervisor Hostname"] for h in hypervisors} == {"compute1", "compute2"}
    assert compute_quotas(cli)["key-pairs"] == 100
    cli.openstack("quota", "set", "--instances", "7", "demo", cloud="labcloud-admin")
    assert compute_quotas(cli)["instances"] == 7


def test_server_create_with_a_port_and_a_keypair(cli: Cli) -> None:
    port = cli.openstack("port", "create", "--network", "private", "cli-port", "-f", "json")
    cli.openstack("keypair", "create", "vm-key")
    server = cli.openstack(
        "server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--port", "cli-port",
        "--key-name", "vm-key", "--wait", "vm-port", "-f", "json",
    )  # fmt: skip
    assert (server["status"], server["key_name"]) == ("ACTIVE", "vm-key")
    bound = cli.openstack("port", "show", "cli-port", "-f", "json")
    assert bound["device_id"] == server["id"]
    assert port["fixed_ips"][0]["ip_address"] in str(server["addresses"])
    cli.openstack("server", "set", "--name", "vm-renamed", "--property", "tier=web", "vm-port")
    listed = cli.openstack("server", "list", "--name", "^vm-ren", "-f", "json")
    assert [s["Name"] for s in listed] == ["vm-renamed"]
    shown = cli.openstack("server", "show", "vm-renamed", "-f", "json")
    assert shown["properties"] == {"tier": "web"}
    usage = cli.openstack("quota", "show", "--compute", "--usage", "-f", "json")
    in_use = {q["Resource"]: (q["Limit"], q["In Use"], q["Reserved"]) for q in usage}
    assert in_use["instances"] == (7, 1, 0)  # the limit test_flavor_show... set
    assert in_use["ram"][1:] == (512, 0)
    events = cli.openstack("server", "event", "list", "vm-renamed", "-f", "json")
    assert [e["Action"] for e in events] == ["create"]
    request_id = events[0]["Request ID"]
    boot = cli.openstack(  # events are admins' below microversion 2.51, as nova shows them
        "server", "event", "show", server["id"], request_id, "-f", "json", cloud="labcloud-admin"
    )
    assert [e["event"] for e in boot["events"]] == ["compute__do_build_and_run_instance"]
    cli.openstack("server", "delete", "--wait", "vm-renamed")
    assert cli.openstack("port", "show", "cli-port", "-f", "json")["device_id"] == ""


def test_openstacksdk_boots_a_server_with_a_port_and_a_keypair(cli: Cli) -> None:
    from openstack.config import OpenStackConfig
    from openstack.connection import Connection

    config = OpenStackConfig(config_files=[str(Path(cli.env["OS_CLIENT_CONFIG_FILE"]))])
    conn = Connection(config=config.get_one(cloud="labcloud"))
    try:
        net = conn.network.find_network("private")
        port = conn.network.create_port(network_id=net.id, name="sdk-port")
        key = conn.compute.create_keypair(name="sdk-key")
        assert key.private_key
        image = conn.image.find_image("cirros")
        flavor = conn.compute.find_flavor("m1.tiny")
        server = conn.compute.create_server(
            name="sdk-vm",
            image_id=image.id,
            flavor_id=flavor.id,
            networks=[{"port": port.id}],
            key_name=key.name,
        )
        server = conn.compute.wait_for_server(server, wait=120)
        assert (server.status, server.key_name) == ("ACTIVE", "sdk-key")
        assert conn.network.get_port(port.id).device_id == server.id
        absolute = conn.compute.get_limits().absolute
        assert absolute.instances_used >= 1
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)
        assert conn.network.get_port(port.id).device_id == ""
    finally:
        conn.close()
