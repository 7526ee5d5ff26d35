"""Namespaces and links with pyroute2: one ``with iproute(ns) as ipr:`` block per
operation (plugging a port is one operation of a few netlink requests), and the functions
below working on that ``ipr``.

Netlink errors become ``DatapathError`` at the block's edge; deleting something that is
not there is not an error (unplug and delete are safe to repeat).
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import functools
import os
import select
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from labcloud.exceptions import LabCloudError

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
RTMGRP_LINK = 1  # netlink multicast group of link changes (RTNLGRP_LINK)
SIOCGIFADDR = 0x8915
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
T = TypeVar("T")


class DatapathError(LabCloudError):
    msg_fmt = "The datapath failed: %(reason)s"


def available() -> tuple[bool, str]:
    """Can this process build a datapath? (root, pyroute2, network namespaces)."""
    if os.geteuid() != 0:
        return False, "not root: network namespaces, bridges and dnsmasq need root"
    try:
        import pyroute2  # noqa: F401
    except ImportError:
        return False, "pyroute2 is not installed"
    return True, "root with pyroute2"


def tap_name(port_id: str) -> str:
    """A port's tap device, as nova names it for neutron's agents: ``tap<port id[:11]>``."""
    return "tap" + port_id[:11]


@contextmanager
def iproute(ns: str | None = None) -> Iterator[Any]:
    """An IPRoute on ``ns`` (None: this process's namespace), netlink errors translated."""
    from pyroute2 import IPRoute, NetlinkError

    try:
        with _loop_set_aside(), _in_namespace(ns, IPRoute) if ns else IPRoute() as ipr:
            ipr.labcloud_ns = ns  # for index_of's shortcut
            yield ipr
    except NetlinkError as exc:
        raise DatapathError(reason=f"{os.strerror(exc.code)} (netlink, in {ns or 'host'})") from exc


@contextmanager
def _loop_set_aside() -> Iterator[None]:
    """pyroute2's synchronous IPRoute runs an asyncio loop of its own to completion, which
    asyncio refuses in a thread whose loop is running: a Jupyter kernel's main thread, where
    a notebook cell starts a cloud. That loop is blocked in this very call meanwhile, so it
    is set aside for the block and put back after."""
    running = asyncio.events._get_running_loop()
    if running is None:
        yield
        return
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(running)


def _in_namespace(ns: str, make: Callable[[], Any]) -> Any:
    """``make()`` with this thread inside ``ns``: its netlink socket stays there.

    pyroute2's own ``IPRoute(netns=...)`` forks a child to open the socket, and a fork of
    a process with threads (every service of the cloud) can hang on a lock another thread
    held; setns(2) moves this thread only, and the ``finally`` moves it back.
    """
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        there = os.open(f"{NETNS_DIR}/{ns}", os.O_RDONLY)
    except FileNotFoundError:
        os.close(here)
        raise DatapathError(reason=f"no network namespace {ns}") from None
    try:
        _setns(there, ns)
        try:
            return make()
        finally:
            _setns(here, "this thread's own")
    finally:
        os.close(here)
        os.close(there)


def inside(ns: str, make: Callable[[], T]) -> T:
    """``make()`` with this thread inside namespace ``ns`` (a socket it opens, or a child
    it starts, belongs there); the thread is back in its own when this returns."""
    made: T = _in_namespace(ns, make)
    return made


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _setns(fd: int, what: str) -> None:
    if _libc().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise DatapathError(reason=f"setns to {what} namespace: {os.strerror(err)}")


@contextmanager
def namespace_fd(ns: str) -> Iterator[int]:
    """An open fd of namespace ``ns`` (for a veth peer's ``net_ns_fd``)."""
    fd = os.open(f"{NETNS_DIR}/{ns}", os.O_RDONLY)
    try:
        yield fd
    finally:
        os.close(fd)


# -- namespaces ---------------------------------------------------------------------------
def namespaces(prefix: str = "") -> list[str]:
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(prefix))


