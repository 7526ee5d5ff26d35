"""Real guests (issue 14): the tiny image booted by the libvirt driver in an in-process cloud.

    .venv/bin/python bench/guest.py [--guests 5] [--quick]      (as root; starts libvirtd if needed)

- ``server create`` (POST /servers) to ACTIVE, and to the guest's boot marker on its serial
  console (target <= 10 s under TCG), under the virt type the driver's probe chose (KVM where
  it really works, TCG (qemu) otherwise: where KVM works, run again with
  LABCLOUD_VIRT_TYPE=qemu for the TCG figure);
- the resident memory of each guest's QEMU process, once booted;
- N guests created at once (5 on a 2-core machine; --quick: 2), to every boot marker.

Every guest is deleted at the end and checked gone (no domain, no files); a guest that does
not boot, or anything left behind, is a failure (exit status 1).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from _figures import figure, load

DEADLINE = 300.0  # s a guest may take to print its marker on a loaded machine
MARKER_TARGET = 10.0  # s, server create to the boot marker under TCG


def qemu_rss_mb(uuid: str) -> float:
    """VmRSS of the guest's QEMU process (libvirtd writes its pid under /run/libvirt/qemu)."""
    pid = Path(f"/run/libvirt/qemu/instance-{uuid}.pid").read_text().strip()
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_marker(driver: Any, uuid: str, start: float) -> float:
    """Seconds from ``start`` to the guest's marker (the console is a file: it is polled)."""
    from labcloud.compute.virt.libvirt.image import MARKER

    while MARKER not in driver.get_console_output({"uuid": uuid}):
        if time.monotonic() - start > DEADLINE:
            raise RuntimeError(f"{uuid} printed no boot marker in {DEADLINE} s")
        time.sleep(0.1)
    return time.monotonic() - start


def boot_many(cloud: Any, names: list[str]) -> list[tuple[str, float, float]]:
    """Create the servers at once; (uuid, s to ACTIVE, s to marker) for each."""
    driver = cloud.compute_driver("compute1")
    token = cloud.login("demo")
    results: list[tuple[str, float, float]] = []
    errors: list[BaseException] = []

    def one(name: str) -> None:
        try:
            start = time.monotonic()
            boot = cloud.boot(name, token=token)
            boot.wait("ACTIVE", timeout=DEADLINE)
            active = time.monotonic() - start
            results.append((boot.server_id, active, wait_marker(driver, boot.server_id, start)))
            boot.close()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def delete_all(cloud: Any, uuids: list[str]) -> list[str]:
    """Delete the servers; what is left of them (domains, files)."""
    import httpx

    from labcloud.trace.flow import FlowRecorder

    flow = FlowRecorder(cloud.bus)
    headers = {"X-Auth-Token": cloud.login("demo")}
    for uuid in uuids:
        httpx.delete(f"{cloud.urls['compute']}/v2.1/servers/{uuid}", headers=headers)
    for uuid in uuids:
        flow.wait_for_state(uuid, "DELETED", timeout=120)
    driver = cloud.compute_driver("compute1")
    left = [u for u in uuids if u in driver.list_instances()]
    return left + [str(p) for u in uuids for p in driver.domains.instances_path.glob(f"{u}*")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guests", type=int, default=5, help="guests at once (default: 5)")
    parser.add_argument("--quick", action="store_true", help="2 guests at once")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/guest.py needs root (qemu:///system)", file=sys.stderr)
        return 1
    from labcloud.cloud import LabCloud
    from labcloud.compute.virt.libvirt import image
    from labcloud.compute.virt.libvirt.host import LibvirtDaemons
    from labcloud.spec import CloudSpec

    daemons = LibvirtDaemons().ensure()
    try:
        tiny = image.build()
        spec = CloudSpec.demo(hosts=1).but(images=image.glance_images(tiny))
        with LabCloud(spec, compute_driver="libvirt") as cloud:
            return measure(cloud, 2 if args.quick else args.guests)
    finally:
        daemons.stop()


def measure(cloud: Any, guests: int) -> int:
    driver = cloud.compute_driver("compute1")
    driver.init_host()  # the KVM probe (cached) before anything is timed
    print(f"# {load()}; virt type {driver.virt_type}; tiny image, m1.tiny", flush=True)
    uuids: list[str] = []
    try:
        [(uuid, active, marker)] = boot_many(cloud, ["guest0"])
        uuids.append(uuid)
        figure("server create to ACTIVE", active, "s", note=f"({driver.virt_type})")
        figure(
            "server create to the guest's boot marker",
            marker,
            "s",
            at_most=MARKER_TARGET if driver.virt_type == "qemu" else None,
            note=f"({driver.virt_type}, one guest)",
        )
        figure("resident memory per guest", qemu_rss_mb(uuid), "MB", note="(QEMU's VmRSS)")
        start = time.monotonic()
        many = boot_many(cloud, [f"guest{i}" for i in range(1, guests + 1)])
        uuids += [u for u, _, _ in many]
        figure(
            "guests created at once, to every boot marker",
            time.monotonic() - start,
            "s",
            note=f"({guests} guests on {os.cpu_count()} cores, slowest marker "
            f"{max(m for _, _, m in many):.1f} s)",
        )
        rss = [qemu_rss_mb(u) for u in uuids]
        figure("resident memory of all guests", sum(rss), "MB", note=f"({len(rss)} guests)")
    finally:
        left = delete_all(cloud, uuids)
    if left:
        print(f"left behind after delete: {left}", file=sys.stderr)
    return 1 if left else 0  # a missed target is printed as such; leftovers are a failure


if __name__ == "__main__":
    sys.exit(main())
