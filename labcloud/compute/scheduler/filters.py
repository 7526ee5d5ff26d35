"""Host filters: each says, for one host and one request, whether the host can take it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from labcloud.compute.scheduler.host_state import HostState
from labcloud.compute.servicegroup import ServiceGroup, utcnow

Spec = dict[str, Any]


class BaseHostFilter:
    name = "BaseHostFilter"

    def host_passes(self, host: HostState, spec: Spec) -> bool:
        raise NotImplementedError

    def filter_all(self, hosts: list[HostState], spec: Spec) -> list[HostState]:
        """The hosts that pass (a filter may do once per decision what each host shares)."""
        passes = self.host_passes
        return [h for h in hosts if passes(h, spec)]


class ComputeFilter(BaseHostFilter):
    """The host's nova-compute service is enabled and up (it reported recently)."""

    name = "ComputeFilter"

    def __init__(self, servicegroup: ServiceGroup | None = None) -> None:
        self.servicegroup = servicegroup or ServiceGroup()

    def host_passes(self, host: HostState, spec: Spec) -> bool:
        return host.enabled and self.servicegroup.is_up(host.updated_at)

    def filter_all(self, hosts: list[HostState], spec: Spec) -> list[HostState]:
        # one clock reading per decision, not one per host: up means reported since then
        cutoff = utcnow() - timedelta(seconds=self.servicegroup.down_time)
        return [h for h in hosts if h.enabled and h.updated_at and h.updated_at >= cutoff]


class RamFilter(BaseHostFilter):
    """Enough RAM, allowing classic nova's overcommit of 1.5."""

    name = "RamFilter"

    def __init__(self, ratio: float = 1.5) -> None:
        self.ratio = ratio

    def host_passes(self, host: HostState, spec: Spec) -> bool:
        limit = host.memory_mb * self.ratio
        return bool(limit - host.memory_mb_used >= spec["flavor"]["memory_mb"])


class CoreFilter(BaseHostFilter):
    """Enough vCPUs, allowing nova's CPU overcommit of 16."""

    name = "CoreFilter"

    def __init__(self, ratio: float = 16.0) -> None:
        self.ratio = ratio

    def host_passes(self, host: HostState, spec: Spec) -> bool:
        return bool(host.vcpus * self.ratio - host.vcpus_used >= spec["flavor"]["vcpus"])


class DiskFilter(BaseHostFilter):
    """Enough local disk for the root disk (no overcommit)."""

    name = "DiskFilter"

    def __init__(self, ratio: float = 1.0) -> None:
        self.ratio = ratio

    def host_passes(self, host: HostState, spec: Spec) -> bool:
        return bool(host.local_gb * self.ratio - host.local_gb_used >= spec["flavor"]["root_gb"])


class AvailabilityZoneFilter(BaseHostFilter):
    """The host is in the availability zone asked for (if any)."""

    name = "AvailabilityZoneFilter"

    def host_passes(self, host: HostState, spec: Spec) -> bool:
        wanted = spec.get("availability_zone")
        return not wanted or host.availability_zone == wanted


class ImagePropertiesFilter(BaseHostFilter):
    """The image's hypervisor type and architecture, if it names them, suit the host."""

    name = "ImagePropertiesFilter"

    def host_passes(self, host: HostState, spec: Spec) -> bool:
        props = spec.get("image_properties") or {}
        hv = props.get("img_hv_type") or props.get("hypervisor_type")
        if hv and hv != host.hypervisor_type and host.hypervisor_type != "fake":
            return False
        arch = props.get("hw_architecture") or props.get("architecture")
        return not arch or arch in ("x86_64", "i686")


def default_filters(servicegroup: ServiceGroup | None = None) -> list[BaseHostFilter]:
    return [
        ComputeFilter(servicegroup),
        RamFilter(),
        CoreFilter(),
        DiskFilter(),
        AvailabilityZoneFilter(),
        ImagePropertiesFilter(),
    ]


def run_filters(
    filters: list[BaseHostFilter], hosts: list[HostState], spec: Spec
) -> tuple[list[HostState], list[tuple[str, int]]]:
    """The hosts that pass every filter, and how many each filter removed."""
    removed = []
    for f in filters:
        kept = f.filter_all(hosts, spec)
        removed.append((f.name, len(hosts) - len(kept)))
        hosts = kept
    return hosts, removed
