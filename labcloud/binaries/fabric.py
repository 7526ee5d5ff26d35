"""The linuxbridge datapath of a cloud of processes: which one ``up --processes`` asks for,
what it writes in ``[linux_bridge]``, and the namespaces the supervisor wires and removes.

Every agent and nova-compute of the cloud builds ``Fabric(fabric_tag)`` itself (a host's
namespace is made by whichever asks first, under a lock: labcloud.netns.fabric); the
supervisor wires every host before any of them starts, so each finds its host ready, and
removes the cloud's namespaces ``lc-<tag>-...`` once they all stopped.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from labcloud.conf import load
from labcloud.netns import links
from labcloud.netns.fabric import PREFIX, Fabric, cleanup, new_tag

LOG = logging.getLogger(__name__)


def choose(wanted: str) -> str | None:
    """Settle ``--datapath`` (auto: linuxbridge when root with the tools, as the in-kernel
    cloud's choose_datapath); None, with the reason printed, when it cannot be had."""
    from labcloud.network.datapath import choose_datapath

    try:
        chosen, reason = choose_datapath(wanted)
    except links.DatapathError as exc:
        print(f"labcloud up --processes: {exc}", file=sys.stderr)
        return None
    print(f"neutron's agents: {reason}")
    return chosen


def conf_section(chosen: str) -> dict[str, str]:
    """[linux_bridge] for the datapath chosen; linuxbridge gets a new fabric tag (this
    cloud's namespaces are ``lc-<tag>-...``, no other cloud's)."""
    if chosen == "noop":
        return {"datapath": "noop"}
    return {"datapath": chosen, "fabric_tag": new_tag()}


@dataclass(frozen=True)
class HostFabric:
    """The linuxbridge datapath's namespaces of this cloud: every host wired before any
    agent or nova-compute starts (each would otherwise wire its own on first use), all
    removed when the supervisor stops, with what runs in them (dnsmasq, guests)."""

    tag: str
    hosts: tuple[str, ...]

    @classmethod
    def of(cls, config: Path, hosts: tuple[str, ...]) -> HostFabric | None:
        """The fabric ``config`` asks for (None: the no-op datapath)."""
        options = load(config, "neutron").linux_bridge
        if options.datapath != "linuxbridge":
            return None
        return cls(options.fabric_tag, hosts)

    def wire(self) -> None:
        fabric, started = Fabric(self.tag), time.monotonic()
        for host in self.hosts:
            fabric.host(host)
        took = time.monotonic() - started
        LOG.info("fabric %s: hosts %s wired in %.2f s", self.tag, ", ".join(self.hosts), took)

    def remove(self) -> None:
        gone = remove(self.tag)
        LOG.info("fabric %s: %d namespaces removed", self.tag, len(gone))


def remove(tag: str) -> list[str]:
    """The fabric's namespaces, what runs in them, and their files (the fake guests')."""
    return cleanup(tag)


def describe(config: Path) -> str:
    """One line: which datapath the agents drive, and for linuxbridge its namespaces now."""
    options = load(config, "neutron").linux_bridge
    if options.datapath == "noop":
        return "noop (ports go ACTIVE, nothing is built: nothing to ping)"
    prefix = f"{PREFIX}{options.fabric_tag}-"
    return f"linuxbridge, {len(links.namespaces(prefix))} namespaces {prefix}*"


def remove_left(config: Path) -> list[str]:
    """What a supervisor that was killed left of the linuxbridge datapath: removed."""
    try:
        options = load(config, "neutron").linux_bridge
    except ValueError:  # no config any more: nothing known to remove
        return []
    if options.datapath != "linuxbridge" or not options.fabric_tag:
        return []
    return remove(options.fabric_tag)
