"""The machine room of one cloud: a namespace per host, joined by a "physical" network.

``Fabric(tag)`` owns every namespace named ``lc-<tag>-...``. Its ``fabric`` namespace
plays the switches: bridge ``data`` carries VXLAN between hosts (each host's ``data0``
has an address on 172.31.255.0/24), bridge ``physnet1`` is the flat provider network
(each host's ``phy0`` is plugged into it, as a NIC into a switch). ``destroy()`` and
``cleanup(tag)`` kill what runs in those namespaces and delete them, bridges and all.

A host is wired by whichever process asks for it first (a process cloud's L2 agent, DHCP
agent and nova-compute each build their own ``Fabric(tag)``): wiring holds an exclusive
lock on ``LOCK_FILE`` (flock), so two processes never number two hosts' links alike.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

from labcloud.netns import links, procs

PREFIX = "lc-"
UNDERLAY = ipaddress.ip_network("172.31.255.0/24")
VXLAN_GROUP = "239.1.1.1"  # neutron's [vxlan] vxlan_group is 224.0.0.1; any group works here
PHYSNET = "physnet1"
RUN_DIR = Path("/run/labcloud")  # the files of what runs in the fabrics, one directory each
LOCK_FILE = Path("/run/lock/labcloud-fabric.lock")  # one for every cloud: wiring is brief


@contextlib.contextmanager
def _wiring() -> Iterator[None]:
    """Held while a host is looked for and wired, across processes (released on exit,
    even by a process killed meanwhile: the kernel drops a dead process's flock)."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def new_tag() -> str:
    return secrets.token_hex(2)


def files(tag: str) -> Path:
    """Where the programs of the fabric ``tag`` keep their files (guests' pages, leases):
    removed with its namespaces."""
    return RUN_DIR / f"{PREFIX}{tag}"


def cleanup(tag: str | None = None) -> list[str]:
    """Remove what a cloud with ``tag`` (None: every labcloud cloud) left behind, even
    after a crash: processes in its namespaces, then the namespaces and their files.
    Returns the namespaces' names."""
    prefix = f"{PREFIX}{tag}-" if tag else PREFIX
    gone = links.namespaces(prefix)
    for ns in gone:
        procs.kill_all(ns)
    for ns in gone:
        links.delete_namespace(ns)
    for found in [files(tag)] if tag else RUN_DIR.glob(f"{PREFIX}*"):
        shutil.rmtree(found, ignore_errors=True)
    return gone


class Fabric:
    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or new_tag()
        self._lock = threading.Lock()

    def ns(self, role: str) -> str:
        """The namespace of ``role`` (a host name, ``qdhcp-<net>``, ``i-<uuid>`` ...)."""
        return f"{PREFIX}{self.tag}-{role}"

    @property
    def switch(self) -> str:
        return self.ns("fabric")

    def owns(self, ns: str) -> bool:
        return ns.startswith(f"{PREFIX}{self.tag}-")

    def host(self, name: str) -> str:
        """The namespace of host ``name``, wired to the fabric (made on first use, by
        whichever process or object asks first)."""
        with self._lock, _wiring():
            if self.ns(name) not in links.namespaces(self.ns("")):
                self._wire(name)
        return self.ns(name)

    def tunnel_ip(self, name: str) -> str:
        with links.iproute(self.host(name)) as ipr:
            return links.addresses(ipr, "data0")[0].split("/")[0]

    def _wire(self, name: str) -> None:
        links.ensure_namespace(self.switch)
        with links.iproute(self.switch) as ipr:
            # the bridges first, so that no port of the switch has the index its peer has in
            # the host (2 and 3 there: data0, phy0). The kernel's linkwatch tells a link whose
            # index equals its peer's from a physical NIC only by that, and then may hold its
            # carrier (so the port, disabled) for up to a second, dropping what crosses it
            links.ensure_bridge(ipr, "data")
            links.ensure_bridge(ipr, PHYSNET)
            n = 1 + sum(x[1:].isdigit() for x in links.link_names(ipr, "d"))  # d1, d2 ...
        host = self.ns(name)
        links.ensure_namespace(host)
        with links.iproute(host) as ipr:
            links.add_veth(ipr, "data0", f"d{n}", self.switch)
            links.add_veth(ipr, "phy0", f"p{n}", self.switch)
            links.add_address(ipr, "data0", f"{UNDERLAY.network_address + n}/{UNDERLAY.prefixlen}")
            links.set_up(ipr, "data0")
            links.set_up(ipr, "phy0")
        with links.iproute(self.switch) as ipr:
            links.set_up(ipr, f"d{n}", master="data")
            links.set_up(ipr, f"p{n}", master=PHYSNET)

    def namespaces(self) -> list[str]:
        return links.namespaces(f"{PREFIX}{self.tag}-")

    def destroy(self) -> list[str]:
        return cleanup(self.tag)
