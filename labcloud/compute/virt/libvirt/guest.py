"""A guest described (``GuestSpec``) and written as libvirt domain XML, as nova's
``nova/virt/libvirt/config.py`` and ``designer.py`` do, in one screen.

The XML is what a student reads with ``virsh dumpxml instance-<uuid>``: the flavor's vCPUs
and RAM, the root disk (a qcow2 overlay on the cached image), the kernel and initramfs when
the image asks for a direct kernel boot (``kernel_id``/``ramdisk_id``), one NIC per neutron
port, the serial console into ``console.log``, and labcloud's metadata (which host, which
instance), as nova writes its ``<nova:instance>`` element.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

from labcloud.compute.states import PowerState

NAMESPACE = "https://labcloud.dev/xmlns/libvirt/instance/1.0"
TB_CACHE_MIB = 64  # TCG translates guest code into a cache; QEMU's default is 1 GiB

# libvirt's virDomainState -> nova's power state (nova/virt/libvirt/driver.py's table):
# BLOCKED is a running guest with idle vCPUs; SHUTDOWN is on its way to SHUTOFF.
POWER_STATES = {
    0: PowerState.NOSTATE,
    1: PowerState.RUNNING,
    2: PowerState.RUNNING,
    3: PowerState.PAUSED,
    4: PowerState.SHUTDOWN,
    5: PowerState.SHUTDOWN,
    6: PowerState.CRASHED,
    7: PowerState.SUSPENDED,
}


def power_state(libvirt_state: int, managed_save: bool) -> PowerState:
    """nova's code for a libvirt state; a guest saved by suspend (managedsave) is shut off
    for libvirt, and SUSPENDED here, as labcloud's other drivers say (nova says SHUTDOWN)."""
    state = POWER_STATES.get(libvirt_state, PowerState.NOSTATE)
    return PowerState.SUSPENDED if state is PowerState.SHUTDOWN and managed_save else state


def domain_name(uuid: str) -> str:
    return f"instance-{uuid}"


@dataclass(frozen=True)
class GuestSpec:
    """Everything a domain is made of; saved beside the disk so a resize can rebuild it."""

    uuid: str
    name: str
    host: str
    vcpus: int
    memory_mb: int
    disk: str  # the root disk (qcow2 overlay)
    console_log: str
    virt_type: str = "qemu"  # kvm, qemu (TCG) or test
    kernel: str | None = None
    ramdisk: str | None = None
    cmdline: str = ""
    macs: tuple[str, ...] = ()
    taps: tuple[str, ...] = ()  # with a datapath: each NIC's tap (tap<port id[:11]>)
    volumes: dict[str, str] = field(default_factory=dict)  # target dev (vdb) -> file
    run_as_root: bool = False  # qemu:///system as root: no chown of labcloud's files

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> GuestSpec:
        data: dict[str, Any] = json.loads(path.read_text())
        data["macs"] = tuple(data["macs"])
        data["taps"] = tuple(data.get("taps", ()))
        return cls(**data)


def disk_xml(target: str, source: str, fmt: str, serial: str = "") -> str:
    serial_xml = f"<serial>{escape(serial[:20])}</serial>" if serial else ""
    return (
        f"<disk type='file' device='disk'><driver name='qemu' type={quoteattr(fmt)}/>"
        f"<source file={quoteattr(source)}/><target dev={quoteattr(target)} bus='virtio'/>"
        f"{serial_xml}</disk>"
    )


def _os_xml(spec: GuestSpec) -> str:
    if spec.kernel is None:
        return "<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>"
    initrd = f"<initrd>{escape(spec.ramdisk)}</initrd>" if spec.ramdisk else ""
    cmdline = f"{spec.cmdline} labcloud.hostname={spec.name}".strip()
    return (
        "<os><type arch='x86_64' machine='pc'>hvm</type>"
        f"<kernel>{escape(spec.kernel)}</kernel>{initrd}<cmdline>{escape(cmdline)}</cmdline></os>"
    )


# No <cpu> element: QEMU's qemu64 model. host-passthrough and host-model abort on nested
# hosts (KVM cannot set MSR 0x10a, IA32_ARCH_CAPABILITIES), and under TCG qemu64 is the
# cheapest model to emulate.
def _features_xml(virt_type: str) -> str:
    if virt_type != "qemu":
        return "<features><acpi/><apic/></features>"
    tcg = f"<tcg><tb-cache unit='MiB'>{TB_CACHE_MIB}</tb-cache></tcg>"
    return f"<features><acpi/><apic/>{tcg}</features>"


def _nic_xml(mac: str, tap: str | None) -> str:
    """A virtio NIC with the port's MAC: on a tap of the port's name where labcloud's
    datapath plugs it (libvirt's ``ethernet`` type: the L2 agent, not libvirt, puts it in
    the network's bridge, as nova's linuxbridge VIF does), else on libvirt's user network.
    No iPXE ROM: nothing boots from the network."""
    kind = "user" if tap is None else "ethernet"
    target = "" if tap is None else f"<target dev={quoteattr(tap)}/>"
    return (
        f"<interface type={quoteattr(kind)}><mac address={quoteattr(mac)}/>{target}"
        "<model type='virtio'/><rom enabled='no'/></interface>"
    )


def domain_xml(spec: GuestSpec) -> str:
    """The domain XML of ``spec`` (``virsh dumpxml`` shows it back, with libvirt's defaults)."""
    taps: tuple[str | None, ...] = spec.taps or (None,) * len(spec.macs)
    nics = "".join(_nic_xml(mac, tap) for mac, tap in zip(spec.macs, taps, strict=True))
    volumes = "".join(disk_xml(dev, path, "raw") for dev, path in sorted(spec.volumes.items()))
    log = quoteattr(spec.console_log)
    seclabel = (
        "<seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>"
        if spec.run_as_root
        else ""
    )
    return f"""<domain type={quoteattr(spec.virt_type)}>
  <name>{domain_name(spec.uuid)}</name>
  <uuid>{escape(spec.uuid)}</uuid>
  <title>{escape(spec.name)}</title>
  <metadata>
    <labcloud:instance xmlns:labcloud="{NAMESPACE}">
      <labcloud:host>{escape(spec.host)}</labcloud:host>
      <labcloud:name>{escape(spec.name)}</labcloud:name>
    </labcloud:instance>
  </metadata>
  <memory unit='MiB'>{spec.memory_mb}</memory>
  <vcpu>{spec.vcpus}</vcpu>
  {_os_xml(spec)}
  {_features_xml(spec.virt_type)}
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices>
    {disk_xml("vda", spec.disk, "qcow2")}{volumes}
    {nics}
    <serial type='file'><source path={log} append='on'/></serial>
    <console type='file'><source path={log} append='on'/></console>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
  {seclabel}
</domain>"""


def host_of(metadata_xml: str) -> str | None:
    """The labcloud host named in a domain's metadata element, or None."""
    try:
        return ElementTree.fromstring(metadata_xml).findtext("host")
    except ElementTree.ParseError:
        return None
