"""Network benchmark: neutron's agents over RPC, and (as root) the real datapath.

    .venv/bin/python bench/network.py [--ports 50] [--quick]

- plug-to-ACTIVE: a port created bound to a host, until its L2 agent has said
  it up (update_device_list; no-op datapath, memory://), median;
- as root: a topology of ``--ports`` guests on one VXLAN network across two hosts, from the
  network's creation until every guest has its DHCP lease and answers ping (target 50 in
  <= 2 s; each guest spawned paused and booted once its port is ACTIVE, as nova-compute
  waits for network-vif-plugged), each guest's DHCP lease time (from its spawn, and from
  its boot, to when its DHCP client wrote the lease: not to when this script looked, which
  is after every guest was built), median, and the CPU time the build took (this process's
  threads and the commands it ran), which the machine's load changes far less than the
  wall time.

Without root the datapath figures cannot be measured: the script says so and exits 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _figures import figure, load

HOSTS = ["compute1", "compute2"]
BUILDS = 10 * len(HOSTS)  # concurrent builds: nova-compute's max_concurrent_builds (10) per host


def neutron(datapath: str, state_dir: Path) -> tuple[Any, Any, Any]:
    """neutron-server and its agents, built by their factories as the in-kernel cloud
    builds them (REST served but unused: no keystone here)."""
    from labcloud.binaries.inkernel_neutron import Neutron
    from labcloud.binaries.shared import Shared
    from labcloud.conf.options import ServiceConf
    from labcloud.messaging import get_transport
    from labcloud.netns.fabric import Fabric
    from labcloud.network.datapath import Datapath
    from labcloud.network.models import Port
    from labcloud.rest.server import ApiServer
    from labcloud.trace import TraceBus
    from labcloud.trace.events import StateEvent

    bus = TraceBus()
    active = bus.collect(lambda e: e.status == "ACTIVE", types=(StateEvent,))
    transport = get_transport("memory://", bus=bus)
    fabric = Fabric() if datapath == "linuxbridge" else None
    shared = Shared(
        transport,
        {},
        servers={"neutron-server": ApiServer(None, name="neutron")},
        datapath=Datapath(fabric, state_dir, datapath),
        polling_interval=0.1,
    )

    def conf(host: str) -> ServiceConf:
        return ServiceConf.model_validate(
            {
                "project": "neutron",
                "DEFAULT": {
                    "transport_url": "memory://",
                    "host": host,
                    "report_interval": 30.0,  # neutron's
                    "service_down_time": 75.0,  # its agent_down_time
                    "notify_nova_on_port_status_changes": False,
                },
                "database": {"connection": "sqlite://"},
            }
        )

    service = Neutron(shared, conf, HOSTS)
    service.manager.db.trace(bus, "neutron-server", {Port: ("port", "status")})
    service.start()
    return service, transport, active


def stop(service: Any, transport: Any) -> None:
    service.stop()
    service.drivers.destroy()  # the datapath's namespaces
    transport.cleanup()


def network(service: Any, cidr: str) -> str:
    """A network, and ICMP let into the project's default group (neutron's lets in only
    its members: the DHCP namespace the guests are pinged from is not one)."""
    from labcloud.context import RequestContext

    admin = RequestContext(is_admin=True, roles=("admin",), project_id="bench")
    net = service.manager.create_network(admin, {"name": "bench"})
    service.manager.create_subnet(admin, {"network_id": net["id"], "cidr": cidr})
    group = service.ports.groups.default_group("bench")
    rule = {"security_group_id": group, "direction": "ingress", "protocol": "icmp"}
    service.ports.groups.create_security_group_rule(admin, rule)
    return str(net["id"])


def port(service: Any, net_id: str, name: str, host: str) -> dict[str, Any]:
    from labcloud.context import RequestContext

    admin = RequestContext(is_admin=True, roles=("admin",), project_id="bench")
    body = {"network_id": net_id, "device_id": name, "binding:host_id": host}
    return dict(service.ports.create_port(admin, body))


def plug_to_active(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        service, transport, active = neutron("noop", Path(tmp))
        try:
            net_id = network(service, "10.70.0.0/22")
            times = []
            for i in range(n):
                start = time.perf_counter()
                made = port(service, net_id, f"vm{i}", HOSTS[i % 2])
                active.wait_for(lambda e, pid=made["id"]: e.id == pid, timeout=30)
                times.append(time.perf_counter() - start)
        finally:
            stop(service, transport)
    figure("port plug-to-ACTIVE, no-op datapath, median", statistics.median(times) * 1000, "ms")


def topology(n: int, quick: bool) -> None:
    from labcloud.compute.virt.netns import NamespaceGuests
    from labcloud.netns import procs

    with tempfile.TemporaryDirectory() as tmp:
        service, transport, active = neutron("linuxbridge", Path(tmp))
        fabric = service.fabric
        guests = {h: NamespaceGuests(fabric.tag, h, Path(tmp) / h) for h in HOSTS}
        spawned: dict[str, float] = {}
        booted: dict[str, float] = {}  # when it booted (its port ACTIVE)
        from_boot: dict[str, float] = {}  # its boot to its lease
        ports: list[tuple[str, str, str]] = []
        leases: dict[str, float] = {}
        try:
            start, cpu_start = time.perf_counter(), _cpu()
            net_id = network(service, "10.71.0.0/22")

            def boot(i: int) -> tuple[str, str, str]:
                """As nova-compute's build: the guest is spawned paused and boots once its
                port is ACTIVE (when neutron sends network-vif-plugged)."""
                name, host = f"g{i}", HOSTS[i % 2]
                made = port(service, net_id, name, host)
                vif = {k: made[k] for k in ("network_id", "mac_address", "fixed_ips")}
                guests[host].spawn({"uuid": name}, [vif | {"port_id": made["id"]}], paused=True)
                spawned[name] = time.time()  # the clock of the lease file's mtime
                active.wait_for(lambda e, pid=made["id"]: e.id == pid, timeout=30)
                booted[name] = time.time()
                guests[host].boot({"uuid": name})
                return name, host, str(made["fixed_ips"][0]["ip_address"])

            with ThreadPoolExecutor(BUILDS) as pool:  # nova-compute builds concurrently too
                ports = list(pool.map(boot, range(n)))
            qdhcp = fabric.ns(f"qdhcp-{net_id}")
            print(
                f"# ports created, guests spawned: {time.perf_counter() - start:.2f} s", flush=True
            )

            def ready(item: tuple[str, str, str]) -> None:
                name, host, ip = item
                deadline = time.perf_counter() + 30

                def leased() -> float | None:
                    """When the guest got its lease: it has the address, and its DHCP
                    client's script has written the lease file (its last step)."""
                    if guests[host].address(name) != ip:
                        return None
                    return guests[host].leased_at(name)

                while (at := leased()) is None:
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"{name} got no lease")
                    time.sleep(0.02)  # polling a namespace: nothing sends an event
                leases[name] = at - spawned[name]
                from_boot[name] = at - booted[name]
                while procs.run(qdhcp, ["ping", "-c", "1", "-W", "1", ip]).returncode != 0:
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"{name} does not answer ping")

            with ThreadPoolExecutor(16) as pool:
                list(pool.map(ready, ports))
            built, cpu = time.perf_counter() - start, _cpu() - cpu_start
        finally:
            for host, made in guests.items():
                for name, where, _ in ports:
                    if where == host:
                        made.destroy({"uuid": name})
            stop(service, transport)
    figure(
        f"{n}-port topology built, leased and pingable",
        built,
        "s",
        at_most=2.0,
        judged=not quick,
    )
    figure(
        "DHCP lease time, guest spawn to address, median", statistics.median(leases.values()), "s"
    )
    figure(
        "DHCP lease time, guest boot (port ACTIVE) to address, median",
        statistics.median(from_boot.values()),
        "s",
    )
    figure(f"CPU time of the {n}-port build, this process and the commands it ran", cpu, "s")


def _cpu() -> float:
    """CPU seconds of this process (every thread) and of its children that have ended
    (ip, iptables-restore, ping: not dnsmasq or the guests' clients, still running)."""
    own, ended = os.times()[:2], os.times()[2:4]
    return sum(own) + sum(ended)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="10 ports, 20 plugs")
    args = parser.parse_args()
    print(f"# {load()}", flush=True)
    plug_to_active(20 if args.quick else 200)
    if os.geteuid() != 0:
        print("the datapath figures need root (namespaces, bridges, dnsmasq)", file=sys.stderr)
        return 1
    topology(10 if args.quick else args.ports, args.quick)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
