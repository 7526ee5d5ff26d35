"""The resource tracker: what a compute host has, what its instances use, and claims.

A claim reserves a flavor's vCPUs, RAM and disk before the build starts and gives them back
if the build fails; the host's usage goes to the database (through the conductor) after
every change, which is where nova-scheduler reads it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from labcloud.compute.conductor.rpcapi import ConductorAPI
from labcloud.compute.virt.driver import ComputeDriver
from labcloud.context import RequestContext
from labcloud.exceptions import LabCloudError

# The scheduler filters with these overcommit ratios (classic nova's defaults); a claim must
# accept what the scheduler placed, as nova's claims test against the scheduler's limits.
ALLOCATION_RATIOS = {"vcpus": 16.0, "memory_mb": 1.5, "local_gb": 1.0}


class ComputeResourcesUnavailable(LabCloudError):
    msg_fmt = "Insufficient compute resources: %(reason)s."


class ResourceTracker:
    def __init__(
        self, host: str, driver: ComputeDriver, conductor: ConductorAPI, availability_zone: str
    ) -> None:
        self.host = host
        self.driver = driver
        self.conductor = conductor
        self.availability_zone = availability_zone
        self._lock = threading.Lock()
        self.used = {"vcpus": 0, "memory_mb": 0, "local_gb": 0, "running_vms": 0}
        self.total: dict[str, Any] = {}
        self._dirty = False
        self._reporting = False

    def report(self, ctxt: RequestContext) -> None:
        """Send the host's usage to the conductor (and so to the database and schedulers).

        Reports coalesce: while one thread is sending, others only mark the usage changed,
        and the sender goes round again with the latest figures. A burst of builds costs a
        few reports instead of one each; at rest every change is still reported.
        """
        with self._lock:
            self._dirty = True
            if self._reporting:
                return
            self._reporting = True
        try:
            while True:
                with self._lock:
                    if not self._dirty:
                        self._reporting = False
                        return
                    self._dirty = False
                    values = self._values()
                self.conductor.compute_node_update(ctxt, self.host, values)
        except BaseException:
            with self._lock:
                self._reporting = False
            raise

    def _values(self) -> dict[str, Any]:
        self.total = dict(self.driver.get_available_resource())
        return {
            "vcpus": self.total["vcpus"],
            "memory_mb": self.total["memory_mb"],
            "local_gb": self.total["local_gb"],
            "hypervisor_type": self.total.get("hypervisor_type", "fake"),
            "vcpus_used": self.used["vcpus"],
            "memory_mb_used": self.used["memory_mb"],
            "local_gb_used": self.used["local_gb"],
            "running_vms": self.used["running_vms"],
            "availability_zone": self.availability_zone,
        }

    @staticmethod
    def _need(flavor: dict[str, Any]) -> dict[str, int]:
        return {
            "vcpus": flavor["vcpus"],
            "memory_mb": flavor["memory_mb"],
            "local_gb": flavor["root_gb"],
        }

    def reserve(self, flavor: dict[str, Any], vms: int = 1) -> None:
        """Take the flavor's resources now, or raise ComputeResourcesUnavailable."""
        need = self._need(flavor)
        with self._lock:
            short = [
                k
                for k, v in need.items()
                if self.used[k] + v > self.total.get(k, 0) * ALLOCATION_RATIOS[k]
            ]
            if short:
                raise ComputeResourcesUnavailable(
                    reason=f"not enough {', '.join(short)} on {self.host}"
                )
            self._add(need, 1, vms)

    @contextmanager
    def claim(self, ctxt: RequestContext, flavor: dict[str, Any]) -> Iterator[None]:
        """Hold the flavor's resources for the build; give them back if it raises."""
        self.reserve(flavor)
        try:
            yield
        except BaseException:
            with self._lock:
                self._add(self._need(flavor), -1, 1)
            self.report(ctxt)
            raise
        self.report(ctxt)

    def release(self, ctxt: RequestContext, flavor: dict[str, Any], vms: int = 1) -> None:
        with self._lock:
            self._add(self._need(flavor), -1, vms)
        self.report(ctxt)

    def _add(self, need: dict[str, int], sign: int, vms: int) -> None:
        for key, value in need.items():
            self.used[key] = max(0, self.used[key] + sign * value)
        self.used["running_vms"] = max(0, self.used["running_vms"] + sign * vms)
