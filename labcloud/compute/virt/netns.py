"""The fake hypervisor's guests as network namespaces: instances a student can ping.

Each instance is namespace ``lc-<tag>-i-<uuid>``; each of its ports a veth whose
``tap<port id[:11]>`` end is on the host (the host's namespace, as libvirt leaves a tap for
the L2 agent to plug) and whose other end is the guest's ``eth<n>``, with the port's MAC.
When it boots (at once, or on ``boot`` if it was created paused: nova-compute waits for
network-vif-plugged first), the guest does what a cirros image does: asks DHCP for its
address (busybox ``udhcpc``) where its network has a DHCP server, or takes the address
injected into it (the seed's Flat mode); and it serves a one-line web page on port 80
(busybox ``httpd``). The kernel answers ping. ``destroy`` stops its processes and deletes
the namespace, which takes its veths, and so its taps, along.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

from labcloud.netns import fabric, links, procs
from labcloud.netns.fabric import Fabric

# What udhcpc runs on each DHCP event (busybox passes the lease in the environment).
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface" ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    echo "$ip/$mask" > "$LEASE_FILE" ;;
esac
exit 0
"""


def guests_dir(tag: str) -> Path:
    """Where the guests of the fabric ``tag`` keep their pages and leases, unless told:
    among the fabric's files (removed with its namespaces)."""
    return fabric.files(tag) / "guests"


class NamespaceGuests:
    def __init__(self, tag: str, host: str, state_dir: Path | None = None) -> None:
        self.fabric = Fabric(tag)
        self.host = host
        self.dir = state_dir or guests_dir(tag)
        self._procs: dict[str, list[subprocess.Popen[bytes]]] = {}
        self._paused: dict[str, list[dict[str, Any]]] = {}  # uuid -> ports, until it boots
        self._lock = threading.Lock()

    def ns(self, uuid: str) -> str:
        return self.fabric.ns(f"i-{uuid}")

    def spawn(
        self, instance: dict[str, Any], network_info: list[dict[str, Any]], paused: bool = False
    ) -> None:
        """Make the guest's namespace and plug its ports; then boot it, unless ``paused``:
        a paused guest has its taps (for the L2 agent to plug) and runs nothing until
        ``boot``, as a paused domain's vCPUs run no code."""
        uuid = instance["uuid"]
        ns, host_ns = self.ns(uuid), self.fabric.host(self.host)
        links.ensure_namespace(ns)
        home = self.dir / uuid
        home.mkdir(parents=True, exist_ok=True)
        (home / "index.html").write_text(f"{instance.get('display_name') or uuid}\n")
        # every port on one netlink socket: each veth made with its tap up and its guest
        # end's MAC in one request (as libvirt creates a tap with its MAC), then the guest
        # ends up
        with links.iproute(host_ns) as ipr:
            for n, vif in enumerate(network_info):
                tap, mac = links.tap_name(vif["port_id"]), vif["mac_address"]
                links.add_veth(ipr, tap, f"eth{n}", ns, up=True, peer_mac=mac)
        links.set_up_by_name(ns, [f"eth{n}" for n in range(len(network_info))])
        with self._lock:
            self._paused[uuid] = network_info
        if not paused:
            self.boot(instance)

    def boot(self, instance: dict[str, Any]) -> None:
        """What the guest does once it runs: its web page, and on each port a DHCP client
        or the injected address. Only once: a guest that is not paused is left alone."""
        uuid = instance["uuid"]
        with self._lock:
            network_info = self._paused.pop(uuid, None)
        if network_info is None:
            return
        ns, home = self.ns(uuid), self.dir / uuid
        started = [procs.start(ns, ["busybox", "httpd", "-f", "-p", "80", "-h", str(home)])]
        for n, vif in enumerate(network_info):
            if self.has_dhcp(vif["network_id"]):
                started.append(self._dhcp_client(ns, f"eth{n}", home))
            else:
                self._inject(ns, f"eth{n}", vif)
        with self._lock:
            self._procs[uuid] = started

    def has_dhcp(self, network_id: str) -> bool:
        """Is there a DHCP server for the network? (on one machine, its namespace says so)"""
        return self.fabric.ns(f"qdhcp-{network_id}") in links.namespaces(self.fabric.ns("qdhcp-"))

    def _dhcp_client(self, ns: str, eth: str, home: Path) -> subprocess.Popen[bytes]:
        script = home / "udhcpc.sh"
        script.write_text(UDHCPC_SCRIPT.replace("$LEASE_FILE", str(home / f"{eth}.lease")))
        script.chmod(0o755)
        # -t 20 -T 1: DISCOVER every second (a guest nova did not wait for may boot before
        # its tap is in the bridge); -f: it stays in the foreground, to renew the lease as a
        # guest's client does
        argv = ["busybox", "udhcpc", "-f", "-i", eth, "-t", "20", "-T", "1", "-s", str(script)]
        return procs.start(ns, argv, log=home / f"{eth}.dhcp.log")

    def _inject(self, ns: str, eth: str, vif: dict[str, Any]) -> None:
        """Flat mode: the address comes with the instance (nova's injected network config)."""
        with links.iproute(ns) as ipr:
            for ip in vif["fixed_ips"]:
                if ":" in ip["ip_address"]:
                    continue
                # with no prefix length in network_info, the address is on-link alone and
                # every destination is reached through the link (ARP asks for it directly)
                links.add_address(ipr, eth, ip.get("cidr") or f"{ip['ip_address']}/32")
                if "cidr" not in ip:
                    ipr.route("replace", dst="0.0.0.0/0", oif=links.index_of(ipr, eth))

    def address(self, uuid: str, eth: str = "eth0") -> str | None:
        """The guest's IPv4 address on ``eth`` now (None: it has none yet)."""
        return links.ipv4_of(self.ns(uuid), eth)

    def leased_at(self, uuid: str, eth: str = "eth0") -> float | None:
        """When the guest's DHCP client last got its lease on ``eth`` (``time.time()``'s
        clock: when its script wrote the lease file), None if it has none."""
        try:
            return (self.dir / uuid / f"{eth}.lease").stat().st_mtime
        except FileNotFoundError:
            return None

    def destroy(self, instance: dict[str, Any]) -> None:
        """Stop the guest and delete its namespace; safe to repeat."""
        uuid = instance["uuid"]
        with self._lock:
            started = self._procs.pop(uuid, [])
            self._paused.pop(uuid, None)
        for proc in started:
            procs.stop(proc)
        ns = self.ns(uuid)
        if ns in links.namespaces(ns):
            procs.kill_all(ns)
            links.delete_namespace(ns)
        shutil.rmtree(self.dir / uuid, ignore_errors=True)
