"""What the ``openstack`` CLI asks of neutron-server, against ``labcloud up``: security groups
and rules, routers with a gateway and an interface, floating IPs associated with a port,
a port's fixed IP changed, and neutron's admin-only attributes refused (issue 10, point 9)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import require
from tests.system.test_openstack_cli import OPENSTACK, Cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    require(OPENSTACK.exists(), "python-openstackclient is not installed (the test extra)")
    cli = Cli(tmp_path_factory.mktemp("labcloud-up-network"))
    started = cli.labcloud("up")
    assert started.returncode == 0, started.stdout + started.stderr
    yield cli
    stopped = cli.labcloud("down")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def refused(cli: Cli, *args: str) -> str:
    """The error of a command that must fail."""
    cmd = [str(OPENSTACK), "--os-cloud", "labcloud", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=cli.env, timeout=180)
    assert done.returncode != 0, done.stdout
    return done.stderr


def test_security_groups_and_rules(cli: Cli) -> None:
    group = cli.openstack("security", "group", "create", "web", "-f", "json")
    assert group["name"] == "web"
    rule = cli.openstack(
        "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "web",
        "-f", "json",
    )  # fmt: skip
    assert (rule["protocol"], rule["port_range_min"], rule["port_range_max"]) == ("tcp", 22, 22)
    names = {g["Name"] for g in cli.openstack("security", "group", "list", "-f", "json")}
    assert names >= {"default", "web"}
    rules = cli.openstack("security", "group", "rule", "list", "web", "-f", "json")
    assert {r["Direction"] for r in rules} == {"ingress", "egress"}
    port = cli.openstack(
        "port", "create", "--network", "private", "--security-group", "web", "sg-port",
        "-f", "json",
    )  # fmt: skip
    assert port["security_group_ids"] == [group["id"]]
    assert "in use" in refused(cli, "security", "group", "delete", "web")
    cli.openstack("port", "delete", "sg-port")
    cli.openstack("security", "group", "delete", "web")


def test_router_gateway_interface_and_floating_ip(cli: Cli) -> None:
    admin = "labcloud-admin"
    cli.openstack("network", "create", "public", "--external", cloud=admin)
    cli.openstack(
        "subnet", "create", "public-subnet", "--network", "public",
        "--subnet-range", "203.0.113.0/24", "--no-dhcp", cloud=admin,
    )  # fmt: skip
    external = cli.openstack("network", "list", "--external", "-f", "json")
    assert [n["Name"] for n in external] == ["public"]
    router = cli.openstack("router", "create", "r1", "-f", "json")
    assert router["status"] == "ACTIVE"
    cli.openstack("router", "set", "--external-gateway", "public", "r1")
    cli.openstack("router", "add", "subnet", "r1", "private-subnet")
    shown = cli.openstack("router", "show", "r1", "-f", "json")
    assert shown["external_gateway_info"]["network_id"] == external[0]["ID"]
    assert [i["ip_address"] for i in shown["interfaces_info"]] == ["10.0.0.1"]

    port = cli.openstack("port", "create", "--network", "private", "vm-port", "-f", "json")
    fip = cli.openstack("floating", "ip", "create", "public", "-f", "json")
    address = fip["floating_ip_address"]
    assert address.startswith("203.0.113.")
    cli.openstack("floating", "ip", "set", "--port", "vm-port", address)
    listed = cli.openstack("floating", "ip", "list", "-f", "json")
    assert [(f["Floating IP Address"], f["Port"]) for f in listed] == [(address, port["id"])]
    assert listed[0]["Fixed IP Address"] == port["fixed_ips"][0]["ip_address"]
    cli.openstack("floating", "ip", "unset", "--port", address)
    cli.openstack("floating", "ip", "delete", address)
    assert cli.openstack("floating", "ip", "list", "-f", "json") == []

    # neutron picks addresses at random: move the port to one no port holds yet
    held = {
        ip["ip_address"]
        for p in cli.openstack("port", "list", "--network", "private", "--long", "-f", "json")
        for ip in p["Fixed IP Addresses"]
    }
    target = next(f"10.0.0.{n}" for n in range(50, 250) if f"10.0.0.{n}" not in held)
    cli.openstack(
        "port", "set", "--no-fixed-ip", "--fixed-ip",
        f"subnet=private-subnet,ip-address={target}", "vm-port",
    )  # fmt: skip
    moved = cli.openstack("port", "show", "vm-port", "-f", "json")
    assert [ip["ip_address"] for ip in moved["fixed_ips"]] == [target]

    cli.openstack("router", "remove", "subnet", "r1", "private-subnet")
    cli.openstack("router", "unset", "--external-gateway", "r1")
    cli.openstack("router", "delete", "r1")
    cli.openstack("port", "delete", "vm-port")


def test_admin_only_network_attributes(cli: Cli) -> None:
    shared = refused(cli, "network", "create", "--share", "s1")
    assert "create_network:shared" in shared
    provider = refused(
        cli, "network", "create", "--provider-network-type", "vlan", "--provider-segment", "5", "v"
    )
    assert "create_network:provider:network_type" in provider