def ensure_namespace(name: str) -> None:
    """Create the namespace with its loopback up; safe to repeat. (Made by this thread as
    ``ip netns add`` makes one, see ``_add_namespace``; pyroute2's netns.create would fork
    this threaded process.)"""
    if name not in namespaces(name):
        if _netns_dir_shared():
            _add_namespace(name)
        else:  # the first namespace on this machine: ip makes /run/netns a shared mount
            _ip("netns", "add", name)
    set_up_by_name(name, ["lo"])


def _add_namespace(name: str) -> None:
    """What ``ip netns add`` does, without exec'ing it (10 ms): this thread unshares a new
    network namespace, bind-mounts it on ``/run/netns/<name>`` and goes back to its own."""
    path = f"{NETNS_DIR}/{name}"
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    except FileExistsError:
        return  # made meanwhile, by another thread or process
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if _libc().unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare")
        try:
            source = b"/proc/thread-self/ns/net"
            if _libc().mount(source, path.encode(), b"none", MS_BIND, None) != 0:
                raise OSError(ctypes.get_errno(), "mount")
        finally:
            _setns(here, "this thread's own")
    except OSError as exc:
        os.unlink(path)
        raise DatapathError(reason=f"namespace {name}: {exc.strerror}") from exc
    finally:
        os.close(here)


def _netns_dir_shared() -> bool:
    """Is ``/run/netns`` a mount point with shared propagation (as ``ip netns add`` leaves
    it), so that a namespace mounted there is seen by every mount namespace?"""
    try:
        with open("/proc/self/mountinfo") as mounts:
            for line in mounts:
                fields = line.split(" - ")[0].split()
                if fields[4] == NETNS_DIR:
                    return any(f.startswith("shared:") for f in fields[6:])
    except OSError:
        pass
    return False


def delete_namespace(name: str) -> None:
    """Delete it (its links go with it); safe to repeat."""
    if name in namespaces(name):
        _ip("netns", "delete", name)


def _ip(*argv: str) -> None:
    answer = subprocess.run(["ip", *argv], capture_output=True, text=True, check=False)
    if answer.returncode != 0 and "exists" not in answer.stderr and "No such" not in answer.stderr:
        raise DatapathError(reason=f"ip {' '.join(argv)}: {answer.stderr.strip()}")


# -- cheap reads, decoded in C ------------------------------------------------------------
def names_in(ns: str, prefix: str = "") -> list[str]:
    """The names of the links in namespace ``ns`` (with ``prefix``): glibc's if_nameindex,
    one netlink dump decoded in C. An agent scanning its host for taps does this every
    round; pyroute2 would decode every attribute of every link in Python (ms per link)."""
    found = _in_namespace(ns, socket.if_nameindex)
    return sorted(name for _, name in found if name.startswith(prefix))


def ipv4_of(ns: str, name: str) -> str | None:
    """The (first) IPv4 address of link ``name`` in ``ns``, None when it has none: one
    ioctl (SIOCGIFADDR) on a socket opened inside the namespace."""
    sock = _in_namespace(ns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    with sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()))
        except OSError:  # no such link, or no address on it
            return None
    return socket.inet_ntoa(answer[20:24])


def set_up_by_name(ns: str, names: list[str]) -> None:
    """Bring links of namespace ``ns`` up, as ``ifconfig NAME up`` does: an ioctl pair
    (SIOCGIFFLAGS, SIOCSIFFLAGS) per link on one socket opened inside the namespace, where
    an IPRoute would open a netlink socket and encode and decode in Python."""
    sock = _in_namespace(ns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    with sock:
        for name in names:
            request = struct.pack("16sh22x", name.encode(), 0)
            try:
                answer = fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request)
                flags = struct.unpack("16sh", answer[:18])[1]
                if not flags & IFF_UP:
                    request = struct.pack("16sh22x", name.encode(), flags | IFF_UP)
                    fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, request)
            except OSError as exc:
                raise DatapathError(reason=f"{name} up in {ns}: {exc.strerror}") from exc


