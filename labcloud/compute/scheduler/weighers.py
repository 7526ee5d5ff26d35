"""Weighers rank the hosts that passed: nova normalises each weigher to 0..1 and multiplies."""

from __future__ import annotations

from labcloud.compute.scheduler.host_state import HostState


class RAMWeigher:
    """More free RAM weighs more: a positive multiplier spreads, a negative one stacks."""

    def __init__(self, multiplier: float = 1.0) -> None:
        self.multiplier = multiplier

    def raw(self, host: HostState) -> float:
        return float(host.free_ram_mb)


def weigh(hosts: list[HostState], weighers: list[RAMWeigher]) -> list[HostState]:
    """Hosts sorted best first."""
    totals = [0.0] * len(hosts)
    for w in weighers:
        raws = [w.raw(h) for h in hosts]
        low, high = min(raws, default=0.0), max(raws, default=0.0)
        span = high - low
        for i, value in enumerate(raws):
            totals[i] += w.multiplier * ((value - low) / span if span else 0.0)
    order = sorted(range(len(hosts)), key=lambda i: totals[i], reverse=True)
    return [hosts[i] for i in order]
