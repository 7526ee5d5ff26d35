"""Which addresses a port gets: those asked for (checked against the subnet and the
addresses already given out), else free ones from the subnets' pools (see ipam.py). The
unique constraint on (subnet, address) settles two ports that pick the same one at once."""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from labcloud.exceptions import Conflict
from labcloud.network import ipam
from labcloud.network.inlists import InList
from labcloud.network.manager import SubnetNotFound
from labcloud.network.models import IPAllocation, Subnet

SUBNETS: Table = Subnet.__table__  # type: ignore[assignment]  # a Table, typed FromClause
IPS: Table = IPAllocation.__table__  # type: ignore[assignment]
# reads that run in a session (a port's update) or on a bare connection (its creation)
Reader = Session | Connection


class DuplicateFixedIp(Conflict):
    msg_fmt = "IP address %(ip)s is requested more than once in fixed_ips."


def no_twice(requested: list[dict[str, Any]]) -> None:
    counts = Counter(str(item["ip_address"]) for item in requested if item.get("ip_address"))
    for address, count in counts.items():
        if count > 1:
            raise DuplicateFixedIp(ip=address)


def allocate(
    s: Session,
    port_id: str,
    net_id: str,
    requested: list[dict[str, Any]] | None,
    keep: tuple[tuple[str, str], ...] = (),
    subnets: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, str]]:
    """Insert the port's addresses: ``requested`` (neutron's fixed_ips; None: one from the
    first subnet of each IP version), ``keep`` those it already holds (not inserted);
    ``subnets``: the network's (``subnets_of``), when the caller has read them already."""
    if subnets is None:
        subnets = subnets_of(s, net_id)
    wanted = choose(s, net_id, subnets, requested, keep)
    for subnet_id, address in wanted:
        if (subnet_id, address) not in keep:
            s.add(
                IPAllocation(
                    port_id=port_id, subnet_id=subnet_id, network_id=net_id, ip_address=address
                )
            )
    return [{"subnet_id": sub, "ip_address": address} for sub, address in wanted]


@cache
def _queries() -> tuple[Select[Any], InList[Select[Any]]]:
    """The two reads every new port makes, built once (building a statement cost more
    than running it): a network's subnets, and which of some addresses a subnet gave out
    (by the number of addresses: inlists.py)."""
    subnets = select(SUBNETS).where(SUBNETS.c.network_id == bindparam("net_id"))
    taken = InList(
        "addresses",
        lambda in_: select(IPS.c.ip_address).where(
            IPS.c.subnet_id == bindparam("subnet_id"), in_(IPS.c.ip_address)
        ),
    )
    return subnets, taken


def subnets_of(s: Reader, net_id: str) -> dict[str, dict[str, Any]]:
    """The network's subnets by id, as dicts (their columns: a Core statement, whether
    ``s`` is a session or a connection, so nothing pending is flushed first)."""
    rows = s.execute(_queries()[0], {"net_id": net_id}).mappings()
    return {row["id"]: dict(row) for row in rows}


def choose(
    s: Reader,
    net_id: str,
    subnets: dict[str, dict[str, Any]],
    requested: list[dict[str, Any]] | None,
    keep: tuple[tuple[str, str], ...] = (),
) -> list[tuple[str, str]]:
    """The (subnet, address) pairs the port is to hold: ``allocate``'s choice, written by
    the caller."""
    if requested is None:  # one address from the first subnet of each IP version
        firsts: dict[int, dict[str, Any]] = {}
        for sub in subnets.values():
            firsts.setdefault(sub["ip_version"], sub)
        requested = [{"subnet_id": sub["id"]} for sub in firsts.values()]
    wanted = []
    for item in requested:
        subnet = _subnet_for(subnets, item)
        held = [a for sub, a in keep if sub == subnet["id"] and (sub, a) not in wanted]
        if item.get("ip_address"):
            address = ipam.check_fixed_ip(subnet, str(item["ip_address"]))
            if address not in held and _taken(s, subnet["id"], [address]):
                raise ipam.IpAddressAlreadyAllocated(ip=address, subnet_id=subnet["id"])
        elif held:  # {"subnet_id": ...} on a subnet the port is on: keep its address
            address = held[0]
        else:
            address = _free_address(s, subnet)
            if not address:
                raise ipam.IpAddressGenerationFailure(net_id=net_id)
        wanted.append((subnet["id"], address))
    return wanted


def _subnet_for(subnets: dict[str, dict[str, Any]], item: dict[str, Any]) -> dict[str, Any]:
    if item.get("subnet_id"):
        if item["subnet_id"] not in subnets:
            raise SubnetNotFound(subnet_id=item["subnet_id"])
        return subnets[item["subnet_id"]]
    address = str(item.get("ip_address", ""))
    for subnet in subnets.values():
        try:
            ipam.check_fixed_ip(subnet, address)
            return subnet
        except ipam.InvalidIpForSubnet:
            continue
    raise ipam.InvalidIpForSubnet(ip_address=address)


def _taken(s: Reader, subnet_id: str, addresses: list[str]) -> set[str]:
    """Which of ``addresses`` the subnet has already given out."""
    statement, params = _queries()[1](addresses)
    return set(s.scalars(statement, params | {"subnet_id": subnet_id}))


def _free_address(s: Reader, subnet: dict[str, Any]) -> str:
    """A free address of the subnet's pools ("" if none): candidates from a random place,
    checked in growing batches, so a port costs a query or two, not a read of every
    address the subnet gave out (which made a burst of ports quadratic)."""
    batch: list[str] = []
    size = 16
    for address in ipam.candidates(subnet["allocation_pools"], set()):
        batch.append(address)
        if len(batch) == size:
            taken = _taken(s, subnet["id"], batch)
            free = next((a for a in batch if a not in taken), "")
            if free:
                return free
            batch, size = [], min(size * 4, 900)  # SQLite binds at most 999 variables
    taken = _taken(s, subnet["id"], batch) if batch else set()
    return next((a for a in batch if a not in taken), "")