class LinkEvents:
    """The kernel's link notifications (RTNLGRP_LINK) in a namespace, used as a doorbell:
    ``wait`` returns True as soon as a link was added, changed or removed there (what
    changed is for the caller to look at). neutron's OVS agent watches ovsdb for the same
    reason (``minimize_polling``): to act on a new port at once instead of at the next poll.
    """

    def __init__(self, ns: str) -> None:
        # a netlink socket belongs to the namespace it was opened in
        self._sock = _in_namespace(
            ns, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        )
        self._sock.bind((0, RTMGRP_LINK))
        self._sock.setblocking(False)
        self._wake_r, self._wake_w = os.pipe()
        self._lock = threading.Lock()  # close() and the waiter: who releases the sockets
        self._closed = self._waiting = self._released = False

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a notification (True), ``close()`` or ``timeout`` (False). One
        thread waits; after ``close()`` the sockets are released and this returns False."""
        with self._lock:
            if self._closed:
                self._release()
                return False
            self._waiting = True
        try:
            ready, _, _ = select.select([self._sock, self._wake_r], [], [], timeout)
        finally:
            with self._lock:
                self._waiting = False
                if self._closed:  # close() has written its byte: nothing writes any more
                    self._release()
        if self._released or self._sock not in ready:
            return False
        try:
            while self._sock.recv(65536):  # a burst of notifications is one ring
                pass
        except OSError:  # drained (or ENOBUFS, an overrun: a ring all the same)
            pass
        return True

    def close(self) -> None:
        """Make the waiting thread's ``wait`` return False and release the sockets (at
        once when no thread waits)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._waiting:
                os.write(self._wake_w, b"x")
            else:
                self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._sock.close()
            os.close(self._wake_r)
            os.close(self._wake_w)


# -- links --------------------------------------------------------------------------------
def index_of(ipr: Any, name: str) -> int | None:
    """The link's index, None when there is none: if_nametoindex (one ioctl) in the
    namespace of ``ipr``, where pyroute2's link_lookup would decode the whole link."""
    if not hasattr(ipr, "labcloud_ns"):  # an IPRoute made elsewhere
        found = ipr.link_lookup(ifname=name)
        return int(found[0]) if found else None
    ns = ipr.labcloud_ns
    try:
        if ns is None:
            return socket.if_nametoindex(name)
        return int(_in_namespace(ns, lambda: socket.if_nametoindex(name)))
    except OSError:  # ENODEV: no such link
        return None


def link_names(ipr: Any, prefix: str = "") -> list[str]:
    names = [str(link.get("ifname")) for link in ipr.get_links()]
    return sorted(n for n in names if n.startswith(prefix))


def ensure_bridge(ipr: Any, name: str) -> None:
    """A bridge, up, forwarding at once (no STP, no forward delay); safe to repeat."""
    if index_of(ipr, name) is None:
        ipr.link("add", ifname=name, kind="bridge", br_forward_delay=0, br_stp_state=0)
    ipr.link("set", index=index_of(ipr, name), state="up")


def ensure_vxlan(ipr: Any, name: str, vni: int, dev: str, group: str) -> None:
    """A VXLAN device on ``dev`` flooding to multicast ``group`` (neutron's vxlan_group)."""
    if index_of(ipr, name) is None:
        ipr.link(
            "add",
            ifname=name,
            kind="vxlan",
            vxlan_id=vni,
            vxlan_group=group,
            vxlan_link=index_of(ipr, dev),
            vxlan_port=4789,
            vxlan_learning=True,
        )


