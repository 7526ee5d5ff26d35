"""The hypervisor drivers. nova's ComputeDriver has about 110 methods; labcloud's has a
dozen (driver.py), and the fake driver (fake.py) is the reference that documents them."""

from __future__ import annotations

from typing import Any

from labcloud.compute.virt.driver import ComputeDriver


def get_driver(name: str, host: str, **options: Any) -> ComputeDriver:
    if name == "fake":
        from labcloud.compute.virt.fake import FakeDriver

        return FakeDriver(host, **options)
    if name == "libvirt":
        from labcloud.compute.virt.libvirt.driver import LibvirtDriver

        return LibvirtDriver(host, **options)
    raise ValueError(f"unknown compute driver {name!r} (labcloud has: fake, libvirt)")
