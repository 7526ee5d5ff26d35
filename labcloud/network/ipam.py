"""IP address management: which addresses a subnet may hand out, and picking a free one.

Allocation is optimistic: pick a candidate that looks free, insert it, and let the unique
constraint on (subnet, address) decide between two ports that picked the same one; the loser
tries the next candidate. Candidates start at a random place in the pool so that many
concurrent allocations rarely collide at all.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator
from typing import Any

from labcloud.exceptions import Conflict, Invalid

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class IpAddressGenerationFailure(Conflict):
    msg_fmt = "No more IP addresses available on network %(net_id)s."


class InvalidIpForSubnet(Invalid):
    msg_fmt = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class IpAddressAlreadyAllocated(Conflict):
    msg_fmt = "IP address %(ip)s already allocated in subnet %(subnet_id)s."


def parse_cidr(cidr: str, ip_version: int | None = None) -> IPNetwork:
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        raise Invalid(
            f"Invalid input for cidr. Reason: '{cidr}' is not a valid IP subnet ({exc})."
        ) from None
    if ip_version and net.version != ip_version:
        raise Invalid(f"Invalid input: cidr {cidr} is not an IPv{ip_version} subnet.")
    if net.num_addresses < 4:
        raise Invalid(f"Invalid input for cidr: {cidr} is too small for a subnet.")
    return net


def default_gateway(net: IPNetwork) -> str:
    return str(net.network_address + 1)


def default_pools(net: IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    """Everything but the network address, broadcast (IPv4) and the gateway, as neutron does
    (a gateway inside the range splits it in two)."""
    first = net.network_address + 1
    last = net.broadcast_address - (1 if net.version == 4 else 0)
    gw = int(ipaddress.ip_address(gateway)) if gateway else None
    if gw is None or not int(first) <= gw <= int(last):
        return [{"start": str(first), "end": str(last)}]
    ranges = [(int(first), gw - 1), (gw + 1, int(last))]
    address = ipaddress.ip_address
    return [{"start": str(address(a)), "end": str(address(b))} for a, b in ranges if a <= b]


def check_gateway(net: IPNetwork, gateway: str) -> None:
    try:
        ip = ipaddress.ip_address(gateway)
    except ValueError:
        raise Invalid(f"Invalid input for gateway_ip: '{gateway}' is not an IP address.") from None
    if ip not in net or ip in (net.network_address, net.broadcast_address):
        raise Invalid(
            f"Gateway ip {gateway} conflicts with allocation pool or is not in subnet {net}."
        )


def pool_size(pools: list[dict[str, str]]) -> int:
    return sum(
        int(ipaddress.ip_address(p["end"])) - int(ipaddress.ip_address(p["start"])) + 1
        for p in pools
    )


def candidates(pools: list[dict[str, str]], taken: set[str]) -> Iterator[str]:
    """Addresses of the pools not in ``taken``, starting at a random offset and wrapping."""
    if not pools:
        return
    # each pool as (first address, size) in integers, parsed once: a port looks at a
    # batch of candidates, and parsing the pools again for each was most of their cost
    address = type(ipaddress.ip_address(pools[0]["start"]))
    ranges = [(int(address(p["start"])), int(address(p["end"]))) for p in pools]
    ranges = [(first, last - first + 1) for first, last in ranges]
    size = sum(count for _, count in ranges)
    if size <= 0:
        return
    offset = random.randrange(size)
    for i in range(size):
        candidate = str(address(_nth(ranges, (offset + i) % size)))
        if candidate not in taken:
            yield candidate


def _nth(ranges: list[tuple[int, int]], n: int) -> int:
    """The ``n``th address (an integer) of the pools' (first, size) ranges."""
    for first, count in ranges:
        if n < count:
            return first + n
        n -= count
    raise IndexError(n)


def check_fixed_ip(subnet: dict[str, Any], address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise InvalidIpForSubnet(ip_address=address) from None
    net = ipaddress.ip_network(subnet["cidr"])
    reserved = {net.network_address} | ({net.broadcast_address} if net.version == 4 else set())
    if ip not in net or ip in reserved:  # IPv6 has no broadcast address
        raise InvalidIpForSubnet(ip_address=address)
    return str(ip)


def random_mac() -> str:
    """A MAC in OpenStack's ``fa:16:3e`` range."""
    return "fa:16:3e:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))