def add_veth(
    ipr: Any,
    name: str,
    peer: str,
    peer_ns: str | None = None,
    *,
    up: bool = False,
    peer_mac: str | None = None,
) -> None:
    """A veth pair: ``name`` here, ``peer`` moved to namespace ``peer_ns``; safe to repeat.
    ``up``: ``name`` is up from the start; ``peer_mac``: the peer's MAC address. (One
    netlink request: the peer's state cannot go in it, see ``set_up_by_name``.)"""
    if index_of(ipr, name) is not None:
        return
    extra: dict[str, Any] = {"state": "up"} if up else {}
    wanted: dict[str, Any] = {"ifname": peer}
    if peer_mac is not None:
        wanted["address"] = peer_mac
    if peer_ns is None:
        ipr.link("add", ifname=name, kind="veth", peer=wanted, **extra)
        return
    with namespace_fd(peer_ns) as fd:
        ipr.link("add", ifname=name, kind="veth", peer=wanted | {"net_ns_fd": fd}, **extra)


def set_up(
    ipr: Any,
    name: str,
    *,
    master: str | None = None,
    mac: str | None = None,
    rename: str | None = None,
    mtu: int | None = None,
) -> None:
    """Bring a link up, optionally into a bridge, with a MAC address, a new name or MTU."""
    idx = index_of(ipr, name)
    if idx is None:
        raise DatapathError(reason=f"no link {name}")
    changes: dict[str, Any] = {}
    if master is not None:
        changes["master"] = index_of(ipr, master)
    if mac is not None:
        changes["address"] = mac
    if mtu is not None:
        changes["mtu"] = mtu
    if rename is not None:
        ipr.link("set", index=idx, state="down")
        changes["ifname"] = rename
    ipr.link("set", index=idx, state="up", **changes)


def bridge_ports(ipr: Any, bridge: str) -> list[str]:
    idx = index_of(ipr, bridge)
    if idx is None:
        return []
    return sorted(str(link.get("ifname")) for link in ipr.get_links(master=idx))


def move_to(ipr: Any, name: str, ns: str) -> bool:
    """Move link ``name`` from here into namespace ``ns``; False when there is none here."""
    idx = index_of(ipr, name)
    if idx is None:
        return False
    with namespace_fd(ns) as fd:
        ipr.link("set", index=idx, net_ns_fd=fd)
    return True


def delete_link(ipr: Any, name: str) -> None:
    """Delete a link (a veth takes its peer along); safe to repeat."""
    idx = index_of(ipr, name)
    if idx is not None:
        ipr.link("del", index=idx)


def add_address(ipr: Any, name: str, cidr: str) -> None:
    address, prefixlen = cidr.split("/")
    idx = index_of(ipr, name)
    have = {a.get("IFA_ADDRESS") for a in ipr.get_addr(index=idx)}
    if address not in have:
        ipr.addr("add", index=idx, address=address, prefixlen=int(prefixlen))


def add_default_route(ipr: Any, gateway: str) -> None:
    ipr.route("replace", dst="0.0.0.0/0", gateway=gateway)


def addresses(ipr: Any, name: str) -> list[str]:
    """IPv4 addresses of a link, as ``a.b.c.d/len``."""
    idx = index_of(ipr, name)
    if idx is None:
        return []
    return [f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(index=idx, family=2)]


def set_addresses(ipr: Any, name: str, cidrs: list[str]) -> None:
    """Make the IPv4 addresses of ``name`` exactly ``cidrs`` (``a.b.c.d/len``)."""
    idx = index_of(ipr, name)
    have = set(addresses(ipr, name))
    for cidr in sorted(have - set(cidrs)):
        address, prefixlen = cidr.split("/")
        ipr.addr("del", index=idx, address=address, prefixlen=int(prefixlen))
    for cidr in cidrs:
        if cidr not in have:
            add_address(ipr, name, cidr)


def set_default_route(ipr: Any, gateway: str | None) -> None:
    """The IPv4 default route via ``gateway`` (None: no default route)."""
    if gateway is not None:
        add_default_route(ipr, gateway)
    elif ipr.get_default_routes(family=2):
        ipr.route("del", dst="0.0.0.0/0")
